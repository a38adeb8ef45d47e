//! Diff (pure): desired site × [`LiveSite`] → the site's plan: typed changes, sync status,
//! health, and sha256 digests of canonical renderings of both sides.
//!
//! The observed rendering is the live state projected on what the desired state names (the
//! headers it lists, its redirects, …), in the same shape as the desired rendering, so the two
//! diff line by line and neither contains anything that ticks (timings, days left).

pub(crate) mod cert;
mod headers;
pub mod health;
mod manage;
mod redirects;
mod software;

pub use cert::covers;
pub use manage::{ManageChange, changes as manage_changes};

use crate::canon::Canon;
use crate::observe::live::LiveSite;
use crate::plan::{Action, Change, Resource, SitePlan, SyncStatus};
use crate::secret::{RunSecrets, SiteSecrets};
use crate::spec::Site;

/// The desired side of a diff: a site and its resolved secret header values.
#[derive(Debug, Clone, Copy)]
pub struct Desired<'a> {
    pub site: &'a Site,
    /// Lowercased header name → resolved secret value (never shown; hashed in every output).
    pub secrets: &'a SiteSecrets,
    /// Every secret of the run: a live value equal to one of them is shown as its digest too
    /// (a secret retired from this site, or another site's).
    pub run: &'a RunSecrets,
}

/// The desired state, canonical.
pub fn desired_canon(d: &Desired<'_>) -> Canon {
    let mut c = Canon::map().with("url", d.site.url.as_str());
    let parts = [
        ("headers", headers::desired(d)),
        ("redirects", redirects::desired(d)),
        ("software", software::desired(d)),
    ];
    for (k, v) in parts {
        if !v.is_empty() {
            c = c.with(k, v);
        }
    }
    if d.site.url.is_https() {
        c = c.with("certificate", cert::desired(d));
    }
    c
}

/// The observed state, canonical, in the desired shape; `None` when the site was not observed.
/// Parts that could not be observed say so.
pub fn live_canon(d: &Desired<'_>, live: &LiveSite) -> Option<Canon> {
    if live.error.is_some() {
        return None;
    }
    let mut c = Canon::map().with("url", d.site.url.as_str());
    let not_observed = || Canon::from("not observed (https refused)");
    if !d.site.headers.is_empty() {
        c = c.with(
            "headers",
            live.page
                .as_ref()
                .map_or_else(not_observed, |p| headers::live(d, p)),
        );
    }
    if !d.site.redirects.is_empty() {
        c = c.with("redirects", redirects::live(d, &live.redirects));
    }
    if d.site.software.is_some() {
        let sw = match &live.software {
            Some(s) => software::live(d, s),
            None if live.https_refused.is_some() => not_observed(),
            None => Canon::from("not observed (passive fingerprint only without a provider)"),
        };
        c = c.with("software", sw);
    }
    if let Some(t) = &live.tls {
        c = c.with("certificate", cert::live(d, t));
    }
    Some(c)
}

/// The desired digest: the canonical desired state (secret values as digests) plus the whole
/// typed site — how it is managed (`manage`, commands, hosts), `sync`, `connect`, `ca`, … — so
/// that any edit to the site, committed or not, changes it (saved plans rely on that).
fn desired_digest(d: &Desired<'_>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(desired_canon(d).to_yaml().as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(d.site).unwrap_or_default());
    hex::encode(h.finalize())
}

/// The observed digest: the canonical observed state plus siteward's own file as its provider
/// reads it, so that a saved plan goes stale when that file changes.
fn observed_digest(observed: &Canon, live: &LiveSite) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(observed.to_yaml().as_bytes());
    if let Some(m) = &live.managed {
        h.update(b"\nmanaged:\n");
        h.update(m.view.text.as_deref().unwrap_or("(none)").as_bytes());
    }
    hex::encode(h.finalize())
}

/// The plan for one site.
pub fn plan_site(d: &Desired<'_>, live: &LiveSite) -> SitePlan {
    let desired_sha256 = desired_digest(d);
    let observed = live_canon(d, live);
    let mut changes = Vec::new();
    if observed.is_some() {
        if let Some(p) = &live.page {
            changes.extend(headers::changes(d, p));
        }
        changes.extend(redirects::changes(d, &live.redirects));
        if let Some(t) = &live.tls {
            changes.extend(cert::changes(d, t, live.https_refused.as_deref()));
        }
        if let Some(s) = &live.software {
            changes.extend(software::changes(d, s));
        }
        // What siteward's own file still sets although the desired state no longer names it
        // is a planned removal: the next write drops it, so the plan must say so.
        if let Some(m) = &live.managed {
            changes.extend(headers::retired(d, live.page.as_ref(), &m.view));
            changes.extend(redirects::retired(d, &m.view));
        }
    }
    let sync = match (&live.error, changes.is_empty()) {
        (Some(_), _) => SyncStatus::Unknown,
        (None, true) => SyncStatus::InSync,
        (None, false) => SyncStatus::Drift,
    };
    let mut warnings = Vec::new();
    if d.site.insecure_skip_verify {
        warnings.push(
            "tls verification is off for this site (`insecure_skip_verify: true`)".to_owned(),
        );
    }
    if let Some(why) = &live.https_refused {
        warnings.push(format!(
            "https requests were refused ({why}); headers, checks and software were not observed"
        ));
    }
    if let Some(t) = &live.tls {
        warnings.extend(cert::warnings(d, t));
    }
    if let Some(w) = &live.wordpress {
        if w.inventory.maintenance == Some(true) {
            warnings.push("WordPress is in maintenance mode (`.maintenance`)".to_owned());
        }
        let unknown = w.inventory.unknown();
        if !unknown.is_empty() {
            warnings.push(format!(
                "{} cannot tell {}: unknown, not assumed",
                w.label,
                unknown.join(", ")
            ));
        }
    }
    let unobserved = redirects::unobserved(d, &live.redirects, &mut warnings);
    SitePlan {
        site: d.site.name.to_string(),
        sync,
        health: health::health(live),
        observed_sha256: observed.map(|c| observed_digest(&c, live)),
        desired_sha256,
        changes,
        checks: live.checks.clone(),
        error: live.error.clone(),
        warnings,
        unobserved,
        manage_changes: Vec::new(),
        findings: Vec::new(),
        vulnerabilities: Vec::new(),
        software_source: live.software.as_ref().and_then(|s| s.source.clone()),
    }
}

/// A change, named with the provider the site configures for its resource group; the plan
/// stage ([`crate::stage`]) decides `applicable`, `step` and `reason`.
fn change(
    d: &Desired<'_>,
    resource: Resource,
    key: String,
    action: Action,
    live: Option<String>,
    desired: Option<String>,
) -> Change {
    let manage = &d.site.manage;
    let provider = match resource {
        Resource::Header | Resource::Redirect => {
            manage.server.as_ref().map(|s| s.provider.as_str())
        }
        Resource::Certificate => manage.certificate.as_ref().map(|c| c.provider.as_str()),
        Resource::Core | Resource::Plugin | Resource::Theme => {
            manage.software.as_ref().map(|s| s.provider.as_str())
        }
    };
    Change {
        resource,
        key,
        action,
        live,
        desired,
        provider: provider.map(str::to_owned),
        applicable: false,
        step: crate::plan::Step::Skip,
        reason: None,
    }
}

#[cfg(test)]
mod tests;
