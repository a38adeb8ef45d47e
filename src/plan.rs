//! The plan: per site, the typed changes between desired and live state, in the shape of
//! SPEC.md's plan JSON (`"version": 1`). Built by diff, printed by `report`, applied by `apply`,
//! saved by `plan --out`, and embedded in run records.

use serde::{Deserialize, Serialize};

/// Version of the plan JSON format.
pub const PLAN_VERSION: u32 = 1;

/// Whether a site matches its desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    InSync,
    Drift,
    /// The site could not be observed; never treated as drift.
    Unknown,
}

/// How the site is doing, from reachability and availability checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Down,
    Unknown,
}

/// The kind of resource a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Header,
    Redirect,
    Certificate,
    Core,
    Plugin,
    Theme,
}

impl Resource {
    /// The JSON name: `header`, `redirect`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Header => "header",
            Resource::Redirect => "redirect",
            Resource::Certificate => "certificate",
            Resource::Core => "core",
            Resource::Plugin => "plugin",
            Resource::Theme => "theme",
        }
    }
}

/// What a change does to the live resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Change,
    Remove,
}

/// What `apply`/`reconcile` does with one change, decided once by the plan stage
/// ([`crate::stage`]) and executed exactly as planned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A provider applies it.
    Apply,
    /// A change request is written (`reason` says why it is not applied).
    Propose,
    /// Reported only (`reason` says why). The default for records made before steps existed.
    #[default]
    Skip,
}

impl Step {
    /// The JSON name: `apply`, `propose`, `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Apply => "apply",
            Step::Propose => "propose",
            Step::Skip => "skip",
        }
    }
}

/// One difference between desired and live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub resource: Resource,
    /// Which one: a header name (lowercase), a redirect source URL, a plugin slug, ...
    pub key: String,
    pub action: Action,
    /// The live value, `None` when absent. Secret values appear as `<secret sha256:…>`.
    pub live: Option<String>,
    /// The desired value, `None` when it must be absent.
    pub desired: Option<String>,
    /// The provider that could apply it (`nginx`, `headers-file`, `acme`, `wordpress`), if any.
    pub provider: Option<String>,
    /// Whether that provider can apply it now (whatever the sync mode says).
    pub applicable: bool,
    /// What `apply`/`reconcile` will do with it.
    #[serde(default)]
    pub step: Step,
    /// Why the step is not `apply` (`None` for `apply`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of one availability check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub name: String,
    pub ok: bool,
    pub status: Option<u16>,
    pub ms: Option<u64>,
    pub message: Option<String>,
}

/// The plan for one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePlan {
    pub site: String,
    pub sync: SyncStatus,
    pub health: Health,
    /// sha256 of the canonical rendering of the observed state (`None` when unknown).
    pub observed_sha256: Option<String>,
    /// sha256 of the canonical rendering of the desired state.
    pub desired_sha256: String,
    pub changes: Vec<Change>,
    pub checks: Vec<CheckOutcome>,
    pub error: Option<String>,
    /// Things a reader must know although they are not drift, e.g. TLS verification turned off
    /// (`insecure_skip_verify`), reported on every run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Resources that could not be observed although the site could (`redirect http://…`):
    /// unknown, so nothing is planned for them, and the run exits 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unobserved: Vec<String>,
    /// How the site is managed (commands, hosts, paths, providers, `sync`, …), where it differs
    /// from the `--changed-since` revision: nothing live changes, but reviewers must see it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manage_changes: Vec<crate::diff::ManageChange>,
    /// Active `check` findings (policy rules and the web grade's tests) of medium severity or
    /// more, most severe first: a compact view of what `siteward check` reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<PlanFinding>,
    /// Installed versions inside a known-vulnerable range (or unknown versions of packages with
    /// advisories), from the feed named by `vulnerabilities:` ([`crate::vuln`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<Vulnerability>,
    /// Who listed the installed software when a provider did (`wordpress via php`); absent
    /// for the passive fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_source: Option<String>,
}

/// One advisory that applies to an installed package: SPEC's plan JSON `vulnerabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// The advisory id (`CVE-…`, `GHSA-…`, a vendor id).
    pub id: String,
    pub kind: crate::vuln::Kind,
    pub slug: String,
    /// The installed version; `null` when it could not be told (then the package may be
    /// affected: unknown is never safe).
    pub installed: Option<String>,
    /// The release that fixes it; `null` when none is known.
    pub fixed: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
}

/// One `check` finding as a plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFinding {
    pub rule: String,
    /// `low` … `critical`.
    pub severity: String,
    pub message: String,
}

/// Identity of the run that made a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    /// RFC 3339, UTC.
    pub started: String,
    /// The state repo's `HEAD` commit, when it is a git repo.
    pub desired_commit: Option<String>,
}

/// Counts over all sites of a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub sites: usize,
    pub in_sync: usize,
    pub drift: usize,
    pub unknown: usize,
    pub changes: usize,
}

/// A whole plan: SPEC.md's plan JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub run: RunInfo,
    pub sites: Vec<SitePlan>,
    pub summary: Summary,
}

impl Plan {
    /// A plan over `sites`, with the summary derived from them.
    pub fn new(run: RunInfo, sites: Vec<SitePlan>) -> Plan {
        let count = |s: SyncStatus| sites.iter().filter(|p| p.sync == s).count();
        let summary = Summary {
            sites: sites.len(),
            in_sync: count(SyncStatus::InSync),
            drift: count(SyncStatus::Drift),
            unknown: count(SyncStatus::Unknown),
            changes: sites.iter().map(|p| p.changes.len()).sum(),
        };
        Plan {
            version: PLAN_VERSION,
            run,
            sites,
            summary,
        }
    }

    /// Whether something could not be observed: a whole site (`unknown`) or one of a site's
    /// resources (`unobserved`). SPEC: that is an error, and an error wins over drift.
    pub fn incomplete(&self) -> bool {
        self.summary.unknown > 0 || self.sites.iter().any(|s| !s.unobserved.is_empty())
    }

    /// SPEC.md's exit code: error (any site or resource unknown) wins over drift.
    pub fn exit(&self) -> crate::exit::Exit {
        if self.incomplete() {
            crate::exit::Exit::Error
        } else if self.summary.drift > 0 {
            crate::exit::Exit::Drift
        } else {
            crate::exit::Exit::Ok
        }
    }
}

/// A new run id: UTC timestamp plus random hex, sortable and unique across parallel runs.
pub fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    format!("{}-{:08x}", now.format("%Y%m%dT%H%M%SZ"), h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(sync: SyncStatus, changes: usize) -> SitePlan {
        let change = Change {
            resource: Resource::Header,
            key: "x-frame-options".into(),
            action: Action::Add,
            live: None,
            desired: Some("DENY".into()),
            provider: None,
            applicable: false,
            step: Step::Propose,
            reason: Some("no provider".into()),
        };
        SitePlan {
            site: "a".into(),
            sync,
            health: Health::Healthy,
            observed_sha256: None,
            desired_sha256: String::new(),
            changes: vec![change; changes],
            checks: vec![],
            error: None,
            warnings: vec![],
            unobserved: vec![],
            manage_changes: vec![],
            findings: vec![],
            vulnerabilities: vec![],
            software_source: None,
        }
    }

    #[test]
    fn error_wins_over_drift() {
        let run = RunInfo {
            id: "r".into(),
            started: "t".into(),
            desired_commit: None,
        };
        let p = Plan::new(
            run.clone(),
            vec![site(SyncStatus::Drift, 2), site(SyncStatus::Unknown, 0)],
        );
        assert_eq!(p.summary.changes, 2);
        assert_eq!(p.exit(), crate::exit::Exit::Error);
        let p = Plan::new(run.clone(), vec![site(SyncStatus::Drift, 1)]);
        assert_eq!(p.exit(), crate::exit::Exit::Drift);
        let p = Plan::new(run.clone(), vec![site(SyncStatus::InSync, 0)]);
        assert_eq!(p.exit(), crate::exit::Exit::Ok);
        // Issue #16: a redirect source that could not be observed is an error, not in sync.
        let mut partly = site(SyncStatus::Drift, 1);
        partly.unobserved = vec!["redirect http://a.test/".into()];
        let p = Plan::new(run, vec![partly]);
        assert_eq!(p.exit(), crate::exit::Exit::Error);
    }

    #[test]
    fn plan_json_uses_spec_names() {
        let run = RunInfo {
            id: "r".into(),
            started: "t".into(),
            desired_commit: None,
        };
        let json = serde_json::to_value(Plan::new(run, vec![site(SyncStatus::InSync, 1)])).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["sites"][0]["sync"], "in_sync");
        assert_eq!(json["sites"][0]["changes"][0]["resource"], "header");
        assert_eq!(json["summary"]["in_sync"], 1);
    }

    #[test]
    fn run_ids_are_unique() {
        let now = chrono::Utc::now();
        assert_ne!(new_run_id(now), new_run_id(now));
    }
}
