//! The core loop of `apply` and `reconcile`. [`run`] is the inner loop (steps 1–6); the outer
//! layer, `cmd/run.rs`, holds the repo lock, writes proposals and always records the outcome —
//! also when a step failed or a SIGINT/SIGTERM arrived (steps 7–8):
//!
//! 1. report applies a killed run left unfinished (crash journal) and re-verify their sites;
//! 2. observe, diff and stage the selected sites: every change gets its step (`crate::stage`);
//! 3. (saved plan) refuse sites whose live or desired state or steps changed since the plan;
//! 4. execute the steps: `skip`s are recorded, `propose`s collected, `apply`s run below;
//! 5. apply through providers: sites on one server as one batch (one test, one reload), other
//!    servers in parallel;
//! 6. observe the applied sites again: the final state is what was verified, not assumed;
//! 7. write proposals, and resolve those whose drift is gone;
//! 8. record the run on the audit branch (and push it when asked).
//!
//! Guarantees: an `unknown` site is never changed or proposed for; `sync: observe` sites are
//! only reported; nothing is applied that the plan stage did not stage as `apply`; a site is
//! applied at most once per run; after a signal or the `--deadline` no new site apply starts,
//! the running ones finish (providers roll back on failure) and the run is recorded.

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
use crate::plan::{Change, Plan, Resource, RunInfo, SitePlan, Step, SyncStatus};
use crate::provider::Provider;
use crate::spec::Site;
use crate::stage::{self, Command, with_step};
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

    /// The command the plan stage stages for.
    fn stage(self) -> Command {
        match self {
            Mode::Apply { .. } => Command::Apply,
            Mode::Reconcile => Command::Reconcile,
        }
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
    /// The secrets of the run's sites, resolved once.
    pub secrets: crate::secret::RunSecrets,
    /// Applies a killed run left unfinished (read from the journal once, by the caller, which
    /// also adds their sites to the run).
    pub interrupted: Vec<Interrupted>,
    /// Sites' series of failed ACME issuances, read from the audit branch by the caller.
    pub backoff: BTreeMap<String, crate::certificate::backoff::Backoff>,
    /// `--force`: certificate changes are applied even while their site backs off.
    pub force: bool,
    /// `--max-parallel-sites` and `--stop-after-failures` for software changes.
    pub software: crate::wordpress::fleet::Gate,
    /// Known vulnerabilities (`vulnerabilities:`), matched against what observation found.
    pub feed: crate::vuln::Feed,
    /// Sites inside a change window (site → hold reason): their `apply` steps are held.
    pub held: BTreeMap<String, String>,
    /// `--ignore-windows`: who overrode which sites' windows, and why.
    pub windows_overridden: Option<crate::windows::WindowOverride>,
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
    /// The certificate each observed site serves now (for `--metrics`).
    pub certificates: BTreeMap<String, crate::metrics::Certificate>,
    /// The web grade of each graded site (when a notification target wants `grade_dropped`).
    pub grades: BTreeMap<String, String>,
    /// `--ignore-windows`: who overrode which sites' windows, and why (recorded).
    pub windows_overridden: Option<crate::windows::WindowOverride>,
}

impl Outcome {
    /// SPEC's exit code: an error (unknown site, failed or refused apply) wins over drift.
    pub fn exit(&self) -> Exit {
        let failed = self
            .actions
            .values()
            .flatten()
            .any(|a| a.result == ActionResult::Failed);
        if self.plan.incomplete() || failed || self.refused > 0 {
            Exit::Error
        } else if self.plan.summary.drift > 0 || self.proposed() {
            Exit::Drift
        } else {
            Exit::Ok
        }
    }

    /// Whether a proposal was written (an update proposal can be made for a site in sync):
    /// SPEC's exit 2, "proposals made".
    fn proposed(&self) -> bool {
        self.actions
            .values()
            .flatten()
            .any(|a| a.result == ActionResult::Proposed)
    }

    /// The run record.
    pub fn record(&self, mode: Mode, trigger: Trigger) -> RunRecord {
        let mut record = RunRecord::from_plan(
            &self.plan,
            mode.command(),
            trigger,
            chrono::Utc::now(),
            self.actions.clone(),
        );
        record.run.windows_overridden = self.windows_overridden.clone();
        record.observed(&self.certificates, &self.grades);
        record
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
    // 2. Observe, diff and stage: every change gets its step.
    let mut found = survey::survey(
        ctx.repo,
        sites,
        ctx.opts,
        Some(ctx.mode.stage()),
        &ctx.secrets,
    )
    .await;
    crate::vuln::flag(&mut found.sites, sites, &found.live, &ctx.feed);
    let mut certificates = crate::metrics::certificates(&found.live);
    let mut grades = crate::notify::grades(&found.live);
    for plan in &mut found.sites {
        if let Some(i) = interrupted.iter().find(|i| i.entry.site == plan.site) {
            plan.warnings.push(i.message());
        }
    }
    //    Sites backing off after ACME errors hold their certificate changes (as `plan` shows).
    crate::certificate::backoff::hold(
        &mut found.sites,
        &ctx.backoff,
        ctx.force,
        chrono::Utc::now(),
    );
    // 3. A saved plan: stale sites are refused; every other site's steps must be the plan's.
    let refused = refusals(ctx, &found.sites);
    //    Sites inside a change window hold their `apply` steps (as `plan` shows).
    for plan in &mut found.sites {
        if let Some(reason) = ctx.held.get(&plan.site) {
            stage::hold_all(plan, reason);
        }
    }
    let mut actions: BTreeMap<String, Vec<ActionRecord>> = BTreeMap::new();
    let mut to_propose = Vec::new();
    let mut to_apply: Vec<(&Site, Vec<Change>)> = Vec::new();
    let dry_run = matches!(ctx.mode, Mode::Apply { dry_run: true });
    for (site, plan) in sites.iter().zip(found.sites.iter_mut()) {
        let name = plan.site.clone();
        if let Some(reason) = refused.get(&name) {
            let refused = format!("refused: {reason}; run `siteward plan` again");
            stage::skip_all(plan, &refused);
            actions.insert(
                name.clone(),
                records(&plan.changes, ActionResult::Failed, &refused),
            );
            notes.insert(name, refused);
            continue;
        }
        if !ctx.selected.contains(&name) {
            let why =
                "re-verified after an interrupted apply; not selected, so nothing was changed";
            stage::skip_all(plan, why);
            notes.insert(name, why.into());
            continue;
        }
        if plan.sync == SyncStatus::Unknown {
            notes.insert(name, "not observed: nothing was changed".into());
            continue;
        }
        // 4. Execute the plan's steps: skips are recorded, proposals collected, applies run
        //    below.
        let mut done: Vec<ActionRecord> = Vec::new();
        let window = ctx.held.get(&name);
        for c in with_step(plan, Step::Skip) {
            let result = if window.is_some_and(|w| c.reason.as_ref() == Some(w)) {
                ActionResult::Held
            } else {
                ActionResult::Skipped
            };
            done.extend(records([c], result, reason(c)));
        }
        let propose: Vec<(Change, String)> = with_step(plan, Step::Propose)
            .map(|c| (c.clone(), reason(c).to_owned()))
            .collect();
        if dry_run {
            for (c, why) in &propose {
                let msg = format!("dry run: would propose: {why}");
                done.extend(records([c], ActionResult::Skipped, &msg));
            }
        } else if !propose.is_empty() {
            to_propose.push((name.clone(), propose));
        }
        let apply: Vec<Change> = with_step(plan, Step::Apply).cloned().collect();
        if !apply.is_empty() {
            to_apply.push((site, apply));
        }
        notes.insert(name.clone(), steps_note(plan, dry_run, "applying"));
        if !done.is_empty() {
            actions.insert(name, done);
        }
    }
    // 5. Apply, sites in parallel within the concurrency limit.
    let actx = ApplyCtx {
        repo: ctx.repo,
        run_id: &ctx.run.id,
        journal: &ctx.journal,
        opts: ctx.opts,
        secrets: &ctx.secrets,
        backoff: &ctx.backoff,
        software: &ctx.software,
        dry_run,
    };
    // Sites on one server share its config test and reload: those that can be are applied
    // together as one batch (a write each, one test, one reload, verification in parallel);
    // the others one at a time. A server's batches and single applies never overlap.
    let gates: BTreeMap<String, tokio::sync::Mutex<()>> = to_apply
        .iter()
        .map(|(site, _)| (server_key(site), tokio::sync::Mutex::new(())))
        .collect();
    let gates = &gates;
    let groups = batches(ctx, &to_apply, dry_run);
    let applying = crate::progress::Phase::start(
        "apply",
        crate::progress::Unit::Sites,
        to_apply.len(),
        ctx.opts.progress,
    );
    let progress = &applying;
    let results: Vec<Vec<(String, apply::SiteApply)>> = stream::iter(groups)
        .map(|group| async move {
            let _turn = match group.first().and_then(|(s, _)| gates.get(&server_key(s))) {
                Some(gate) => Some(gate.lock().await),
                None => None,
            };
            let _running: Vec<_> = group
                .iter()
                .map(|(site, _)| progress.begin(site.name.as_str()))
                .collect();
            let late = ctx
                .opts
                .deadline
                .is_some_and(|d| std::time::Instant::now() >= d);
            if ctx.stop.load(Ordering::SeqCst) || late {
                let msg = if late {
                    "the run's `--deadline` passed before this site was applied"
                } else {
                    "interrupted by a signal before this site was applied"
                };
                return group
                    .iter()
                    .map(|(site, changes)| {
                        let skipped = apply::SiteApply {
                            actions: records(*changes, ActionResult::Skipped, msg),
                            error: None,
                        };
                        (site.name.to_string(), skipped)
                    })
                    .collect();
            }
            if let [(site, changes)] = group.as_slice() {
                let name = site.name.to_string();
                let recovering = ctx.interrupted.iter().any(|i| i.entry.site == name);
                // A panic in one site's apply becomes that site's failed apply (`isolate`).
                let work = apply::apply_site(actx, site, changes, recovering);
                let done = crate::isolate::site_apply(&name, changes, work).await;
                return vec![(name, done)];
            }
            apply::apply_batch(actx, &group).await
        })
        .buffer_unordered(ctx.opts.concurrency.max(1))
        .collect()
        .await;
    drop(applying);
    let results = results.into_iter().flatten();
    let mut applied: Vec<&Site> = Vec::new();
    for (name, result) in results {
        let applied_all = result
            .actions
            .iter()
            .all(|a| a.result == ActionResult::Applied);
        let note = match &result.error {
            Some(e) => Some(format!("apply failed: {e}")),
            None if applied_all && !dry_run => found
                .sites
                .iter()
                .find(|p| p.site == name)
                .map(|p| steps_note(p, false, "applied")),
            // A dry run keeps its plan note; a site a signal stopped says so.
            None if dry_run => None,
            None => result.actions.first().and_then(|a| a.message.clone()),
        };
        if let Some(note) = note {
            notes.insert(name.clone(), note);
        }
        let attempted = result
            .actions
            .iter()
            .any(|a| matches!(a.result, ActionResult::Applied | ActionResult::Failed));
        if attempted && let Some((site, _)) = to_apply.iter().find(|(s, _)| s.name.as_str() == name)
        {
            applied.push(site);
        }
        actions.entry(name).or_default().extend(result.actions);
    }
    // 6. Observe the sites an apply was attempted on again (applied, or failed and rolled
    //    back): the record states what is live now.
    if !applied.is_empty() {
        let mut again = survey::survey(
            ctx.repo,
            &applied,
            ctx.opts,
            Some(ctx.mode.stage()),
            &ctx.secrets,
        )
        .await;
        crate::vuln::flag(&mut again.sites, &applied, &again.live, &ctx.feed);
        certificates.extend(crate::metrics::certificates(&again.live));
        grades.extend(crate::notify::grades(&again.live));
        for after in again.sites {
            if let Some(slot) = found.sites.iter_mut().find(|p| p.site == after.site) {
                *slot = after;
            }
        }
    }
    Outcome {
        plan: Plan::new(ctx.run.clone(), found.sites),
        actions,
        notes,
        interrupted,
        to_propose,
        refused: refused.len(),
        certificates,
        grades,
        windows_overridden: ctx.windows_overridden.clone(),
    }
}

/// The reason the plan stage gave for a change that is not applied.
fn reason(c: &Change) -> &str {
    c.reason.as_deref().unwrap_or("no reason given")
}

/// One line for people: how many changes get each step; `applying` says what happens to the
/// `apply` steps (`applying`, `applied`).
fn steps_note(plan: &SitePlan, dry_run: bool, applying: &str) -> String {
    let count = |s| with_step(plan, s).count();
    let (apply, propose, skip) = (count(Step::Apply), count(Step::Propose), count(Step::Skip));
    let mut parts = Vec::new();
    let (applying, proposing) = if dry_run {
        ("would apply", "would propose")
    } else {
        (applying, "proposing")
    };
    if apply > 0 {
        parts.push(format!("{applying} {apply} change(s)"));
    }
    if propose > 0 {
        parts.push(format!("{proposing} {propose}"));
    }
    if skip > 0 {
        let why = with_step(plan, Step::Skip)
            .next()
            .map(reason)
            .unwrap_or_default();
        parts.push(format!("{skip} change(s) reported ({why})"));
    }
    let prefix = if dry_run { "dry run: " } else { "" };
    match parts.is_empty() {
        true => format!("{prefix}nothing to do"),
        false => format!("{prefix}{}", parts.join("; ")),
    }
}

/// The groups of sites applied together: sites on one server with the same provider and
/// commands form a batch; a dry run, a site recovering an interrupted apply, and a site whose
/// changes are not all headers and redirects are applied on their own.
fn batches<'a>(
    ctx: &RunCtx<'_>,
    to_apply: &'a [(&'a Site, Vec<Change>)],
    dry_run: bool,
) -> Vec<Vec<(&'a Site, &'a [Change])>> {
    let mut groups: BTreeMap<String, Vec<(&Site, &[Change])>> = BTreeMap::new();
    let mut singles = Vec::new();
    for (site, changes) in to_apply {
        let recovering = ctx
            .interrupted
            .iter()
            .any(|i| i.entry.site == site.name.as_str());
        let web_only = changes
            .iter()
            .all(|c| matches!(c.resource, Resource::Header | Resource::Redirect));
        match &site.manage.server {
            Some(m)
                if !dry_run
                    && !recovering
                    && web_only
                    && Provider::for_site(site, ctx.repo)
                        .ok()
                        .flatten()
                        .is_some_and(|p| p.batchable()) =>
            {
                let words = |c: &Option<crate::spec::Command>| {
                    c.as_ref().map(|c| c.words().join(" ")).unwrap_or_default()
                };
                let key = format!(
                    "{}|{}|{}|{}",
                    server_key(site),
                    m.provider.as_str(),
                    words(&m.test_command),
                    words(&m.reload_command)
                );
                groups.entry(key).or_default().push((site, changes));
            }
            _ => singles.push(vec![(*site, changes.as_slice())]),
        }
    }
    groups.into_values().chain(singles).collect()
}

/// Which server a site's config lives on: the SSH host and port, or this machine.
fn server_key(site: &Site) -> String {
    let server = site.manage.server.as_ref().map(|m| &m.transport);
    // A site whose certificate only is managed reloads the server its certificate is on.
    let certificate = site.manage.certificate.as_ref().map(|m| &m.transport);
    match server.or(certificate).and_then(|t| t.host.as_ref()) {
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
