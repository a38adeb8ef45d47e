//! The frame every report page shares: the document head (language, charset, an inline style
//! sheet, an empty icon so that no browser asks a server for one), the header with the links
//! between pages, and safe file names for site pages.

use std::fmt::Write as _;

use crate::report::escape::html;

/// The style sheet, inline in every page: the report works from a folder or an archive, offline.
/// State is never shown by colour alone: every coloured cell also carries its word.
const STYLE: &str = r#"
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #ffffff; --band: #f6f8fa;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 90rem; line-height: 1.4; }
header.top { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap;
  border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
header.top p { color: var(--muted); margin: 0; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: var(--band); position: sticky; top: 0; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: inherit; }
th[aria-sort="ascending"] button::after { content: " \25B2"; }
th[aria-sort="descending"] button::after { content: " \25BC"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { font-weight: 600; }
.in_sync, .healthy, .applied, .resolved { color: var(--ok); }
.drift, .degraded, .proposed, .held, .open { color: var(--warn); }
.unknown, .skipped { color: var(--muted); }
.down, .failed, .below { color: var(--bad); }
.label { display: inline-block; border: 1px solid var(--line); border-radius: 0.6rem;
  padding: 0 0.4rem; margin: 0 0.2rem 0.1rem 0; font-size: 0.8rem; }
.filters { margin: 0.5rem 0 1rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
.filters input { font: inherit; padding: 0.2rem 0.4rem; min-width: 16rem; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; } figcaption { color: var(--muted); font-size: 0.85rem; max-width: 50rem; }
svg.chart { max-width: 100%; height: auto; font-size: 12px; color: var(--info); }
svg.chart text { fill: var(--fg); }
svg.chart .axis { fill: var(--muted); }
svg.chart .bar.below { color: var(--bad); }
svg.chart .minimum { stroke: var(--fg); stroke-dasharray: 2 2; }
svg.chart .baseline { stroke: var(--muted); }
svg.chart .hatch-bg { fill: #ffffff; } svg.chart .hatch-line { stroke: currentColor; stroke-width: 3; }
svg.chart .dots-bg { fill: #ffffff; } svg.chart .dots-dot { fill: currentColor; }
svg.chart .s1 { color: #8250df; } svg.chart .s1 .hatch-line { stroke: #8250df; }
pre.diff { background: var(--band); padding: 0.75rem; overflow-x: auto; font-size: 0.85rem; }
pre.diff .add { color: var(--ok); } pre.diff .del { color: var(--bad); }
.muted { color: var(--muted); }
a { color: var(--info); }
"#;

/// A whole page: `title` (plain text, escaped here), `body` (HTML), and `root`, the relative
/// path from the page to the report's root (`""` or `"../"`) for the link back to the
/// overview. `script` is inline JavaScript of siteward's own, if the page needs any.
pub fn page(title: &str, generated: &str, root: &str, body: &str, script: Option<&str>) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"siteward {}\">\n\
<link rel=\"icon\" href=\"data:,\">\n<title>{} \u{2014} siteward report</title>\n<style>{STYLE}</style>\n\
</head>\n<body>\n<header class=\"top\"><h1>{}</h1><p>Generated {} by siteward. \
<a href=\"{root}index.html\">Fleet overview</a></p></header>\n<main>\n{body}</main>\n",
        env!("CARGO_PKG_VERSION"),
        html(title),
        html(title),
        html(generated)
    );
    if let Some(script) = script {
        let _ = writeln!(out, "<script>{script}</script>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The file name of a site's page, under `sites/`: the name's letters, digits, `.`, `-` and
/// `_` (others become `_`), never starting with a dot, plus `.html`. Site names are DNS-like
/// already; this keeps any name from leaving the folder or hiding, whatever the input.
pub fn site_file(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        safe.insert(0, '_');
    }
    safe.push_str(".html");
    safe
}

/// Whether `file` is a name [`site_file`] gives: the page of some site.
pub fn is_site_file(file: &str) -> bool {
    file.strip_suffix(".html")
        .is_some_and(|stem| site_file(stem) == file)
}

/// A state word in a span whose class colours it (the word itself carries the meaning).
pub fn state(word: &str) -> String {
    format!("<span class=\"state {0}\">{0}</span>", html(word))
}

/// A value or an em dash for "none".
pub fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| String::from("\u{2014}"), html)
}

/// An RFC 3339 UTC time for people, `2026-11-30 20:37 UTC`, in a `<time>` element that keeps
/// the exact value; anything else escaped as it is; an em dash for none.
pub fn when(t: Option<&str>) -> String {
    let Some(t) = t else {
        return String::from("\u{2014}");
    };
    match chrono::DateTime::parse_from_rfc3339(t) {
        Ok(d) => format!(
            "<time datetime=\"{}\">{}</time>",
            html(t),
            d.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC")
        ),
        Err(_) => html(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_files_stay_in_their_folder() {
        assert_eq!(site_file("shop.example.nl"), "shop.example.nl.html");
        for bad in [
            "../../etc/passwd",
            "/abs",
            "a/b",
            "..",
            ".hidden",
            "",
            "a\\b",
            "<x>",
        ] {
            let f = site_file(bad);
            assert!(!f.contains('/') && !f.contains('\\'), "{bad} -> {f}");
            assert!(!f.starts_with('.'), "{bad} -> {f}");
            assert!(f.ends_with(".html"));
        }
        assert_eq!(site_file("../x"), "_.._x.html");
    }

    #[test]
    fn only_names_of_site_pages_are_site_files() {
        for name in ["shop.example.nl", "../x", "..", "", "A.Test"] {
            assert!(is_site_file(&site_file(name)), "{name}");
        }
        for file in [
            "../a.html",
            "a/b.html",
            ".siteward-report-pages",
            ".hidden.html",
            "Shop.html",
            "index.htm",
            "notes.txt",
        ] {
            assert!(!is_site_file(file), "{file}");
        }
    }

    #[test]
    fn times_for_people() {
        assert_eq!(
            when(Some("2026-11-30T20:37:41Z")),
            "<time datetime=\"2026-11-30T20:37:41Z\">2026-11-30 20:37 UTC</time>"
        );
        assert_eq!(when(Some("<x>")), "&lt;x&gt;");
        assert_eq!(when(None), "\u{2014}");
    }

    #[test]
    fn page_escapes_its_title_and_declares_its_language() {
        let p = page("<script>", "now", "", "", None);
        assert!(p.contains("<html lang=\"en\">"));
        assert!(!p.contains("<script>"));
        assert!(p.contains("&lt;script&gt;"));
    }
}
