//! Seeds an audit branch with many run records, for `benches/log.sh`: one reconcile run every
//! 15 minutes over three sites, recorded with the library exactly as real runs are.
//! With `SITES` (for `benches/report.sh`), the fleet is `s0001.bench.test` … (as many digits as
//! `SITES` has) and each run is a shard of [`SHARD`] of them, as `reconcile --shard` makes at
//! that scale; every third drifted site in a run gets its change applied.
//!
//! Usage: `seed_audit REPO N [SITES]`

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use siteward::audit::{ActionRecord, ActionResult, RunCommand, RunRecord, Trigger, record_run};
use siteward::git::Repo;
use siteward::plan::{Action, Change, Health, Plan, Resource, RunInfo, SitePlan, Step, SyncStatus};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(repo), Some(n)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: seed_audit REPO N");
    };
    let n: u32 = n.parse().context("N must be a number")?;
    let fleet: Option<usize> = args
        .next()
        .map(|s| s.parse().context("SITES must be a number"))
        .transpose()?;
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
            match fleet {
                Some(total) => shard(total, i as usize)
                    .map(|(k, name)| site(&name, (i as usize + k).is_multiple_of(7)))
                    .collect(),
                None => vec![
                    site("shop.example.nl", i % 7 == 0),
                    site("www.example.com", false),
                    site("portal.example.com", i % 13 == 0),
                ],
            },
        );
        let finished = started + Duration::seconds(20);
        let actions = applied(&plan, i);
        let record = RunRecord::from_plan(
            &plan,
            RunCommand::Reconcile,
            Trigger::from_vars(Some("schedule"), |_| None),
            finished,
            actions,
        );
        record_run(&repo, &branch, &author, &record)?;
    }
    Ok(())
}

/// Sites in one run of a `SITES` fleet.
const SHARD: usize = 20;

/// The sites of run `i` over a fleet of `total`: [`SHARD`] consecutive ones, wrapping, each with
/// its place in the shard.
fn shard(total: usize, i: usize) -> impl Iterator<Item = (usize, String)> {
    let width = total.to_string().len();
    (0..SHARD.min(total)).map(move |k| {
        (
            k,
            format!("s{:0width$}.bench.test", (i * SHARD + k) % total + 1),
        )
    })
}

/// In run `i`, the change of every third drifted site applied (none in the three-site history,
/// which `benches/log.sh` keeps as it was).
fn applied(plan: &Plan, i: u32) -> BTreeMap<String, Vec<ActionRecord>> {
    plan.sites
        .iter()
        .filter(|s| s.site.ends_with(".bench.test") && !s.changes.is_empty() && i.is_multiple_of(3))
        .map(|s| {
            let actions = s
                .changes
                .iter()
                .map(|c| ActionRecord {
                    resource: c.resource,
                    key: c.key.clone(),
                    action: c.action,
                    result: ActionResult::Applied,
                    message: None,
                    retry_after: None,
                })
                .collect();
            (s.site.clone(), actions)
        })
        .collect()
}
