//! Seeds an audit branch with many run records, for `benches/log.sh`: one reconcile run every
//! 15 minutes over three sites, recorded with the library exactly as real runs are.
//!
//! Usage: `seed_audit REPO N`

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use siteward::audit::{RunCommand, RunRecord, Trigger, record_run};
use siteward::git::Repo;
use siteward::plan::{Action, Change, Health, Plan, Resource, RunInfo, SitePlan, Step, SyncStatus};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(repo), Some(n)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: seed_audit REPO N");
    };
    let n: u32 = n.parse().context("N must be a number")?;
    let repo = Repo::open(repo.as_ref())?;
    let branch = "siteward-audit".parse().map_err(anyhow::Error::msg)?;
    let author = "siteward bench <bench@localhost>"
        .parse()
        .map_err(anyhow::Error::msg)?;
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .context("start date")?;
    for i in 0..n {
        let started = start + Duration::minutes(15 * i64::from(i));
        let change = Change {
            resource: Resource::Header,
            key: "x-frame-options".into(),
            action: Action::Change,
            live: Some("SAMEORIGIN".into()),
            desired: Some("DENY".into()),
            provider: Some("nginx".into()),
            applicable: true,
            step: Step::Apply,
            reason: None,
        };
        let site = |name: &str, drift: bool| SitePlan {
            site: name.into(),
            sync: if drift {
                SyncStatus::Drift
            } else {
                SyncStatus::InSync
            },
            health: Health::Healthy,
            observed_sha256: Some(format!("{i:064x}")),
            desired_sha256: "d".repeat(64),
            changes: if drift { vec![change.clone()] } else { vec![] },
            checks: vec![],
            error: None,
            warnings: vec![],
            unobserved: vec![],
            manage_changes: vec![],
            findings: vec![],
            vulnerabilities: vec![],
            software_source: None,
        };
        let plan = Plan::new(
            RunInfo {
                id: siteward::plan::new_run_id(started),
                started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                desired_commit: Some("a".repeat(40)),
            },
            vec![
                site("shop.example.nl", i % 7 == 0),
                site("www.example.com", false),
                site("portal.example.com", i % 13 == 0),
            ],
        );
        let finished = started + Duration::seconds(20);
        let record = RunRecord::from_plan(
            &plan,
            RunCommand::Reconcile,
            Trigger::from_vars(Some("schedule"), |_| None),
            finished,
            BTreeMap::new(),
        );
        record_run(&repo, &branch, &author, &record)?;
    }
    Ok(())
}
