//! Known-vulnerable versions: an OSV-format feed (`vulnerabilities:` in `siteward.yaml`) matched
//! against the core, plugin and theme versions observation found. A version that could not be
//! told is reported as unknown with every advisory of its package, never as safe.
//!
//! Feed: ecosystems `wordpress-core` (name `wordpress`), `wordpress-plugin` and
//! `wordpress-theme` (name = slug); see [`osv`] for the accepted JSON and [`range`] for
//! matching.

pub mod osv;
pub mod range;
pub mod source;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::observe::live::{Detected, LiveSite};
use crate::plan::Vulnerability;
use crate::policy::{Finding, SiteCheck};
use crate::problem::Problem;
use crate::spec::{Package, Settings, Severity, Site, Version};
use range::Range;

/// Which kind of package an advisory is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Core,
    Plugin,
    Theme,
}

impl Kind {
    /// The kind of an OSV ecosystem name, `None` for ecosystems siteward does not watch.
    pub fn from_ecosystem(ecosystem: &str) -> Option<Kind> {
        match ecosystem.to_ascii_lowercase().as_str() {
            "wordpress-core" => Some(Kind::Core),
            "wordpress-plugin" => Some(Kind::Plugin),
            "wordpress-theme" => Some(Kind::Theme),
            _ => None,
        }
    }

    /// `core`, `plugin` or `theme`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Core => "core",
            Kind::Plugin => "plugin",
            Kind::Theme => "theme",
        }
    }
}

/// The slug of WordPress core in the feed (`wordpress-core` / `wordpress`).
pub const CORE_SLUG: &str = "wordpress";

/// One advisory of the feed.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    /// Other ids of the same problem (CVE, GHSA, vendor ids).
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// RFC 3339, as the feed wrote it.
    pub published: Option<String>,
    /// From CVSS or the database's rating; `None` when the record names none.
    pub severity: Option<Severity>,
    /// CVSS base score, when the record has one.
    pub score: Option<f32>,
    pub references: Vec<String>,
    pub affected: Vec<Affected>,
}

/// What one advisory says about one package.
#[derive(Debug, Clone)]
pub struct Affected {
    pub kind: Kind,
    pub slug: String,
    pub ranges: Vec<Range>,
    /// Versions listed one by one (OSV `versions`).
    pub versions: Vec<Version>,
    /// A per-package rating, when the record has one.
    pub severity: Option<Severity>,
}

impl Affected {
    /// Whether `v` is affected, and the release that fixes it (`None`: no fix known).
    pub fn matches(&self, v: &Version) -> Option<Option<Version>> {
        if let Some(r) = self.ranges.iter().find(|r| r.contains(v)) {
            return Some(r.fixed_after(v).cloned());
        }
        // Listed versions without a containing range: the next fix of any range, if one.
        self.versions.contains(v).then(|| {
            self.ranges
                .iter()
                .flat_map(Range::fixes)
                .filter(|f| *f > v)
                .min()
                .cloned()
        })
    }

    /// The newest `fixed` version of any range: the least to upgrade to when the installed
    /// version is unknown.
    fn newest_fix(&self) -> Option<&Version> {
        self.ranges.iter().flat_map(Range::fixes).max()
    }
}

/// Severity used when an advisory names none.
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;

/// The advisories of a feed.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    pub advisories: Vec<Advisory>,
}

/// A feed could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("{} problem(s) in the vulnerability feed:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl Feed {
    /// Parses feed documents (`(shown path, text)`), collecting every problem.
    pub fn parse(docs: &[source::Document]) -> Result<Feed, FeedError> {
        let mut feed = Feed::default();
        let mut problems = Vec::new();
        for (path, text) in docs {
            match osv::parse(path, text) {
                Ok(a) => feed.advisories.extend(a),
                Err(p) => problems.extend(p),
            }
        }
        if problems.is_empty() {
            Ok(feed)
        } else {
            Err(FeedError::Invalid(problems))
        }
    }

    /// Reads the feed `settings` names (empty when none is configured). Blocking: commands call
    /// it before their own runtime starts.
    pub fn load_blocking(
        repo: &Path,
        settings: &Settings,
        timeout: Duration,
    ) -> Result<Feed, FeedError> {
        let Some(src) = &settings.vulnerabilities else {
            return Ok(Feed::default());
        };
        let docs = source::read_blocking(repo, src, "vulnerabilities", "json", timeout)?;
        Feed::parse(&docs)
    }

    /// Every (advisory, package entry) about `kind`/`slug`.
    pub fn about(&self, kind: Kind, slug: &str) -> Vec<(&Advisory, &Affected)> {
        self.advisories
            .iter()
            .flat_map(|a| a.affected.iter().map(move |x| (a, x)))
            .filter(|(_, x)| x.kind == kind && x.slug.eq_ignore_ascii_case(slug))
            .collect()
    }

    /// Advisories affecting `kind`/`slug` at `v`, each with the release that fixes it.
    pub fn affecting(&self, kind: Kind, slug: &str, v: &Version) -> Vec<Hit<'_>> {
        let mut out: Vec<Hit<'_>> = Vec::new();
        for (a, x) in self.about(kind, slug) {
            if out.iter().any(|h| h.advisory.id == a.id) {
                continue;
            }
            if let Some(fixed) = x.matches(v) {
                out.push(Hit {
                    kind,
                    slug: slug.to_owned(),
                    installed: Ok(v.to_string()),
                    advisory: a,
                    fixed,
                    severity: x.severity.or(a.severity).unwrap_or(DEFAULT_SEVERITY),
                });
            }
        }
        out
    }
}

/// One advisory that applies (or may apply) to one installed package.
#[derive(Debug, Clone)]
pub struct Hit<'f> {
    pub kind: Kind,
    pub slug: String,
    /// The installed version, or why it could not be told.
    pub installed: Result<String, String>,
    pub advisory: &'f Advisory,
    /// The release to upgrade to (for an unknown version: the newest fix the advisory names).
    pub fixed: Option<Version>,
    pub severity: Severity,
}

/// Matches what observation found on `site` against the feed.
pub fn scan<'f>(site: &Site, live: &LiveSite, feed: &'f Feed) -> Vec<Hit<'f>> {
    let (Some(sw), Some(obs)) = (&site.software, &live.software) else {
        return Vec::new();
    };
    if feed.advisories.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut one = |kind: Kind, slug: &str, det: &Detected, wanted: Option<&Package>| {
        let installed_for_sure = det.found || matches!(wanted, Some(Package::Present { .. }));
        match det.version.as_deref().map(str::parse::<Version>) {
            Some(Ok(v)) => out.extend(feed.affecting(kind, slug, &v)),
            _ if installed_for_sure || kind == Kind::Core => {
                let why = det
                    .unknown_reason
                    .clone()
                    .unwrap_or_else(|| "no evidence".into());
                let mut seen: Vec<&str> = Vec::new();
                for (a, x) in feed.about(kind, slug) {
                    if seen.contains(&a.id.as_str()) {
                        continue;
                    }
                    seen.push(&a.id);
                    out.push(Hit {
                        kind,
                        slug: slug.to_owned(),
                        installed: Err(why.clone()),
                        advisory: a,
                        fixed: x.newest_fix().cloned(),
                        severity: x.severity.or(a.severity).unwrap_or(DEFAULT_SEVERITY),
                    });
                }
            }
            // Not found and not wanted: not installed, nothing to match.
            _ => {}
        }
    };
    one(Kind::Core, CORE_SLUG, &obs.core, None);
    for (slug, det) in &obs.plugins {
        one(Kind::Plugin, slug, det, sw.plugins.get(slug));
    }
    for (slug, det) in &obs.themes {
        one(Kind::Theme, slug, det, sw.themes.get(slug));
    }
    out
}

/// The plan's `vulnerabilities` of a site.
pub fn plan_entries(hits: &[Hit<'_>]) -> Vec<Vulnerability> {
    hits.iter()
        .map(|h| Vulnerability {
            id: h.advisory.id.clone(),
            kind: h.kind,
            slug: h.slug.clone(),
            installed: h.installed.as_ref().ok().cloned(),
            fixed: h.fixed.as_ref().map(ToString::to_string),
            severity: h.severity.as_str().to_owned(),
        })
        .collect()
}

/// `check` findings: one per advisory affecting a known version (with the fixed version in the
/// advice), one per package whose version is unknown but has advisories.
pub fn findings(hits: &[Hit<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    for h in hits {
        let Ok(installed) = &h.installed else {
            continue;
        };
        let aliases = if h.advisory.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", h.advisory.aliases.join(", "))
        };
        let summary = h
            .advisory
            .summary
            .as_deref()
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        let mut facts = Vec::new();
        if let Some(score) = h.advisory.score {
            facts.push(format!("CVSS {score:.1}"));
        }
        if let Some(date) = &h.advisory.published {
            facts.push(format!(
                "published {}",
                date.chars().take(10).collect::<String>()
            ));
        }
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" [{}]", facts.join(", "))
        };
        let see = h
            .advisory
            .references
            .first()
            .map(|u| format!("; see {u}"))
            .unwrap_or_default();
        out.push(Finding {
            rule: h.advisory.id.clone(),
            severity: h.severity,
            message: format!(
                "{} `{}` {installed} is affected by {}{aliases}{summary}{facts}",
                h.kind.as_str(),
                h.slug,
                h.advisory.id
            ),
            advice: match &h.fixed {
                Some(f) => format!("upgrade `{}` to {f} or later (fixed in {f}){see}", h.slug),
                None => format!(
                    "no fixed version is known: remove or replace `{}`, or mitigate{see}",
                    h.slug
                ),
            },
            excepted: false,
            also: None,
        });
    }
    let mut unknown: Vec<(&Hit<'_>, Vec<&str>)> = Vec::new();
    for h in hits.iter().filter(|h| h.installed.is_err()) {
        match unknown
            .iter_mut()
            .find(|(u, _)| u.kind == h.kind && u.slug == h.slug)
        {
            Some((_, ids)) => ids.push(&h.advisory.id),
            None => unknown.push((h, vec![&h.advisory.id])),
        }
    }
    for (h, ids) in unknown {
        let why = h.installed.as_ref().err().map_or("", String::as_str);
        let newest = hits
            .iter()
            .filter(|x| x.kind == h.kind && x.slug == h.slug)
            .filter_map(|x| x.fixed.as_ref())
            .max();
        out.push(Finding {
            rule: UNKNOWN_RULE.into(),
            severity: Severity::Medium,
            message: format!(
                "{} `{}`: installed version unknown ({why}); {} known vulnerabilit{} affect some versions: {}",
                h.kind.as_str(),
                h.slug,
                ids.len(),
                if ids.len() == 1 { "y may" } else { "ies may" },
                ids.join(", ")
            ),
            advice: match newest {
                Some(f) => format!(
                    "make sure `{}` is at {f} or later, and make its version observable (readme.txt, generator tag) or manage it with a software provider",
                    h.slug
                ),
                None => format!("make the version of `{}` observable, then check again", h.slug),
            },
            excepted: false,
            also: None,
        });
    }
    out
}

/// Rule id of a finding about a package whose version could not be told.
pub const UNKNOWN_RULE: &str = "vulnerability-unknown";

/// Adds the site's vulnerability findings to its check, most severe first.
pub fn with_findings(mut check: SiteCheck, site: &Site, live: &LiveSite, feed: &Feed) -> SiteCheck {
    if check.error.is_some() {
        return check;
    }
    check.findings.extend(findings(&scan(site, live, feed)));
    check
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    check
}

/// Fills each plan's `vulnerabilities` from the matching observation (same order as `sites`).
pub fn flag(plans: &mut [crate::plan::SitePlan], sites: &[&Site], live: &[LiveSite], feed: &Feed) {
    for ((plan, site), live) in plans.iter_mut().zip(sites).zip(live) {
        plan.vulnerabilities = plan_entries(&scan(site, live, feed));
    }
}

/// One line for people: `vulnerable: plugin contact-form-7 5.8.3: CVE-… (high); upgrade to 5.8.4`.
pub fn describe(v: &Vulnerability) -> String {
    let installed = v.installed.as_deref().unwrap_or("(version unknown)");
    let fix = match (&v.fixed, &v.installed) {
        (Some(f), Some(_)) => format!("upgrade to {f} or later"),
        (Some(f), None) => format!("affected unless at {f} or later"),
        (None, _) => "no fixed version known".to_owned(),
    };
    let word = if v.installed.is_some() {
        "vulnerable"
    } else {
        "possibly vulnerable"
    };
    format!(
        "{word}: {} {} {installed}: {} ({}); {fix}",
        v.kind.as_str(),
        v.slug,
        v.id,
        v.severity
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::live::SoftwareObservation;

    fn sample() -> Feed {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/vulnerabilities");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let docs = rt
            .block_on(source::read(
                Path::new(env!("CARGO_MANIFEST_DIR")),
                dir,
                "vulnerabilities",
                "json",
                Duration::from_secs(1),
            ))
            .unwrap();
        Feed::parse(&docs).unwrap()
    }

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn the_sample_feed_imports() {
        let feed = sample();
        let ids: Vec<&str> = feed.advisories.iter().map(|a| a.id.as_str()).collect();
        // The PyPI record is read and skipped.
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert!(!ids.contains(&"PYSEC-2021-66"));
        let hits = feed.affecting(Kind::Plugin, "elementor", &v("3.18.1"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].fixed, Some(v("3.18.2")));
        assert_eq!(hits[0].severity, Severity::Critical, "CVSS 9.9");
        assert_eq!(hits[0].advisory.aliases, ["CVE-2023-48777"]);
        assert!(
            feed.affecting(Kind::Plugin, "elementor", &v("3.18.2"))
                .is_empty()
        );
        // Several ranges: each branch has its own fix.
        let wc = |s| feed.affecting(Kind::Plugin, "woocommerce", &v(s));
        assert_eq!(wc("5.5.0")[0].fixed, Some(v("5.5.1")));
        assert_eq!(wc("4.0.1")[0].fixed, Some(v("4.0.2")));
        assert!(wc("5.4.2").is_empty() && wc("3.2.9").is_empty());
        // `6.4` and `6.4.0` are the same release.
        let core = |s| feed.affecting(Kind::Core, CORE_SLUG, &v(s));
        assert_eq!(core("6.4")[0].severity, Severity::High, "database severity");
        assert_eq!(core("6.4.0").len(), 1);
        assert!(core("6.4.2").is_empty() && core("6.3.9").is_empty());
        // A plugin advisory is not about a theme of the same name.
        assert!(
            feed.affecting(Kind::Theme, "elementor", &v("3.18.1"))
                .is_empty()
        );
        let theme = feed.affecting(Kind::Theme, "storefront", &v("4.5.3"));
        assert_eq!(
            (theme[0].fixed.clone(), theme[0].severity),
            (None, Severity::Medium)
        );
    }

    fn site(yaml: &str) -> Site {
        let src = crate::load::Source {
            path: "sites/a.example.yaml".into(),
            text: yaml.into(),
        };
        let (state, problems) = crate::load::load_sources(&[src]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().unwrap()
    }

    fn detected(version: Option<&str>, found: bool) -> Detected {
        Detected {
            version: version.map(str::to_owned),
            confidence: if version.is_some() { 0.95 } else { 0.0 },
            found,
            evidence: vec![],
            unknown_reason: version.is_none().then(|| "conflicting evidence".to_owned()),
            active: None,
        }
    }

    #[test]
    fn installed_versions_are_flagged_and_unknown_is_never_safe() {
        let feed = sample();
        let site = site(
            "name: a.example\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  core: \"6.4.1\"\n  plugins:\n    contact-form-7: \"5.8.3\"\n    elementor: \"3.18.2\"\n    woocommerce: \"8.5.2\"\n    hello-dolly: absent\n",
        );
        let mut obs = SoftwareObservation {
            core: detected(Some("6.4.1"), true),
            ..Default::default()
        };
        obs.plugins
            .insert("contact-form-7".into(), detected(Some("5.8.3"), true));
        obs.plugins
            .insert("elementor".into(), detected(Some("3.18.2"), true));
        obs.plugins
            .insert("woocommerce".into(), detected(None, true));
        obs.plugins
            .insert("hello-dolly".into(), detected(None, false));
        let live = LiveSite {
            software: Some(obs),
            ..Default::default()
        };
        let entries = plan_entries(&scan(&site, &live, &feed));
        let shown: Vec<(String, Option<String>, Option<String>)> = entries
            .iter()
            .map(|e| (e.slug.clone(), e.installed.clone(), e.fixed.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "wordpress".into(),
                    Some("6.4.1".into()),
                    Some("6.4.2".into())
                ),
                (
                    "contact-form-7".into(),
                    Some("5.8.3".into()),
                    Some("5.8.4".into())
                ),
                ("woocommerce".into(), None, Some("5.5.1".into())),
            ]
        );
        let found = findings(&scan(&site, &live, &feed));
        let cf7 = found.iter().find(|f| f.rule == "SWV-2023-0002").unwrap();
        assert_eq!(cf7.severity, Severity::High);
        assert!(cf7.advice.contains("5.8.4"), "{}", cf7.advice);
        assert!(cf7.message.contains("CVE-2023-6449"), "{}", cf7.message);
        let unknown = found.iter().find(|f| f.rule == UNKNOWN_RULE).unwrap();
        assert!(
            unknown.message.contains("woocommerce") && unknown.message.contains("unknown"),
            "{}",
            unknown.message
        );
    }
}
