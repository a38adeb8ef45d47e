//! Passive WordPress fingerprint: core, plugin and theme versions from what any visitor can
//! fetch. Core counts only from the generator meta tag, the feed generator and `?ver=` on core
//! assets (`/wp-includes/`, `/wp-admin/`); a plugin asset's `?ver=` is evidence for that plugin
//! only. Conflicting or thin evidence yields no version (`unknown`), never a guess.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use url::Url;

use super::http::Http;
use crate::observe::live::{Detected, SoftwareObservation};
use crate::spec::{Software, Version};

/// Below this confidence a version is reported as unknown.
pub const MIN_CONFIDENCE: f32 = 0.5;

/// Where a version was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    GeneratorMeta,
    FeedGenerator,
    CoreAsset,
    PluginAsset,
    Readme,
    ThemeStyle,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::GeneratorMeta => "generator meta",
            Source::FeedGenerator => "feed generator",
            Source::CoreAsset => "core asset ?ver=",
            Source::PluginAsset => "plugin asset ?ver=",
            Source::Readme => "readme.txt stable tag",
            Source::ThemeStyle => "style.css version",
        }
    }

    /// Sources that name the version outright (as opposed to asset cache-busters).
    fn strong(self) -> bool {
        !matches!(self, Source::CoreAsset | Source::PluginAsset)
    }
}

/// One piece of evidence.
pub type Evidence = (Source, String);

/// Evidence found in a page's HTML: core from the generator meta tag and core assets, and
/// per plugin slug from that plugin's assets.
#[derive(Debug, Default, PartialEq)]
pub struct PageEvidence {
    pub core: Vec<Evidence>,
    pub plugins: BTreeMap<String, Vec<Evidence>>,
}

/// Reads the evidence in an HTML page.
pub fn from_html(html: &str) -> PageEvidence {
    let mut ev = PageEvidence::default();
    for tag in tags(html, "meta") {
        let lower = tag.to_ascii_lowercase();
        if attr(&lower, "name").as_deref() == Some("generator")
            && let Some(v) = attr(tag, "content")
                .as_deref()
                .and_then(|c| c.trim().strip_prefix("WordPress "))
                .and_then(version_text)
        {
            ev.core.push((Source::GeneratorMeta, v));
        }
    }
    for link in links(html) {
        let Some(ver) = query_ver(&link) else {
            continue;
        };
        if link.contains("/wp-includes/") || link.contains("/wp-admin/") {
            ev.core.push((Source::CoreAsset, ver));
        } else if let Some(slug) = segment_after(&link, "/wp-content/plugins/") {
            ev.plugins
                .entry(slug)
                .or_default()
                .push((Source::PluginAsset, ver));
        }
    }
    ev
}

/// The version in an RSS/Atom feed's `<generator>` (`https://wordpress.org/?v=6.4.3`).
pub fn from_feed(xml: &str) -> Option<Evidence> {
    let start = xml.find("<generator")?;
    let rest = &xml[start..];
    let body = &rest[rest.find('>')? + 1..];
    let text = &body[..body.find("</generator>")?];
    let v = text.trim().split("?v=").nth(1)?;
    version_text(v).map(|v| (Source::FeedGenerator, v))
}

/// `Stable tag:` of a plugin's readme.txt.
pub fn from_readme(text: &str) -> Option<Evidence> {
    header_line(text, "stable tag").map(|v| (Source::Readme, v))
}

/// `Version:` of a theme's style.css header.
pub fn from_style(text: &str) -> Option<Evidence> {
    header_line(text, "version").map(|v| (Source::ThemeStyle, v))
}

/// Combines evidence into one [`Detected`].
pub fn decide(evidence: &[Evidence], found: bool) -> Detected {
    let mut d = Detected {
        found: found || !evidence.is_empty(),
        evidence: evidence
            .iter()
            .map(|(s, v)| format!("{} {v}", s.label()))
            .collect(),
        ..Detected::default()
    };
    let strong: Vec<&String> = evidence
        .iter()
        .filter(|(s, _)| s.strong())
        .map(|(_, v)| v)
        .collect();
    let weak: Vec<&String> = evidence
        .iter()
        .filter(|(s, _)| !s.strong())
        .map(|(_, v)| v)
        .collect();
    let (version, confidence) = if let Some(first) = strong.first() {
        if strong.iter().any(|v| v != first) {
            d.unknown_reason = Some(format!("conflicting evidence: {}", d.evidence.join(", ")));
            return d;
        }
        let agree = weak.iter().filter(|v| *v == first).count();
        let both = strong.len() > 1 || agree > 0;
        ((*first).clone(), if both { 0.95 } else { 0.8 })
    } else {
        match majority(&weak) {
            Majority::None => {
                d.unknown_reason = Some("no evidence".into());
                return d;
            }
            Majority::Tie => {
                d.unknown_reason = Some(format!("conflicting evidence: {}", d.evidence.join(", ")));
                return d;
            }
            Majority::Clear(v, n) => (v, if n >= 2 { 0.6 } else { 0.4 }),
        }
    };
    d.confidence = confidence;
    if confidence < MIN_CONFIDENCE {
        d.unknown_reason = Some(format!("low confidence ({confidence:.1})"));
    } else {
        d.version = Some(version);
    }
    d
}

enum Majority {
    None,
    Tie,
    Clear(String, usize),
}

/// The most frequent value when it is clearly ahead (more than twice the runner-up).
fn majority(values: &[&String]) -> Majority {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut ranked: Vec<(usize, &String)> = counts.into_iter().map(|(v, n)| (n, v)).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    match ranked.as_slice() {
        [] => Majority::None,
        [(n, v)] => Majority::Clear((*v).clone(), *n),
        [(n, v), (m, _), ..] if *n > 2 * m => Majority::Clear((*v).clone(), *n),
        _ => Majority::Tie,
    }
}

/// Fingerprints a WordPress site at `base`, given its home page HTML; fetches the feed and,
/// for each plugin and theme named in `want`, its readme.txt or style.css.
pub async fn observe(http: &Http, base: &Url, home: &str, want: &Software) -> SoftwareObservation {
    let page = from_html(home);
    let text = |path: String| async move {
        let url = base.join(&path).ok()?;
        let f = http.get(&url, true).await.ok()?;
        (f.page.status == 200)
            .then(|| String::from_utf8_lossy(&f.body.unwrap_or_default()).into_owned())
    };
    let feed = text("/feed/".into());
    let readmes = join_all(want.plugins.keys().map(|slug| {
        let fetch = text(format!("/wp-content/plugins/{slug}/readme.txt"));
        async move { (slug.clone(), fetch.await) }
    }));
    let styles = join_all(want.themes.keys().map(|slug| {
        let fetch = text(format!("/wp-content/themes/{slug}/style.css"));
        async move { (slug.clone(), fetch.await) }
    }));
    let (feed, readmes, styles) = tokio::join!(feed, readmes, styles);
    let mut core = page.core.clone();
    core.extend(feed.as_deref().and_then(from_feed));
    let plugins = readmes
        .into_iter()
        .map(|(slug, readme)| {
            let mut ev = page.plugins.get(&slug).cloned().unwrap_or_default();
            ev.extend(readme.as_deref().and_then(from_readme));
            let found = readme.is_some();
            (slug, decide(&ev, found))
        })
        .collect();
    let themes = styles
        .into_iter()
        .map(|(slug, style)| {
            let ev: Vec<Evidence> = style.as_deref().and_then(from_style).into_iter().collect();
            (slug, decide(&ev, style.is_some()))
        })
        .collect();
    SoftwareObservation {
        core: decide(&core, false),
        plugins,
        themes,
        source: None,
    }
}

/// The text of each `<name ...>` tag (without the brackets).
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find(&open) {
        let start = at + i + open.len();
        let Some(end) = lower[start..].find('>') else {
            break;
        };
        out.push(&html[start..start + end]);
        at = start + end;
    }
    out
}

/// The value of attribute `name` in a tag's text (quoted with `"` or `'`, or bare).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find(name) {
        let pos = at + i;
        at = pos + name.len();
        let before_ok = pos == 0 || lower.as_bytes()[pos - 1].is_ascii_whitespace();
        let rest = tag[at..].trim_start();
        let Some(rest) = rest.strip_prefix('=').filter(|_| before_ok) else {
            continue;
        };
        let rest = rest.trim_start();
        return Some(match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default().to_owned(),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or_default()
                .to_owned(),
        });
    }
    None
}

/// Every `src=` and `href=` value in the page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["src", "href"] {
        let needle = format!("{name}=");
        let mut at = 0;
        while let Some(i) = html[at..].find(&needle) {
            let start = at + i + needle.len();
            at = start;
            let rest = &html[start..];
            if let Some(q @ ('"' | '\'')) = rest.chars().next()
                && let Some(v) = rest[1..].split(q).next()
            {
                out.push(v.replace("&amp;", "&").replace("&#038;", "&"));
            }
        }
    }
    out
}

fn query_ver(link: &str) -> Option<String> {
    let query = link.split_once('?')?.1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("ver="))
        .and_then(version_text)
}

fn segment_after(link: &str, prefix: &str) -> Option<String> {
    let rest = &link[link.find(prefix)? + prefix.len()..];
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| slug.to_owned())
}

/// `Key: value` header lines of readme.txt / style.css (case-insensitive key).
fn header_line(text: &str, key: &str) -> Option<String> {
    text.lines().take(200).find_map(|line| {
        let line = line.trim().trim_start_matches(['*', ' ']);
        let (k, v) = line.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(key))
            .then(|| version_text(v.trim()))
            .flatten()
    })
}

/// The text when it is a version (`6.4.3`), not `trunk` or junk.
fn version_text(s: &str) -> Option<String> {
    let v = s.trim();
    v.parse::<Version>().ok().map(|_| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = r#"<!doctype html><html><head>
<meta name="generator" content="WordPress 6.4.3" />
<link rel='stylesheet' id='wp-block-library-css' href='https://s.test/wp-includes/css/dist/block-library/style.min.css?ver=6.4.3' media='all' />
<script src="https://s.test/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel='stylesheet' href='https://s.test/wp-content/plugins/woocommerce/assets/css/woocommerce.css?ver=8.5.2' />
<script src='https://s.test/wp-content/plugins/woocommerce/assets/js/frontend/cart.min.js?ver=8.5.2&amp;x=1'></script>
</head></html>"#;

    #[test]
    fn generator_meta_wins_and_plugin_assets_stay_with_their_plugin() {
        let ev = from_html(HOME);
        let core = decide(&ev.core, false);
        assert_eq!(core.version.as_deref(), Some("6.4.3"));
        assert!(core.confidence >= 0.9);
        // The plugin's 8.5.2 never counts for core.
        assert!(!ev.core.iter().any(|(_, v)| v == "8.5.2"));
        let wc = decide(&ev.plugins["woocommerce"], false);
        assert_eq!(wc.version.as_deref(), Some("8.5.2"));
        assert!((wc.confidence - 0.6).abs() < 1e-6);
    }

    #[test]
    fn generator_and_feed_disagreeing_is_unknown() {
        let mut ev = from_html(HOME).core;
        ev.extend(from_feed(
            "<rss><channel><generator>https://wordpress.org/?v=6.4.2</generator></channel></rss>",
        ));
        let d = decide(&ev, false);
        assert_eq!(d.version, None);
        assert!(
            d.unknown_reason
                .unwrap()
                .starts_with("conflicting evidence")
        );
    }

    #[test]
    fn assets_alone_need_a_clear_majority() {
        let html = r#"<script src="/wp-includes/js/a.js?ver=6.1.9"></script>
<script src="/wp-includes/js/jquery/jquery.js?ver=3.6.1"></script>"#;
        let d = decide(&from_html(html).core, false);
        assert_eq!(d.version, None, "one each: a tie");
        let html = r#"<link href="/wp-includes/css/a.css?ver=6.1.9"><link href="/wp-admin/b.css?ver=6.1.9">
<script src="/wp-includes/js/jquery/jquery.js?ver=3.6.1"></script>"#;
        let d = decide(&from_html(html).core, false);
        assert_eq!(d.version, None, "2 against 1 is not clear");
        let html = r#"<link href="/wp-includes/a.css?ver=6.1.9"><link href="/wp-includes/b.css?ver=6.1.9"><link href="/wp-includes/c.css?ver=6.1.9">"#;
        let d = decide(&from_html(html).core, false);
        assert_eq!(d.version.as_deref(), Some("6.1.9"));
        let d = decide(
            &from_html(r#"<link href="/wp-includes/a.css?ver=6.1.9">"#).core,
            false,
        );
        assert!(d.version.is_none() && d.unknown_reason.unwrap().contains("low confidence"));
    }

    #[test]
    fn readme_and_style_headers() {
        let readme = "=== Wordfence ===\nContributors: x\nStable tag: 7.11.1\nLicense: GPL\n";
        assert_eq!(from_readme(readme), Some((Source::Readme, "7.11.1".into())));
        assert_eq!(from_readme("Stable tag: trunk\n"), None);
        let style = "/*\nTheme Name: Storefront\nVersion: 4.5.4\n*/";
        assert_eq!(
            from_style(style),
            Some((Source::ThemeStyle, "4.5.4".into()))
        );
        let d = decide(
            &[
                (Source::Readme, "7.11.1".into()),
                (Source::PluginAsset, "7.10.0".into()),
            ],
            true,
        );
        assert_eq!(
            d.version.as_deref(),
            Some("7.11.1"),
            "readme names the version"
        );
    }

    #[test]
    fn nothing_found_is_unknown_not_absent() {
        let d = decide(&[], false);
        assert!(!d.found && d.version.is_none());
        assert_eq!(d.unknown_reason.as_deref(), Some("no evidence"));
    }
}
