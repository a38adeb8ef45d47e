//! The headers-file provider: a Netlify / Cloudflare Pages style `_headers` file for static
//! hosting. siteward owns the lines between `# siteward:begin` and `# siteward:end` (a `/*`
//! block of `  Name: value` lines) and keeps every other line of the file byte for byte.

use std::fmt::Write;

use super::block::{Markers, Place};
use super::desired::{self, DesiredHeader};
use super::{ServerConfig, View};
use crate::plan::{Action, Change, Resource};
use crate::spec::Site;

/// First line of the owned block.
pub const BEGIN: &str = "# siteward:begin";
/// Last line of the owned block.
pub const END: &str = "# siteward:end";

/// The `_headers` kind.
pub struct HeadersFile;

impl ServerConfig for HeadersFile {
    fn name(&self) -> &'static str {
        "headers-file"
    }

    fn render(
        &self,
        site: &Site,
        headers: &[DesiredHeader],
        reveal: bool,
    ) -> Result<String, String> {
        Ok(render(site, headers, reveal))
    }

    fn splice(&self, current: Option<&str>, owned: &str) -> Result<String, String> {
        splice(current.unwrap_or(""), owned)
    }

    fn view(&self, site: &Site, current: &str) -> Result<View, String> {
        view(site, current)
    }

    fn can_apply(&self, _site: &Site, change: &Change) -> Result<(), String> {
        match change.resource {
            Resource::Header => Ok(()),
            _ => Err("a `_headers` file cannot redirect; use the host's `_redirects` file".into()),
        }
    }

    /// Without a deploy command siteward cannot know when the host publishes the file.
    fn verifiable(&self, has_reload: bool) -> bool {
        has_reload
    }

    fn advice(&self, changes: &[Change]) -> String {
        let mut out = String::new();
        for c in changes.iter().filter(|c| c.resource == Resource::Header) {
            match (c.action, c.desired.as_deref()) {
                (Action::Remove, _) | (_, None) => {
                    let _ = writeln!(out, "  ! {}", c.key);
                }
                (_, Some(v)) => {
                    let _ = writeln!(out, "  {}: {v}", c.key);
                }
            }
        }
        if out.is_empty() {
            return out;
        }
        format!(
            "Static hosting (Netlify / Cloudflare Pages `_headers` file):\n\n```\n/*\n{out}```\n"
        )
    }
}

/// The owned block. `reveal` writes secret values; otherwise they appear as digests.
fn render(site: &Site, headers: &[DesiredHeader], reveal: bool) -> String {
    let mut block = format!(
        "{BEGIN}\n# managed by siteward — do not edit between these markers; site {}\n",
        site.name
    );
    if !headers.is_empty() {
        block.push_str("/*\n");
        for h in headers {
            let value = if reveal { h.value.clone() } else { h.shown() };
            block.push_str(&format!("  {}: {value}\n", h.name));
        }
    }
    block.push_str(END);
    block.push('\n');
    block
}

/// The markers of the owned block.
const MARKERS: Markers = Markers {
    begin: BEGIN,
    end: END,
};

/// `current` with the owned block replaced by `block` (appended when there is none).
fn splice(current: &str, block: &str) -> Result<String, String> {
    MARKERS.splice(current, block, Place::End)
}

/// The provider's own view: the owned block, secret values as digests (`None` without one).
fn public_view(site: &Site, current: &str) -> Result<Option<String>, String> {
    let Some(block) = MARKERS.block(current)? else {
        return Ok(None);
    };
    let view = block
        .split_inclusive('\n')
        .map(|line| match header_line(line) {
            Some((name, value)) if desired::is_secret(site, name) => {
                format!("  {name}: {}\n", desired::redacted(value))
            }
            _ => line.to_owned(),
        })
        .collect();
    Ok(Some(view))
}

/// `  Name: value` → `(Name, value)`.
fn header_line(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix([' ', '\t'])?.trim();
    let (name, value) = body.split_once(':')?;
    Some((name.trim(), value.trim()))
}

/// What the owned block of `current` sets (an empty view without a block).
fn view(site: &Site, current: &str) -> Result<View, String> {
    let Some(text) = public_view(site, current)? else {
        return Ok(View::default());
    };
    let headers = text
        .lines()
        .filter_map(header_line)
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    Ok(View {
        text: Some(text),
        headers,
        ..View::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "# siteward:begin\n/*\n  X-A: 1\n# siteward:end\n";

    #[test]
    fn appends_to_a_file_without_block_keeping_it() {
        assert_eq!(splice("", BLOCK).unwrap(), BLOCK);
        let foreign = "/assets/*\n  Cache-Control: max-age=31536000";
        assert_eq!(
            splice(foreign, BLOCK).unwrap(),
            format!("{foreign}\n\n{BLOCK}")
        );
    }

    #[test]
    fn replaces_only_the_block() {
        let text = format!("# mine\n/a\n  X: y\n\n{BLOCK}\n/b\n  Z: w\n");
        let new = "# siteward:begin\n# siteward:end\n";
        assert_eq!(
            splice(&text, new).unwrap(),
            "# mine\n/a\n  X: y\n\n# siteward:begin\n# siteward:end\n\n/b\n  Z: w\n"
        );
        // Idempotent: splicing the same block again changes nothing.
        let once = splice(&text, BLOCK).unwrap();
        assert_eq!(once, text);
    }

    #[test]
    fn broken_markers_are_refused() {
        for bad in [
            "# siteward:begin\n/*\n",
            "# siteward:end\n",
            "# siteward:begin\n# siteward:end\n# siteward:begin\n# siteward:end\n",
            "# siteward:begin\n# siteward:begin\n# siteward:end\n",
        ] {
            assert!(splice(bad, BLOCK).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn finds_headers_in_a_view() {
        let (state, problems) = crate::load::load_sources(&[crate::load::Source {
            path: "sites/s.yaml".into(),
            text: "name: s\nurl: https://s/\n".into(),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        let site = state.sites.into_values().next().expect("site");
        let v = view(&site, BLOCK).unwrap();
        assert!(v.headers.contains("x-a") && v.headers.len() == 1, "{v:?}");
        assert!(view(&site, "/*\n  X-B: 1\n").unwrap().headers.is_empty());
    }
}
