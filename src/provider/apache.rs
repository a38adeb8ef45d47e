//! The Apache provider: owns one include file per site, meant to be included (with
//! `IncludeOptional`) inside the site's `<VirtualHost>` blocks. It holds
//! `Header always set NAME "VALUE"` lines (mod_headers) and, when the site wants
//! `http://host/` redirected to https, a mod_rewrite rule guarded by `%{HTTPS} !=on`, so the
//! same file can be included in the http and the https virtual host without a loop.
//!
//! The line syntax is shared with the `.htaccess` provider (`htaccess.rs`), which writes the
//! same lines inside a marked block.
//!
//! # Caveats
//! - A value passes two parsers: Apache's config reader (`\"` and `\\` inside double quotes)
//!   and mod_headers' format string (`\\`, `\n`, `\t` and `%` sequences). Both are escaped.
//!   Apache expands `${NAME}` from its environment anywhere in a config line and has no escape
//!   for it, so a value containing `${` is refused (proposed) rather than written wrongly.
//! - `Header always set` fills the table Apache sends on every response; a header the
//!   application sends itself may then appear twice. siteward's verification sees that.
//! - A header that Apache sends from elsewhere cannot be removed by this file; such changes are
//!   reported as not applicable (the advice shows the `Header unset` lines to add by hand).

use std::fmt::Write;

use super::desired::{self, DesiredHeader};
use super::nginx::{redirect, upgrade_source};
use super::{ServerConfig, View};
use crate::plan::{Action, Change, Resource};
use crate::report::escape::fenced;
use crate::spec::{Redirect, Site};

/// Default `test_command`.
const TEST: &[&str] = &["apachectl", "-t"];
/// Default `reload_command`.
const RELOAD: &[&str] = &["apachectl", "-k", "graceful"];

/// The line that marks the managed https redirect (read back by [`view_lines`]).
const HTTPS_COND: &str = "RewriteCond %{HTTPS} !=on";

/// The Apache include kind.
pub struct Apache;

impl ServerConfig for Apache {
    fn name(&self) -> &'static str {
        "apache"
    }

    fn default_commands(
        &self,
    ) -> (
        Option<&'static [&'static str]>,
        Option<&'static [&'static str]>,
    ) {
        (Some(TEST), Some(RELOAD))
    }

    fn render(
        &self,
        site: &Site,
        headers: &[DesiredHeader],
        reveal: bool,
    ) -> Result<String, String> {
        let mut text = super::managed_line(site);
        let (header_lines, rewrite_lines) = lines(site, headers, reveal)?;
        text.push_str(&header_lines);
        text.push_str(&rewrite_lines);
        Ok(text)
    }

    fn view(&self, site: &Site, current: &str) -> Result<View, String> {
        Ok(view_lines(site, current))
    }

    fn can_apply(&self, site: &Site, change: &Change) -> Result<(), String> {
        can_apply(site, change, "in the site's `<VirtualHost>`")
    }

    fn advice(&self, changes: &[Change]) -> String {
        let out = advice_lines(changes);
        if out.is_empty() {
            return out;
        }
        format!(
            "Apache, inside the site's `<VirtualHost>` (needs `mod_headers`, and `mod_rewrite` \
             for redirects):\n\n{}",
            fenced(&out, "apache")
        )
    }
}

/// The header lines and the redirect lines of the desired state (shared with `.htaccess`).
/// `reveal` writes secret values; otherwise they appear as digests.
pub(super) fn lines(
    site: &Site,
    headers: &[DesiredHeader],
    reveal: bool,
) -> Result<(String, String), String> {
    let mut text = String::new();
    for h in headers {
        let value = if reveal { h.value.clone() } else { h.shown() };
        text.push_str(&header_line(h.name.as_str(), &value)?);
    }
    let rewrite = redirect(site).map(redirect_lines).transpose()?;
    Ok((text, rewrite.unwrap_or_default()))
}

/// Whether an `add` or `change` can be written in Apache syntax (shared with `.htaccess`);
/// `place` says where a redirect siteward cannot own belongs.
pub(super) fn can_apply(site: &Site, change: &Change, place: &str) -> Result<(), String> {
    match change.resource {
        Resource::Header => match change.desired.as_deref() {
            Some(v) => header_line(&change.key, v).map(drop),
            None => Ok(()),
        },
        _ if redirect(site).is_some_and(|r| r.from.as_str() == change.key) => {
            redirect(site).map_or(Ok(()), |r| redirect_lines(r).map(drop))
        }
        _ => Err(format!(
            "siteward's Apache lines manage only the redirect from `{}` to https; set up `{}` \
             {place}",
            upgrade_source(site),
            change.key
        )),
    }
}

/// `Header always set NAME "VALUE"` with the value escaped for Apache and mod_headers.
pub(super) fn header_line(name: &str, value: &str) -> Result<String, String> {
    Ok(format!(
        "Header always set {name} {}\n",
        quoted(value, name)?
    ))
}

/// A mod_headers value inside an Apache double-quoted argument: `%` doubled (mod_headers
/// format), `\` doubled for mod_headers and both then escaped again for the config reader,
/// `"` escaped; `${` refused (Apache expands it and has no escape).
fn quoted(value: &str, what: &str) -> Result<String, String> {
    if value.contains("${") {
        return Err(format!(
            "`{what}` contains `${{`, which Apache expands as a variable in its config and \
             cannot escape; remove it or manage this value outside siteward"
        ));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// Reverses [`header_line`]; `None` when the line is not one.
pub(super) fn parse_header_line(line: &str) -> Option<(&str, String)> {
    let rest = line.trim().strip_prefix("Header always set ")?;
    let (name, rest) = rest.trim_start().split_once(' ')?;
    let mut chars = rest.trim_start().strip_prefix('"')?.chars();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                // `\\\\` in the file is one backslash of the value.
                '\\' => {
                    if (chars.next()?, chars.next()?) != ('\\', '\\') {
                        return None;
                    }
                    value.push('\\');
                }
                c => value.push(c),
            },
            '%' => {
                chars.next()?;
                value.push('%');
            }
            '"' => return Some((name, value)),
            c => value.push(c),
        }
    }
    None
}

/// The mod_rewrite lines of the site's http→https redirect: to the root of the same host the
/// request's path and query are kept; any other target is written literally.
pub(super) fn redirect_lines(r: &Redirect) -> Result<String, String> {
    let (from, to) = (r.from.url(), r.to.url());
    let upgrade = to.host_str() == from.host_str()
        && to.path() == "/"
        && to.query().is_none()
        && to.fragment().is_none();
    let rule = if upgrade {
        let port = to.port().map(|p| format!(":{p}")).unwrap_or_default();
        let host = to.host_str().unwrap_or_default();
        format!("https://{host}{port}%{{REQUEST_URI}} [R={},L]", r.status)
    } else {
        format!(
            "{} [R={},L,NE,QSD]",
            rewrite_target(r.to.as_str())?,
            r.status
        )
    };
    Ok(format!(
        "RewriteEngine On\n{HTTPS_COND}\nRewriteRule ^ {rule}\n"
    ))
}

/// A literal mod_rewrite substitution: `$` and `%` escaped with `\`; a URL with whitespace,
/// quotes or backslashes (which a parsed URL never has) is refused.
fn rewrite_target(url: &str) -> Result<String, String> {
    if url
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(format!(
            "redirect target `{url}` cannot be written as one Apache argument"
        ));
    }
    Ok(url.replace('$', r"\$").replace('%', r"\%"))
}

/// The text with secret values as digests.
pub(super) fn public_lines(site: &Site, text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match parse_header_line(line) {
            Some((name, value)) if desired::is_secret(site, name) => {
                header_line(name, &desired::redacted(&value)).unwrap_or_else(|_| line.to_owned())
            }
            _ => line.to_owned(),
        })
        .collect()
}

/// What Apache lines `text` set: header names (lowercased) and whether they redirect.
pub(super) fn view_lines(site: &Site, text: &str) -> View {
    let mut view = View {
        text: Some(public_lines(site, text)),
        ..View::default()
    };
    for line in text.lines() {
        if let Some((name, _)) = parse_header_line(line) {
            view.headers.insert(name.to_ascii_lowercase());
        } else if line.trim() == HTTPS_COND {
            view.redirects.insert(upgrade_source(site));
        }
    }
    view
}

/// The Apache lines an operator would write for `changes` (shared with `.htaccess`).
pub(super) fn advice_lines(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        match (c.resource, c.action, c.desired.as_deref()) {
            (Resource::Header, Action::Remove, _) | (Resource::Header, _, None) => {
                let _ = writeln!(
                    out,
                    "# remove every `Header ... {0}` line that sets it, or unset it:\n\
                     Header always unset {0}\nHeader unset {0}",
                    c.key
                );
            }
            (Resource::Header, _, Some(v)) => match header_line(&c.key, v) {
                Ok(line) => out.push_str(&line),
                Err(why) => {
                    let _ = writeln!(out, "# {why}");
                }
            },
            (Resource::Redirect, _, Some(want)) => {
                // The diff writes a desired redirect as `STATUS TARGET`.
                let (status, target) = want.split_once(' ').unwrap_or(("301", want));
                match rewrite_target(target) {
                    Ok(t) => {
                        let _ = writeln!(
                            out,
                            "# in the configuration answering {}:\nRewriteEngine On\n\
                             RewriteRule ^ {t} [R={status},L,NE]",
                            c.key
                        );
                    }
                    Err(why) => {
                        let _ = writeln!(out, "# {why}");
                    }
                }
            }
            (Resource::Redirect, _, None) => {
                let _ = writeln!(
                    out,
                    "# remove the `Redirect`/`RewriteRule` that redirects {}",
                    c.key
                );
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_for_both_parsers_and_variables_refused() {
        assert_eq!(
            quoted(r#"a "b" \c 100%"#, "x").unwrap(),
            r#""a \"b\" \\\\c 100%%""#
        );
        assert_eq!(quoted(r"a\nb", "x").unwrap(), r#""a\\\\nb""#);
        assert_eq!(
            quoted("x; $(id) `id` %{HOME}e", "x").unwrap(),
            r#""x; $(id) `id` %%{HOME}e""#
        );
        let err = quoted("${HOME}", "X-Home").unwrap_err();
        assert!(err.contains("`X-Home` contains `${`"), "{err}");
    }

    #[test]
    fn header_lines_round_trip() {
        for v in [
            r#"a "q" \ b"#,
            "plain",
            "default-src 'self'; img-src *",
            r"\\",
            r"\",
            "50% off %{x}e",
            r#"\""#,
            "$(touch x); `y`",
        ] {
            let line = header_line("X-T", v).unwrap();
            assert_eq!(
                parse_header_line(&line),
                Some(("X-T", v.to_owned())),
                "{line}"
            );
        }
        assert_eq!(parse_header_line("# comment"), None);
        assert_eq!(parse_header_line("Header always set X \"open"), None);
        assert_eq!(parse_header_line("Header set X \"v\""), None);
    }

    fn redirect(from: &str, to: &str, status: u16) -> Redirect {
        Redirect {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
            status,
        }
    }

    #[test]
    fn the_upgrade_keeps_path_and_query_and_other_targets_are_literal() {
        assert_eq!(
            redirect_lines(&redirect("http://a.test/", "https://a.test:20443/", 308)).unwrap(),
            "RewriteEngine On\nRewriteCond %{HTTPS} !=on\n\
             RewriteRule ^ https://a.test:20443%{REQUEST_URI} [R=308,L]\n"
        );
        assert_eq!(
            redirect_lines(&redirect("http://a.test/", "https://b.test/x%20y?$1", 301)).unwrap(),
            "RewriteEngine On\nRewriteCond %{HTTPS} !=on\n\
             RewriteRule ^ https://b.test/x\\%20y?\\$1 [R=301,L,NE,QSD]\n"
        );
    }
}
