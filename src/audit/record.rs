//! The run record: SPEC.md's audit JSON (`"version": 1`), built from a [`Plan`] plus what was
//! done per site. A record only carries what the plan and the actions carry, and those already
//! show secret values as `<secret sha256:…>`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Trigger;
use crate::plan::{self, Change, Health, Plan, Resource, SyncStatus};

/// Version of the run record format.
pub const RECORD_VERSION: u32 = 1;

/// The command that made a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunCommand {
    Plan,
    Apply,
    Reconcile,
}

impl RunCommand {
    /// The command's name, as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            RunCommand::Plan => "plan",
            RunCommand::Apply => "apply",
            RunCommand::Reconcile => "reconcile",
        }
    }
}

/// What became of one planned change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    Applied,
    Failed,
    Proposed,
    Skipped,
    /// Not applied: the site is inside a change window ([`crate::windows`]).
    Held,
}

impl ActionResult {
    /// The JSON name: `applied`, `failed`, `proposed`, `skipped`, `held`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionResult::Applied => "applied",
            ActionResult::Failed => "failed",
            ActionResult::Proposed => "proposed",
            ActionResult::Skipped => "skipped",
            ActionResult::Held => "held",
        }
    }
}

/// One action taken (or deliberately not taken) on a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub resource: Resource,
    pub key: String,
    pub action: plan::Action,
    pub result: ActionResult,
    /// Why, or what went wrong; never a secret value.
    pub message: Option<String>,
    /// After a failed ACME issuance: no new attempt before this time (RFC 3339, UTC) unless
    /// forced ([`crate::certificate::backoff`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

/// Identity and timing of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMeta {
    pub id: String,
    pub command: RunCommand,
    pub trigger: Trigger,
    /// RFC 3339, UTC.
    pub started: String,
    /// RFC 3339, UTC.
    pub finished: String,
    pub siteward_version: String,
    pub desired_commit: Option<String>,
    /// `--ignore-windows --reason TEXT`: who overrode the change windows, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_overridden: Option<crate::windows::WindowOverride>,
}

/// One site's part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub site: String,
    pub sync: SyncStatus,
    pub health: Health,
    pub observed_sha256: Option<String>,
    pub desired_sha256: String,
    pub changes: Vec<Change>,
    pub actions: Vec<ActionRecord>,
    pub error: Option<String>,
    /// Notes such as `insecure_skip_verify` or an earlier run's interrupted apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whole days the served certificate had left (absent when none was served, and in
    /// records older than notifications): what `certificate_expiring` compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_days_left: Option<i64>,
    /// The web grade, when the run graded the site (a target wants `grade_dropped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
}

/// Counts over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSummary {
    pub sites: usize,
    pub in_sync: usize,
    pub drift: usize,
    pub unknown: usize,
    pub changes: usize,
    pub applied: usize,
    pub failed: usize,
    pub proposed: usize,
    pub skipped: usize,
    /// Changes held by a change window.
    #[serde(default)]
    pub held: usize,
}

/// A whole run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub version: u32,
    pub run: RunMeta,
    pub sites: Vec<SiteRecord>,
    pub summary: RecordSummary,
    /// What became of this run's notifications (`notify:`), one per target told something.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<crate::notify::Delivery>,
}

/// The record cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("run id `{0}` cannot name a record file; use letters, digits, `-`, `_` and `.`")]
    BadRunId(String),
    #[error("run time `{0}` is not an RFC 3339 time")]
    BadTime(String),
}

impl RunRecord {
    /// The record of a run that made `plan` and then took `actions` (by site name; sites
    /// without an entry took none).
    pub fn from_plan(
        plan: &Plan,
        command: RunCommand,
        trigger: Trigger,
        finished: DateTime<Utc>,
        mut actions: BTreeMap<String, Vec<ActionRecord>>,
    ) -> RunRecord {
        let sites: Vec<SiteRecord> = plan
            .sites
            .iter()
            .map(|p| SiteRecord {
                site: p.site.clone(),
                sync: p.sync,
                health: p.health,
                observed_sha256: p.observed_sha256.clone(),
                desired_sha256: p.desired_sha256.clone(),
                changes: p.changes.clone(),
                actions: actions.remove(&p.site).unwrap_or_default(),
                error: p.error.clone(),
                warnings: p.warnings.clone(),
                certificate_days_left: None,
                grade: None,
            })
            .collect();
        let results = |r: ActionResult| {
            sites
                .iter()
                .flat_map(|s| &s.actions)
                .filter(|a| a.result == r)
                .count()
        };
        let summary = RecordSummary {
            sites: plan.summary.sites,
            in_sync: plan.summary.in_sync,
            drift: plan.summary.drift,
            unknown: plan.summary.unknown,
            changes: plan.summary.changes,
            applied: results(ActionResult::Applied),
            failed: results(ActionResult::Failed),
            proposed: results(ActionResult::Proposed),
            skipped: results(ActionResult::Skipped),
            held: results(ActionResult::Held),
        };
        RunRecord {
            version: RECORD_VERSION,
            run: RunMeta {
                id: plan.run.id.clone(),
                command,
                trigger,
                started: plan.run.started.clone(),
                finished: finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                siteward_version: env!("CARGO_PKG_VERSION").to_owned(),
                desired_commit: plan.run.desired_commit.clone(),
                windows_overridden: None,
            },
            sites,
            summary,
            notifications: Vec::new(),
        }
    }

    /// Adds what the run observed beyond the plan: each site's certificate days left and web
    /// grade (by site name), which notifications compare with the next run.
    pub fn observed(
        &mut self,
        certificates: &BTreeMap<String, crate::metrics::Certificate>,
        grades: &BTreeMap<String, String>,
    ) {
        for s in &mut self.sites {
            s.certificate_days_left = certificates.get(&s.site).map(|c| c.days_left);
            s.grade = grades.get(&s.site).cloned();
        }
    }

    /// When the run started.
    pub fn started(&self) -> Result<DateTime<Utc>, RecordError> {
        parse_time(&self.run.started)
    }

    /// When the run finished.
    pub fn finished(&self) -> Result<DateTime<Utc>, RecordError> {
        parse_time(&self.run.finished)
    }

    /// `audit/YYYY/MM/DD/<run-id>.json`, dated by the UTC start of the run. The run id is
    /// checked so that the path can never leave `audit/`.
    pub fn path(&self) -> Result<String, RecordError> {
        let id = &self.run.id;
        let ok = !id.is_empty()
            && id.len() <= 128
            && !id.starts_with('.')
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(RecordError::BadRunId(id.clone()));
        }
        Ok(record_path(self.started()?, id))
    }

    /// The commit message: one summary line, a blank line, and the trailers.
    pub fn commit_message(&self) -> String {
        let s = &self.summary;
        let mut parts = vec![format!("{} site{}", s.sites, plural(s.sites))];
        for (n, what) in [
            (s.applied, "applied"),
            (s.failed, "failed"),
            (s.proposed, "proposed"),
            (s.drift, "drift"),
            (s.unknown, "unknown"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if s.sites > 0 && s.sites == s.in_sync {
            parts.push("all in sync".into());
        }
        let sites: Vec<&str> = self.sites.iter().map(|s| s.site.as_str()).collect();
        format!(
            "{}: {}\n\n{RUN_TRAILER} {}\n{SITES_TRAILER} {}\n",
            self.run.command.as_str(),
            parts.join(", "),
            self.run.id,
            sites.join(", ")
        )
    }
}

/// Trailer naming the run id.
pub const RUN_TRAILER: &str = "Siteward-Run:";
/// Trailer listing the run's sites.
pub const SITES_TRAILER: &str = "Siteward-Sites:";

/// The record path of run `id` started at `started`.
pub fn record_path(started: DateTime<Utc>, id: &str) -> String {
    format!("audit/{}/{id}.json", started.format("%Y/%m/%d"))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, RecordError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| RecordError::BadTime(s.to_owned()))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{RunInfo, SitePlan};

    pub(crate) fn sample_plan() -> Plan {
        let change = Change {
            resource: Resource::Header,
            key: "x-frame-options".into(),
            action: plan::Action::Change,
            live: Some("SAMEORIGIN".into()),
            desired: Some("DENY".into()),
            provider: Some("nginx".into()),
            applicable: true,
            step: crate::plan::Step::Apply,
            reason: None,
        };
        let site = |name: &str, sync, changes: Vec<Change>| SitePlan {
            site: name.into(),
            sync,
            health: Health::Healthy,
            observed_sha256: Some("ab".repeat(32)),
            desired_sha256: "cd".repeat(32),
            changes,
            checks: vec![],
            error: None,
            warnings: vec![],
            unobserved: vec![],
            manage_changes: vec![],
            findings: vec![],
            vulnerabilities: vec![],
            software_source: None,
        };
        Plan::new(
            RunInfo {
                id: "20261129T100000Z-0000abcd".into(),
                started: "2026-11-29T10:00:00Z".into(),
                desired_commit: Some("1".repeat(40)),
            },
            vec![
                site("a.example", SyncStatus::Drift, vec![change]),
                site("b.example", SyncStatus::InSync, vec![]),
            ],
        )
    }

    #[test]
    fn record_shape_and_message() {
        let plan = sample_plan();
        let mut actions = BTreeMap::new();
        actions.insert(
            "a.example".to_owned(),
            vec![ActionRecord {
                resource: Resource::Header,
                key: "x-frame-options".into(),
                action: plan::Action::Change,
                result: ActionResult::Applied,
                message: None,
                retry_after: None,
            }],
        );
        let finished = "2026-11-29T10:00:05Z".parse().unwrap();
        let rec = RunRecord::from_plan(
            &plan,
            RunCommand::Reconcile,
            Trigger::default(),
            finished,
            actions,
        );
        assert_eq!(
            rec.path().unwrap(),
            "audit/2026/11/29/20261129T100000Z-0000abcd.json"
        );
        assert_eq!(
            rec.commit_message(),
            "reconcile: 2 sites, 1 applied, 1 drift\n\n\
Siteward-Run: 20261129T100000Z-0000abcd\nSiteward-Sites: a.example, b.example\n"
        );
        let json = serde_json::to_value(&rec).unwrap();
        assert_eq!(json["version"], 1);
        for key in [
            "id",
            "command",
            "trigger",
            "started",
            "finished",
            "siteward_version",
            "desired_commit",
        ] {
            assert!(json["run"].get(key).is_some(), "run.{key}");
        }
        assert_eq!(json["run"]["finished"], "2026-11-29T10:00:05Z");
        assert_eq!(json["sites"][0]["actions"][0]["result"], "applied");
        assert_eq!(json["sites"][1]["actions"], serde_json::json!([]));
        assert_eq!(json["summary"]["applied"], 1);
        let back: RunRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn run_ids_cannot_escape_the_audit_dir() {
        let mut rec = RunRecord::from_plan(
            &sample_plan(),
            RunCommand::Plan,
            Trigger::default(),
            Utc::now(),
            BTreeMap::new(),
        );
        for bad in ["../x", "a/b", "", ".hidden", "a b"] {
            rec.run.id = bad.into();
            assert!(rec.path().is_err(), "{bad}");
        }
    }
}
