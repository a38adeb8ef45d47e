//! Version-bump proposals, as Renovate makes them for dependency files: newer releases of a
//! site's pinned core, plugins and themes (from `updates.source`, else the `packages` source)
//! become one proposal per site that edits only the version strings of its site file.
//!
//! Guarantees: a release younger than `updates.min_age` is held back unless it fixes a known
//! vulnerability of the pinned version (then it is a security update); a release inside a known
//! vulnerable range is never proposed; constraints (`>=6.4, <7`) are left alone.

pub mod edit;
pub mod releases;
pub mod step;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::spec::{Package, Site, Version, VersionSpec};
use crate::vuln::{CORE_SLUG, Feed, Kind};
pub use releases::{Release, Releases};

/// One proposed version bump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bump {
    pub kind: Kind,
    pub slug: String,
    pub from: String,
    pub to: String,
    /// RFC 3339, when the source says.
    pub released: Option<String>,
    pub url: Option<String>,
    /// Advisories of `from` that `to` fixes; non-empty makes this a security update.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security: Vec<String>,
}

/// A newer release not proposed yet because it is younger than `min_age`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub kind: Kind,
    pub slug: String,
    pub version: String,
    /// When it becomes old enough (`None`: its release date is unknown).
    pub until: Option<DateTime<Utc>>,
}

/// What the releases say about one site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteUpdates {
    pub bumps: Vec<Bump>,
    pub held: Vec<HeldBack>,
}

/// The bumps for `site`'s exactly pinned packages, as of `now`.
pub fn for_site(
    site: &Site,
    releases: &Releases,
    feed: &Feed,
    now: DateTime<Utc>,
    min_age: std::time::Duration,
) -> SiteUpdates {
    let mut out = SiteUpdates::default();
    let Some(sw) = &site.software else {
        return out;
    };
    let min_age = chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
    let mut one = |kind: Kind, slug: &str, want: &VersionSpec, list: Option<&Vec<Release>>| {
        let (Some(pinned), Some(list)) = (want.exact(), list) else {
            return;
        };
        let (bump, held) = choose(kind, slug, pinned, list, feed, now, min_age);
        out.bumps.extend(bump);
        out.held.extend(held);
    };
    if let Some(core) = &sw.core {
        one(Kind::Core, CORE_SLUG, core, Some(&releases.core));
    }
    let pinned = |m: &crate::spec::SortedMap<String, Package>| -> Vec<(String, VersionSpec)> {
        m.iter()
            .filter_map(|(slug, p)| match p {
                Package::Present { version, .. } => Some((slug.clone(), version.clone())),
                Package::Absent => None,
            })
            .collect()
    };
    for (slug, want) in pinned(&sw.plugins) {
        one(Kind::Plugin, &slug, &want, releases.plugins.get(&slug));
    }
    for (slug, want) in pinned(&sw.themes) {
        one(Kind::Theme, &slug, &want, releases.themes.get(&slug));
    }
    out
}

/// Picks the release to propose for one package pinned at `pinned`.
fn choose(
    kind: Kind,
    slug: &str,
    pinned: &Version,
    list: &[Release],
    feed: &Feed,
    now: DateTime<Utc>,
    min_age: chrono::Duration,
) -> (Option<Bump>, Option<HeldBack>) {
    // Newer final releases that no known advisory affects.
    let mut newer: Vec<&Release> = list
        .iter()
        .filter(|r| &r.version > pinned && !r.version.is_pre_release())
        .filter(|r| feed.affecting(kind, slug, &r.version).is_empty())
        .collect();
    newer.sort_by(|a, b| a.version.cmp(&b.version));
    let ripe = |r: &Release| min_age.is_zero() || r.released.is_some_and(|t| t + min_age <= now);
    let fixes: Vec<String> = feed
        .affecting(kind, slug, pinned)
        .iter()
        .map(|h| h.advisory.id.clone())
        .collect();
    let newest_ripe = newer.iter().rev().find(|r| ripe(r)).copied();
    // A security fix skips the age gate: the earliest release that fixes, when none is ripe.
    let target = match newest_ripe {
        Some(r) => Some(r),
        None if !fixes.is_empty() => newer.first().copied(),
        None => None,
    };
    let held = newer
        .last()
        .filter(|r| !ripe(r) && target.is_none_or(|t| t.version < r.version))
        .map(|r| HeldBack {
            kind,
            slug: slug.to_owned(),
            version: r.version.to_string(),
            until: r.released.map(|t| t + min_age),
        });
    let bump = target.map(|r| Bump {
        kind,
        slug: slug.to_owned(),
        from: pinned.to_string(),
        to: r.version.to_string(),
        released: r
            .released
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        url: r.url.clone(),
        security: fixes.clone(),
    });
    (bump, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(v: &str, days_ago: i64, now: DateTime<Utc>) -> Release {
        Release {
            version: v.parse().unwrap(),
            released: Some(now - chrono::Duration::days(days_ago)),
            url: None,
        }
    }

    fn feed() -> Feed {
        let text = r#"{"id": "SWV-1", "affected": [{"package": {"ecosystem": "wordpress-plugin", "name": "contact-form-7"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.8.4"}]}]}]}"#;
        Feed::parse(&[("f.json".into(), text.into())]).unwrap()
    }

    #[test]
    fn min_age_holds_back_fresh_releases() {
        let now = Utc::now();
        let list = [
            release("8.5.2", 60, now),
            release("8.6.0", 10, now),
            release("8.6.1", 1, now),
        ];
        let week = chrono::Duration::days(7);
        let (bump, held) = choose(
            Kind::Plugin,
            "woocommerce",
            &"8.5.2".parse().unwrap(),
            &list,
            &Feed::default(),
            now,
            week,
        );
        let bump = bump.unwrap();
        assert_eq!(
            (bump.to.as_str(), bump.security.is_empty()),
            ("8.6.0", true)
        );
        let held = held.unwrap();
        assert_eq!(held.version, "8.6.1");
        assert_eq!(held.until, Some(now - chrono::Duration::days(1) + week));
        // Nothing old enough: nothing proposed, the newest is held.
        let (bump, held) = choose(
            Kind::Plugin,
            "woocommerce",
            &"8.6.0".parse().unwrap(),
            &list,
            &Feed::default(),
            now,
            week,
        );
        assert!(bump.is_none() && held.is_some());
    }

    #[test]
    fn a_security_fix_skips_the_age_gate_and_vulnerable_releases_are_skipped() {
        let now = Utc::now();
        let list = [
            release("5.8.3", 30, now),
            release("5.8.4", 1, now),
            release("5.8.5", 0, now),
        ];
        let week = chrono::Duration::days(7);
        let (bump, held) = choose(
            Kind::Plugin,
            "contact-form-7",
            &"5.8.2".parse().unwrap(),
            &list,
            &feed(),
            now,
            week,
        );
        let bump = bump.unwrap();
        assert_eq!(
            bump.to, "5.8.4",
            "the earliest fix, not the newest fresh release"
        );
        assert_eq!(bump.security, ["SWV-1"]);
        assert_eq!(held.unwrap().version, "5.8.5");
        // 5.8.3 is ripe but vulnerable: never proposed.
        let (bump, _) = choose(
            Kind::Plugin,
            "contact-form-7",
            &"5.8.2".parse().unwrap(),
            &list[..1],
            &feed(),
            now,
            week,
        );
        assert!(bump.is_none());
    }
}
