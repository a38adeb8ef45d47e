//! The nginx provider: owns one include file per site, meant to be included inside the site's
//! `server {}` block. It holds `add_header NAME "VALUE" always;` lines and, when the site wants
//! `http://host/` redirected to https, an `if ($scheme = http) { return ...; }` block.
//!
//! # Caveats
//! - nginx expands `$` in `add_header` values and `return` targets and has no escape for it, so
//!   a value or target containing `$` is refused rather than written wrongly.
//! - `add_header` in a `location` block replaces the server-level ones for that location: the
//!   include only governs locations without their own `add_header`.
//! - A header that nginx sends from elsewhere (the main config, the application) cannot be
//!   removed by this file; such changes are reported as not applicable.

use std::fmt::Write;

use super::desired::{self, DesiredHeader};
use super::{ServerConfig, View};
use crate::plan::{Action, Change, Resource};
use crate::spec::{Redirect, Site};

/// Default `test_command`.
const TEST: &[&str] = &["nginx", "-t"];
/// Default `reload_command`.
const RELOAD: &[&str] = &["nginx", "-s", "reload"];

/// The nginx kind.
pub struct Nginx;

impl ServerConfig for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
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
        render(site, headers, reveal)
    }

    fn view(&self, site: &Site, current: &str) -> Result<View, String> {
        Ok(view(site, current))
    }

    fn can_apply(&self, site: &Site, change: &Change) -> Result<(), String> {
        match change.resource {
            Resource::Header => match change.desired.as_deref() {
                Some(v) => header_line(&change.key, v).map(drop),
                None => Ok(()),
            },
            _ if redirect(site).is_some_and(|r| r.from.as_str() == change.key) => {
                redirect(site).map_or(Ok(()), |r| redirect_target(r).map(drop))
            }
            _ => Err(format!(
                "nginx manages only the redirect from `{}` to https inside the site's server \
                 block; set up `{}` in the server config",
                upgrade_source(site),
                change.key
            )),
        }
    }

    fn advice(&self, changes: &[Change]) -> String {
        let mut out = String::new();
        for c in changes {
            match (c.resource, c.action, c.desired.as_deref()) {
                (Resource::Header, Action::Remove, _) | (Resource::Header, _, None) => {
                    let _ = writeln!(
                        out,
                        "# remove every `add_header {0}` line; for a backend's header: \
                         proxy_hide_header {0}; / fastcgi_hide_header {0};",
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
                    let _ = writeln!(
                        out,
                        "# in the server block answering {}:\nreturn {status} {target};",
                        c.key
                    );
                }
                (Resource::Redirect, _, None) => {
                    let _ = writeln!(
                        out,
                        "# remove the `return` that redirects {} from its server block",
                        c.key
                    );
                }
                _ => {}
            }
        }
        if out.is_empty() {
            return out;
        }
        format!("nginx, inside the site's `server {{}}` block:\n\n```nginx\n{out}```\n")
    }
}

/// The include file text. `reveal` writes secret values; otherwise they appear as digests.
fn render(site: &Site, headers: &[DesiredHeader], reveal: bool) -> Result<String, String> {
    let mut text = super::managed_line(site);
    for h in headers {
        let value = if reveal { h.value.clone() } else { h.shown() };
        text.push_str(&header_line(h.name.as_str(), &value)?);
    }
    if let Some(r) = redirect(site) {
        text.push_str(&format!(
            "if ($scheme = http) {{\n    return {} {};\n}}\n",
            r.status,
            redirect_target(r)?
        ));
    }
    Ok(text)
}

/// `add_header NAME "VALUE" always;` with the value escaped for an nginx double-quoted string.
fn header_line(name: &str, value: &str) -> Result<String, String> {
    if name.contains('$') {
        return Err(format!(
            "header name `{name}` contains `$`, which nginx would expand as a variable"
        ));
    }
    Ok(format!(
        "add_header {name} {} always;\n",
        quoted(value, name)?
    ))
}

/// An nginx double-quoted string: `\` and `"` escaped, `$` refused (nginx has no escape).
fn quoted(value: &str, what: &str) -> Result<String, String> {
    if value.contains('$') {
        return Err(format!(
            "`{what}` contains `$`, which nginx would expand as a variable and cannot escape; \
             remove it or manage this value outside siteward"
        ));
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// Reverses [`quoted`] for one `add_header` line; `None` when the line is not one.
fn parse_header_line(line: &str) -> Option<(&str, String)> {
    let rest = line.trim().strip_prefix("add_header ")?;
    let (name, rest) = rest.trim_start().split_once(' ')?;
    let mut chars = rest.trim_start().strip_prefix('"')?.chars();
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '"' => return Some((name, value)),
            c => value.push(c),
        }
    }
    None
}

/// The provider's own view of an existing include: the file with secret values as digests.
fn public_view(site: &Site, current: &str) -> String {
    current
        .lines()
        .map(|line| match parse_header_line(line) {
            Some((name, value)) if desired::is_secret(site, name) => {
                header_line(name, &desired::redacted(&value))
                    .unwrap_or_else(|_| format!("{line}\n"))
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

/// What the include `text` sets: header names (lowercased) and whether it redirects.
fn view(site: &Site, text: &str) -> View {
    let mut view = View {
        text: Some(public_view(site, text)),
        ..View::default()
    };
    for line in text.lines() {
        if let Some((name, _)) = parse_header_line(line) {
            view.headers.insert(name.to_ascii_lowercase());
        } else if line.trim() == "if ($scheme = http) {" {
            view.redirects.insert(upgrade_source(site));
        }
    }
    view
}

/// The one redirect source an include can serve: `http://<site host>/` (Apache's too).
pub(super) fn upgrade_source(site: &Site) -> String {
    format!("http://{}/", site.url.host())
}

/// The one redirect this include can serve: from `http://<site host>/` to an https URL (the
/// one Apache's lines serve too).
pub(super) fn redirect(site: &Site) -> Option<&Redirect> {
    site.redirects.iter().find(|r| can_serve(site, r))
}

/// Whether a redirect fits inside the site's own `server {}` block.
fn can_serve(site: &Site, r: &Redirect) -> bool {
    let from = r.from.url();
    from.scheme() == "http"
        && from.host_str() == Some(site.url.host())
        && from.path() == "/"
        && from.query().is_none()
        && r.to.is_https()
}

/// `https://$host[:PORT]$request_uri` for an upgrade to the root of the same host (the
/// request's path and query are kept); the quoted target else.
fn redirect_target(r: &Redirect) -> Result<String, String> {
    let (from, to) = (r.from.url(), r.to.url());
    let upgrade = to.host_str() == from.host_str()
        && to.path() == "/"
        && to.query().is_none()
        && to.fragment().is_none();
    if upgrade {
        let port = to.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(format!("https://$host{port}$request_uri"))
    } else {
        quoted(r.to.as_str(), "redirect.to")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_dollar_refused() {
        assert_eq!(quoted(r#"a "b" \c"#, "x").unwrap(), r#""a \"b\" \\c""#);
        assert_eq!(quoted(r"a\nb", "x").unwrap(), r#""a\\nb""#);
        assert_eq!(quoted("x; }", "x").unwrap(), r#""x; }""#);
        let err = quoted("$remote_addr", "X-Ip").unwrap_err();
        assert!(err.contains("`X-Ip` contains `$`"), "{err}");
    }

    #[test]
    fn header_lines_round_trip() {
        for v in [
            r#"a "q" \ b"#,
            "plain",
            "default-src 'self'; img-src *",
            r"\\",
        ] {
            let line = header_line("X-T", v).unwrap();
            assert_eq!(
                parse_header_line(&line),
                Some(("X-T", v.to_owned())),
                "{line}"
            );
        }
        assert_eq!(parse_header_line("# comment"), None);
        assert_eq!(parse_header_line("add_header X \"unterminated"), None);
    }

    #[test]
    fn upgrade_to_another_port_keeps_the_request_path() {
        let to = |t: &str| Redirect {
            from: "http://a.test/".parse().unwrap(),
            to: t.parse().unwrap(),
            status: 301,
        };
        assert_eq!(
            redirect_target(&to("https://a.test:20443/")).unwrap(),
            "https://$host:20443$request_uri"
        );
        assert_eq!(
            redirect_target(&to("https://a.test/")).unwrap(),
            "https://$host$request_uri"
        );
        assert_eq!(
            redirect_target(&to("https://a.test/x")).unwrap(),
            "\"https://a.test/x\""
        );
    }
}
