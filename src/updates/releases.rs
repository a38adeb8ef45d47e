//! Release lists: which versions of core, plugins and themes exist, and when they were released.
//! Read from a JSON release list, or from a package directory of `<slug>-<version>.zip` files
//! (the `packages` source; a file's modification time is its release date there).
//!
//! Release list format:
//! `{"core": [{"version", "released", "url"}], "plugins": {"<slug>": [..]}, "themes": {..}}`;
//! `released` is `YYYY-MM-DD` or RFC 3339, `released` and `url` are optional.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::problem::Problem;
use crate::spec::Version;

/// One release of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: Version,
    pub released: Option<DateTime<Utc>>,
    pub url: Option<String>,
}

/// Every known release, by kind and slug.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Releases {
    pub core: Vec<Release>,
    pub plugins: BTreeMap<String, Vec<Release>>,
    pub themes: BTreeMap<String, Vec<Release>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(default)]
    core: Vec<RawRelease>,
    #[serde(default)]
    plugins: BTreeMap<String, Vec<RawRelease>>,
    #[serde(default)]
    themes: BTreeMap<String, Vec<RawRelease>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    version: String,
    #[serde(default)]
    released: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// Parses a JSON release list; every problem is located (`path:line:col`).
pub fn parse(path: &str, text: &str) -> Result<Releases, Vec<Problem>> {
    let at = |(line, column): (usize, usize), message: String| Problem {
        path: path.to_owned(),
        line: line.max(1),
        column: column.max(1),
        message,
    };
    let raw: RawList = serde_json::from_str(text).map_err(|e| {
        vec![at(
            (e.line(), e.column()),
            format!("not a release list ({{\"core\", \"plugins\", \"themes\"}}): {e}"),
        )]
    })?;
    let mut problems = Vec::new();
    let mut list = |items: Vec<RawRelease>| -> Vec<Release> {
        items
            .into_iter()
            .filter_map(|r| {
                let version = match r.version.parse::<Version>() {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(at(locate(text, &r.version), format!("version: {e}")));
                        return None;
                    }
                };
                let released = match r.released.as_deref().map(date) {
                    Some(Ok(t)) => Some(t),
                    Some(Err(e)) => {
                        let shown = r.released.as_deref().unwrap_or_default();
                        problems.push(at(locate(text, shown), format!("released: {e}")));
                        return None;
                    }
                    None => None,
                };
                // Shown as a link in proposals: only http(s), in its normalised (escaped) form.
                let url = match r.url.as_deref().map(url::Url::parse) {
                    Some(Ok(u)) if matches!(u.scheme(), "https" | "http") => Some(u.to_string()),
                    Some(_) => {
                        let shown = r.url.as_deref().unwrap_or_default();
                        problems.push(at(
                            locate(text, shown),
                            format!("url: `{shown}` is not an http(s) URL"),
                        ));
                        return None;
                    }
                    None => None,
                };
                Some(Release {
                    version,
                    released,
                    url,
                })
            })
            .collect()
    };
    let releases = Releases {
        core: list(raw.core),
        plugins: raw.plugins.into_iter().map(|(k, v)| (k, list(v))).collect(),
        themes: raw.themes.into_iter().map(|(k, v)| (k, list(v))).collect(),
    };
    if problems.is_empty() {
        Ok(releases)
    } else {
        Err(problems)
    }
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn date(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD or RFC 3339)"))
}

fn locate(text: &str, needle: &str) -> (usize, usize) {
    let quoted = format!("\"{needle}\"");
    let Some(at) = text.find(&quoted) else {
        return (1, 1);
    };
    let before = &text[..at];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    )
}

/// The releases in a package directory: `<slug>-<version>.zip` (`wordpress-<version>.zip` is
/// core); a slug is listed under both plugins and themes, since a zip name does not say which.
pub fn from_packages(dir: &Path) -> std::io::Result<Releases> {
    let mut out = Releases::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".zip") else {
            continue;
        };
        let Some((slug, version)) = stem
            .rsplit_once('-')
            .and_then(|(s, v)| Some((s, v.parse::<Version>().ok()?)))
        else {
            continue;
        };
        let released = entry.metadata()?.modified().ok().map(DateTime::<Utc>::from);
        let release = Release {
            version,
            released,
            url: None,
        };
        if slug == crate::vuln::CORE_SLUG {
            out.core.push(release);
        } else {
            out.plugins
                .entry(slug.to_owned())
                .or_default()
                .push(release.clone());
            out.themes.entry(slug.to_owned()).or_default().push(release);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_bad_entries_are_located() {
        let text = r#"{"core": [{"version": "6.4.3", "released": "2024-01-30"}],
 "plugins": {"woocommerce": [{"version": "8.6.0", "released": "2024-02-13T10:00:00Z", "url": "https://wordpress.org/plugins/woocommerce/"}]}}"#;
        let r = parse("r.json", text).unwrap();
        assert_eq!(r.core[0].version, "6.4.3".parse().unwrap());
        assert_eq!(
            r.plugins["woocommerce"][0].released.unwrap().to_rfc3339(),
            "2024-02-13T10:00:00+00:00"
        );
        let bad = "{\"core\": [\n  {\"version\": \"six\"}]}";
        let p = parse("r.json", bad).unwrap_err();
        assert_eq!((p[0].line, p[0].column), (2, 15));
        let p = parse(
            "r.json",
            "{\"core\": [{\"version\": \"1.0\", \"url\": \"javascript:alert(1)\"}]}",
        )
        .unwrap_err();
        assert!(
            p[0].message.contains("not an http(s) URL"),
            "{}",
            p[0].message
        );
        let p = parse("r.json", "{\"cores\": []}").unwrap_err();
        assert!(
            p[0].message.contains("unknown field `cores`"),
            "{}",
            p[0].message
        );
    }

    #[test]
    fn the_sample_release_list_parses() {
        let text = include_str!("../../examples/updates/releases.json");
        let r = parse("examples/updates/releases.json", text).unwrap();
        assert_eq!(r.core.len(), 2);
        assert_eq!(r.plugins["woocommerce"].len(), 2);
        assert_eq!(r.themes["storefront"][0].version, "4.5.4".parse().unwrap());
    }

    #[test]
    fn package_directories_list_zips() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "contact-form-7-5.8.4.zip",
            "wordpress-6.4.3.zip",
            "notes.txt",
            "x-trunk.zip",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let r = from_packages(dir.path()).unwrap();
        assert_eq!(r.core.len(), 1);
        assert_eq!(
            r.plugins["contact-form-7"][0].version,
            "5.8.4".parse().unwrap()
        );
        assert!(!r.plugins.contains_key("x"));
    }
}
