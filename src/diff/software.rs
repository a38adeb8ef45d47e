//! Software drift from the passive fingerprint or a software provider's inventory: core,
//! plugins and themes against exact versions or constraints (and activation, when written). A
//! version that could not be told is shown as unknown and is never drift; a provider's
//! inventory is complete, so a package it does not list is not installed.

use std::collections::BTreeMap;

use super::{Desired, change};
use crate::canon::Canon;
use crate::observe::live::{Detected, SoftwareObservation};
use crate::plan::{Action, Change, Resource};
use crate::spec::{Package, Version, VersionSpec};

fn package_text(p: &Package) -> String {
    match p {
        Package::Absent => "absent".into(),
        Package::Present {
            version, active, ..
        } => with_active(version.to_string(), *active),
    }
}

/// `text`, followed by ` (active)` or ` (inactive)` when activation is wanted or known.
fn with_active(text: String, active: Option<bool>) -> String {
    match active {
        Some(true) => format!("{text} (active)"),
        Some(false) => format!("{text} (inactive)"),
        None => text,
    }
}

/// The activation a desired package names, if it names one.
fn wanted_active(p: &Package) -> Option<bool> {
    match p {
        Package::Present { active, .. } => *active,
        Package::Absent => None,
    }
}

fn detected_text(d: Option<&Detected>) -> String {
    match d {
        Some(Detected {
            version: Some(v), ..
        }) => v.clone(),
        Some(d) => format!(
            "unknown ({})",
            d.unknown_reason.as_deref().unwrap_or("no evidence")
        ),
        None => "unknown (not observed)".into(),
    }
}

/// Desired software, canonical.
pub fn desired(d: &Desired<'_>) -> Canon {
    let Some(sw) = &d.site.software else {
        return Canon::map();
    };
    let list = |m: &crate::spec::SortedMap<String, Package>| {
        m.iter()
            .fold(Canon::map(), |c, (k, p)| c.with(k, package_text(p)))
    };
    let mut c = Canon::map().with("platform", sw.platform.as_str());
    if let Some(source) = crate::wordpress::source(d.site) {
        c = c.with("source", source);
    }
    if let Some(core) = &sw.core {
        c = c.with("core", core.to_string());
    }
    if !sw.plugins.is_empty() {
        c = c.with("plugins", list(&sw.plugins));
    }
    if !sw.themes.is_empty() {
        c = c.with("themes", list(&sw.themes));
    }
    c
}

/// The fingerprint in the same shape (`not found` for an absent-wanted package not seen).
pub fn live(d: &Desired<'_>, obs: &SoftwareObservation) -> Canon {
    let Some(sw) = &d.site.software else {
        return Canon::map();
    };
    let complete = obs.source.is_some();
    let list = |m: &crate::spec::SortedMap<String, Package>, seen: &BTreeMap<String, Detected>| {
        m.iter().fold(Canon::map(), |c, (k, p)| {
            let det = seen.get(k);
            let text = match (p, det) {
                (Package::Absent, Some(x)) if !x.found => "absent".to_owned(),
                (_, None) if complete => "absent".to_owned(),
                (_, Some(x)) => with_active(
                    detected_text(det),
                    x.active.filter(|_| wanted_active(p).is_some()),
                ),
                _ => detected_text(det),
            };
            c.with(k, text)
        })
    };
    let mut c = Canon::map().with("platform", sw.platform.as_str());
    if let Some(source) = &obs.source {
        c = c.with("source", source.as_str());
    }
    if sw.core.is_some() {
        c = c.with("core", detected_text(Some(&obs.core)));
    }
    if !sw.plugins.is_empty() {
        c = c.with("plugins", list(&sw.plugins, &obs.plugins));
    }
    if !sw.themes.is_empty() {
        c = c.with("themes", list(&sw.themes, &obs.themes));
    }
    c
}

/// Changes where the fingerprint confidently disagrees.
pub fn changes(d: &Desired<'_>, obs: &SoftwareObservation) -> Vec<Change> {
    let Some(sw) = &d.site.software else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(want) = &sw.core
        && let Some(c) = mismatch(want, &obs.core)
    {
        out.push(change(
            d,
            Resource::Core,
            sw.platform.clone(),
            Action::Change,
            Some(c),
            Some(want.to_string()),
        ));
    }
    for (resource, want, seen) in [
        (Resource::Plugin, &sw.plugins, &obs.plugins),
        (Resource::Theme, &sw.themes, &obs.themes),
    ] {
        for (slug, p) in want {
            let det = match seen.get(slug) {
                Some(det) if det.found => det,
                // Only a provider's complete list says a package is missing.
                _ if obs.source.is_none() => continue,
                _ => {
                    if matches!(p, Package::Present { .. }) {
                        let desired = Some(package_text(p));
                        out.push(change(
                            d,
                            resource,
                            slug.clone(),
                            Action::Add,
                            None,
                            desired,
                        ));
                    }
                    continue;
                }
            };
            let (action, live, desired) = match p {
                Package::Absent => (
                    Action::Remove,
                    Some(det.version.clone().unwrap_or_else(|| "installed".into())),
                    None,
                ),
                Package::Present {
                    version, active, ..
                } => {
                    let version_off = mismatch(version, det);
                    let active_off =
                        active.is_some() && det.active.is_some() && *active != det.active;
                    if version_off.is_none() && !active_off {
                        continue;
                    }
                    let live = version_off
                        .or_else(|| det.version.clone())
                        .unwrap_or_default();
                    (
                        Action::Change,
                        Some(with_active(live, det.active.filter(|_| active.is_some()))),
                        Some(package_text(p)),
                    )
                }
            };
            out.push(change(d, resource, slug.clone(), action, live, desired));
        }
    }
    out
}

/// The live version when it is known and does not satisfy `want`.
fn mismatch(want: &VersionSpec, det: &Detected) -> Option<String> {
    let text = det.version.as_ref()?;
    let v = text.parse::<Version>().ok()?;
    (!want.matches(&v)).then(|| text.clone())
}
