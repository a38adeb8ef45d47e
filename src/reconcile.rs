//! The core loop of `apply` and `reconcile`. [`run`] is the inner loop (steps 1–6); the outer
//! layer, `cmd/run.rs`, holds the repo lock, writes proposals and always records the outcome —
//! also when a step failed or a SIGINT/SIGTERM arrived (steps 7–8):
//!
//! 1. report applies a killed run left unfinished (crash journal) and re-verify their sites;
//! 2. observe and diff the selected sites;
//! 3. (saved plan) refuse sites whose live or desired state changed since the plan;
//! 4. decide per site: apply, propose, report or skip;
//! 5. apply through providers (sites in parallel, each site's steps in order);
//! 6. observe the applied sites again: the final state is what was verified, not assumed;
//! 7. write proposals, and resolve those whose drift is gone;
//! 8. record the run on the audit branch (and push it when asked).
//!
//! Guarantees: an `unknown` site is never changed or proposed for; `sync: observe` sites are
//! only reported; a site is applied at most once per run; after a signal no new site apply
//! starts, the running ones finish (providers roll back on failure) and the run is recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{StreamExt, stream};

use crate::apply::{self, ApplyCtx, records};
use crate::audit::{ActionRecord, ActionResult, RunCommand, RunRecord, Trigger};
use crate::exit::Exit;
use crate::journal::{Interrupted, Journal};
use crate::observe::ObserveOpts;
use crate::plan::{Change, Plan, RunInfo, SitePlan, SyncStatus};
use crate::spec::{Site, SyncMode};
use crate::survey;

/// Which command drives the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `siteward apply`: apply every selected site except `sync: observe` ones.
    Apply { dry_run: bool },
    /// `siteward reconcile`: act per site according to its `sync`.
    Reconcile,
}

impl Mode {
    fn command(self) -> RunCommand {
        match self {
            Mode::Apply { .. } => RunCommand::Apply,
            Mode::Reconcile => RunCommand::Reconcile,
        }
    }
}

/// What to do with one site, decided from its plan and its `sync` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// In sync: nothing to do (an open proposal gets resolved).
    Nothing,
    /// Not observed: nothing is changed or proposed.
    Unknown,
    /// Drift that is only reported (`sync: observe`).
    Report,
    /// Apply what a provider can; propose the rest.
    Apply,
    /// Propose every change.
    Propose,
}

/// Decides what to do with a site (pure).
pub fn decide(mode: Mode, sync: SyncMode, plan: &SitePlan) -> Decision {
    match plan.sync {
        SyncStatus::Unknown => Decision::Unknown,
        SyncStatus::InSync => Decision::Nothing,
        SyncStatus::Drift => match (mode, sync) {
            (_, SyncMode::Observe) => Decision::Report,
            (Mode::Apply { .. }, _) | (Mode::Reconcile, SyncMode::Auto) => Decision::Apply,
            (Mode::Reconcile, SyncMode::Propose) => Decision::Propose,
        },
    }
}

/// Everything a run needs that is not a site.
pub struct RunCtx<'a> {
    pub repo: &'a Path,
    pub mode: Mode,
    pub opts: ObserveOpts,
    pub run: RunInfo,
    pub journal: Journal,
    /// Set by the signal handler; checked before each site apply starts.
    pub stop: Arc<AtomicBool>,
    /// A saved plan to apply: sites whose live or desired state changed since are refused.
    pub saved: Option<Plan>,
    /// Sites the user selected. Others in the run (added to re-verify an interrupted apply)
    /// are observed and recorded, never changed.
    pub selected: std::collections::BTreeSet<String>,
    /// Applies a killed run left unfinished (read from the journal once, by the caller, which
    /// also adds their sites to the run).
    pub interrupted: Vec<Interrupted>,
}

/// What a run did, ready to print and record.
pub struct Outcome {
    pub plan: Plan,
    pub actions: BTreeMap<String, Vec<ActionRecord>>,
    /// Per site: a one-line note of what happened, for people.
    pub notes: BTreeMap<String, String>,
    /// Interruptions of earlier runs reported by this one.
    pub interrupted: Vec<Interrupted>,
    /// Sites whose changes await a proposal: `(site, changes with the reason for each)`.
    pub to_propose: Vec<(String, Vec<(Change, String)>)>,
    /// Sites a saved plan refused (stale).
    pub refused: usize,
}

impl Outcome {
    /// SPEC's exit code: an error (unknown site, failed or refused apply) wins over drift.
    pub fn exit(&self) -> Exit {
        let failed = self
            .actions
            .values()
            .flatten()
            .any(|a| a.result == ActionResult::Failed);
        if self.plan.summary.unknown > 0 || failed || self.refused > 0 {
            Exit::Error
        } else if self.plan.summary.drift > 0 {
            Exit::Drift
        } else {
            Exit::Ok
        }
    }

    /// The run record.
    pub fn record(&self, mode: Mode, trigger: Trigger) -> RunRecord {
        RunRecord::from_plan(
            &self.plan,
            mode.command(),
            trigger,
            chrono::Utc::now(),
            self.actions.clone(),
        )
    }
}

/// Steps 1–6 of the loop over `sites` (proposals and the record are the caller's, since they
/// need the git repo).
pub async fn run(ctx: &RunCtx<'_>, sites: &[&Site]) -> Outcome {
    // 1. Applies a killed run left unfinished: report them; their sites are observed below
    //    like every other, so what is live now is verified.
    let interrupted = ctx.interrupted.clone();
    let mut notes = BTreeMap::new();
    for i in &interrupted {
        tracing::warn!("{}", i.message());
        notes.insert(i.entry.site.clone(), i.message());
    }
    // 2. Observe and diff.
    let mut found = survey::survey(ctx.repo, sites, ctx.opts).await;
    for plan in &mut found.sites {
        if let Some(i) = interrupted.iter().find(|i| i.entry.site == plan.site) {
            plan.warnings.push(i.message());
        }
    }
    let mut actions: BTreeMap<String, Vec<ActionRecord>> = BTreeMap::new();
    let mut to_propose = Vec::new();
    // 3.–4. Refuse stale sites, decide the rest.
    let refused = refusals(ctx, &found.sites);
    let refused_count = refused.len();
    let mut to_apply: Vec<(&Site, SitePlan)> = Vec::new();
    for (site, plan) in sites.iter().zip(&found.sites) {
        let name = plan.site.clone();
        if let Some(reason) = refused.get(&name) {
            let refused = format!("refused: {reason}; run `siteward plan` again");
            actions.insert(
                name.clone(),
                records(&plan.changes, ActionResult::Failed, &refused),
            );
            notes.insert(name, refused);
            continue;
        }
        let decision = decide(ctx.mode, site.sync, plan);
        if !ctx.selected.contains(&name) && matches!(decision, Decision::Apply | Decision::Propose)
        {
            notes.insert(
                name,
                "re-verified after an interrupted apply; not selected, so nothing was changed"
                    .into(),
            );
            continue;
        }
        match decision {
            Decision::Nothing => {}
            Decision::Unknown => {
                notes.insert(name, "not observed: nothing was changed".into());
            }
            Decision::Report => {
                let msg = "sync: observe — reported only";
                actions.insert(
                    name.clone(),
                    records(&plan.changes, ActionResult::Skipped, msg),
                );
                notes.insert(
                    name,
                    format!("{} change(s) reported (sync: observe)", plan.changes.len()),
                );
            }
            Decision::Propose => {
                let why = "sync: propose".to_owned();
                to_propose.push((
                    name,
                    plan.changes
                        .iter()
                        .map(|c| (c.clone(), why.clone()))
                        .collect(),
                ));
            }
            Decision::Apply => to_apply.push((site, plan.clone())),
        }
    }
    // 5. Apply, sites in parallel within the concurrency limit.
    let dry_run = matches!(ctx.mode, Mode::Apply { dry_run: true });
    let actx = ApplyCtx {
        repo: ctx.repo,
        run_id: &ctx.run.id,
        journal: &ctx.journal,
        timeouts: crate::transport::Timeouts {
            connect: ctx.opts.timeout.min(std::time::Duration::from_secs(30)),
            command: (ctx.opts.timeout * 6).max(std::time::Duration::from_secs(60)),
        },
        dry_run,
    };
    // Sites on one server share its config test and reload: they are applied one at a time,
    // so one site's half-applied file is never tested or reloaded as part of another's apply.
    let gates: BTreeMap<String, tokio::sync::Mutex<()>> = to_apply
        .iter()
        .map(|(site, _)| (server_key(site), tokio::sync::Mutex::new(())))
        .collect();
    let gates = &gates;
    let results: Vec<(String, apply::SiteApply)> = stream::iter(to_apply.iter())
        .map(|(site, plan)| async move {
            let _turn = match gates.get(&server_key(site)) {
                Some(gate) => Some(gate.lock().await),
                None => None,
            };
            if ctx.stop.load(Ordering::SeqCst) {
                let msg = "interrupted by a signal before this site was applied";
                let skipped = apply::SiteApply {
                    actions: records(&plan.changes, ActionResult::Skipped, msg),
                    cannot: Vec::new(),
                    error: None,
                };
                return (plan.site.clone(), skipped);
            }
            let recovering = ctx.interrupted.iter().any(|i| i.entry.site == plan.site);
            // A panic in one site's apply becomes that site's failed apply (`isolate`).
            let work = apply::apply_site(actx, site, plan, recovering);
            (
                plan.site.clone(),
                crate::isolate::site_apply(plan, work).await,
            )
        })
        .buffer_unordered(ctx.opts.concurrency.max(1))
        .collect()
        .await;
    let mut applied: Vec<&Site> = Vec::new();
    for (name, result) in results {
        let done = result
            .actions
            .iter()
            .filter(|a| a.result == ActionResult::Applied)
            .count();
        let note = match (&result.error, done, result.cannot.len()) {
            (Some(e), _, _) => format!("apply failed, rolled back: {e}"),
            (None, 0, 0) if dry_run => "dry run: nothing would be applied".into(),
            (None, 0, _) if dry_run => format!(
                "dry run: {} change(s) would be proposed",
                result.cannot.len()
            ),
            (None, 0, 0) => "nothing to apply".into(),
            (None, n, 0) if !dry_run => format!("applied {n} change(s)"),
            (None, n, c) => format!(
                "{} {n} change(s); {c} need a proposal",
                if dry_run { "would apply" } else { "applied" }
            ),
        };
        let attempted = result
            .actions
            .iter()
            .any(|a| matches!(a.result, ActionResult::Applied | ActionResult::Failed));
        if attempted
            && !dry_run
            && let Some((site, _)) = to_apply.iter().find(|(s, _)| s.name.as_str() == name)
        {
            applied.push(site);
        }
        if !result.cannot.is_empty() && !dry_run {
            to_propose.push((name.clone(), result.cannot));
        }
        notes.insert(name.clone(), note);
        actions.insert(name, result.actions);
    }
    // 6. Observe the sites an apply was attempted on again (applied, or failed and rolled
    //    back): the record states what is live now.
    if !applied.is_empty() {
        let again = survey::survey(ctx.repo, &applied, ctx.opts).await;
        for after in again.sites {
            if let Some(slot) = found.sites.iter_mut().find(|p| p.site == after.site) {
                *slot = after;
            }
        }
    }
    // Changes already proposed that the re-observation shows fixed are dropped.
    for (name, changes) in &mut to_propose {
        if let Some(p) = found.sites.iter().find(|p| &p.site == name) {
            changes.retain(|(c, _)| {
                p.changes
                    .iter()
                    .any(|now| now.resource == c.resource && now.key == c.key)
            });
        }
    }
    to_propose.retain(|(_, c)| !c.is_empty());
    Outcome {
        plan: Plan::new(ctx.run.clone(), found.sites),
        actions,
        notes,
        interrupted,
        to_propose,
        refused: refused_count,
    }
}

/// Which server a site's config lives on: the SSH host and port, or this machine.
fn server_key(site: &Site) -> String {
    match site
        .manage
        .server
        .as_ref()
        .and_then(|m| m.transport.host.as_ref())
    {
        Some(h) => format!("{}:{}", h.host.to_ascii_lowercase(), h.port.unwrap_or(22)),
        None => "local".to_owned(),
    }
}

/// Per site of a saved plan: why it may not be applied (stale, or not in the plan at all).
fn refusals(ctx: &RunCtx<'_>, now: &[SitePlan]) -> BTreeMap<String, String> {
    use crate::saved_plan::{Freshness, staleness};
    let Some(saved) = &ctx.saved else {
        return BTreeMap::new();
    };
    let fresh = staleness(saved, ctx.run.desired_commit.as_deref(), now);
    now.iter()
        .filter(|p| ctx.selected.contains(&p.site))
        .filter_map(|p| match fresh.get(&p.site) {
            Some(Freshness::Fresh) => None,
            Some(Freshness::Stale { reason }) => Some((p.site.clone(), reason.clone())),
            None => Some((
                p.site.clone(),
                "the site is not in the saved plan".to_owned(),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Health;

    fn plan(sync: SyncStatus) -> SitePlan {
        SitePlan {
            site: "a".into(),
            sync,
            health: Health::Healthy,
            observed_sha256: None,
            desired_sha256: String::new(),
            changes: vec![],
            checks: vec![],
            error: None,
            warnings: vec![],
        }
    }

    #[test]
    fn unknown_sites_are_never_acted_on() {
        for mode in [Mode::Reconcile, Mode::Apply { dry_run: false }] {
            for sync in [SyncMode::Auto, SyncMode::Propose, SyncMode::Observe] {
                assert_eq!(
                    decide(mode, sync, &plan(SyncStatus::Unknown)),
                    Decision::Unknown
                );
                assert_eq!(
                    decide(mode, sync, &plan(SyncStatus::InSync)),
                    Decision::Nothing
                );
            }
        }
    }

    #[test]
    fn sync_modes_decide_drift() {
        let drift = plan(SyncStatus::Drift);
        assert_eq!(
            decide(Mode::Reconcile, SyncMode::Auto, &drift),
            Decision::Apply
        );
        assert_eq!(
            decide(Mode::Reconcile, SyncMode::Propose, &drift),
            Decision::Propose
        );
        assert_eq!(
            decide(Mode::Reconcile, SyncMode::Observe, &drift),
            Decision::Report
        );
        // `apply` is the approval (after a merge): it applies propose sites too.
        assert_eq!(
            decide(Mode::Apply { dry_run: false }, SyncMode::Propose, &drift),
            Decision::Apply
        );
        assert_eq!(
            decide(Mode::Apply { dry_run: false }, SyncMode::Observe, &drift),
            Decision::Report
        );
    }
}
