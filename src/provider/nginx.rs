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

use super::desired::{self, DesiredHeader};
use crate::spec::{Redirect, Site};

/// Default `test_command`.
pub const TEST: &[&str] = &["nginx", "-t"];
/// Default `reload_command`.
pub const RELOAD: &[&str] = &["nginx", "-s", "reload"];

/// The include file text. `reveal` writes secret values; otherwise they appear as digests.
pub fn render(site: &Site, headers: &[DesiredHeader], reveal: bool) -> Result<String, String> {
    let mut text = format!("# managed by siteward — do not edit; site {}\n", site.name);
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
pub fn quoted(value: &str, what: &str) -> Result<String, String> {
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
pub fn public_view(site: &Site, current: &str) -> String {
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

/// Whether the include `text` sets header `name` (case-insensitive).
pub fn sets_header(text: &str, name: &str) -> bool {
    text.lines()
        .filter_map(parse_header_line)
        .any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Whether the include `text` holds a redirect block.
pub fn has_redirect(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "if ($scheme = http) {")
}

/// The one redirect this include can serve: from `http://<site host>/` to an https URL.
pub fn redirect(site: &Site) -> Option<&Redirect> {
    site.redirects.iter().find(|r| can_serve(site, r))
}

/// Whether a redirect fits inside the site's own `server {}` block.
pub fn can_serve(site: &Site, r: &Redirect) -> bool {
    let from = r.from.url();
    from.scheme() == "http"
        && from.host_str() == Some(site.url.host())
        && from.path() == "/"
        && from.query().is_none()
        && r.to.is_https()
}

/// `https://$host$request_uri` for a plain upgrade of the same host; the quoted target else.
fn redirect_target(r: &Redirect) -> Result<String, String> {
    let (from, to) = (r.from.url(), r.to.url());
    let upgrade = to.host_str() == from.host_str()
        && to.port().is_none()
        && to.path() == "/"
        && to.query().is_none()
        && to.fragment().is_none();
    if upgrade {
        Ok("https://$host$request_uri".to_owned())
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
    fn sets_header_ignores_case() {
        let text = "# x\nadd_header X-Frame-Options \"DENY\" always;\n";
        assert!(sets_header(text, "x-frame-options"));
        assert!(!sets_header(text, "x-content-type-options"));
    }
}
