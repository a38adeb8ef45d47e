//! `siteward apply` and `siteward reconcile`: the acting commands. This handler does what needs
//! the git repo around the core loop ([`crate::reconcile`]): the repo lock, proposals, the run
//! record (always, also after a failure or a signal) and the push.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::audit::{self, ActionRecord, ActionResult, Trigger};
use crate::cli::{RunOpts, Select};
use crate::exit::Exit;
use crate::git::Repo;
use crate::journal::{Interrupted, Journal};
use crate::lock::RepoLock;
use crate::plan::SyncStatus;
use crate::proposal::{self, Outcome as ProposalOutcome};
use crate::reconcile::{self, Mode, Outcome, RunCtx};
use crate::spec::{BranchName, DesiredState, Site};
use crate::survey;

/// Parsed `apply`/`reconcile` arguments.
#[derive(Debug, Clone)]
pub struct RunArgs {
    pub mode: Mode,
    /// `apply PLAN`: a saved plan.
    pub saved: Option<PathBuf>,
    pub select: Select,
    pub run: RunOpts,
    pub push: Option<String>,
    /// Print the run record as JSON instead of a line per site.
    pub json: bool,
}

/// Runs `apply` or `reconcile` on the state repo at `repo`.
pub fn run(repo: &Path, args: RunArgs) -> anyhow::Result<Exit> {
    let dry_run = matches!(args.mode, Mode::Apply { dry_run: true });
    // Load; invalid input touches nothing.
    let Some(state) = survey::load_or_report(repo, "nothing was changed")? else {
        return Ok(Exit::Error);
    };
    let saved = args
        .saved
        .as_deref()
        .map(crate::saved_plan::load)
        .transpose()?;
    // The repo lock keeps two acting runs apart (a dry run changes nothing and takes none).
    let git = if dry_run {
        Repo::open(repo).ok()
    } else {
        Some(open_repo(repo)?)
    };
    // Who records, and where: resolved before anything is changed, so a bad `audit.author` or
    // `--audit-branch` can never leave applied changes without a record.
    let audit = match &git {
        Some(g) if !dry_run => Some((
            audit::author(state.settings.audit_author.as_deref(), g)?,
            super::audit_branch(&args.run, &state.settings)?,
        )),
        _ => None,
    };
    let lock = match (&git, dry_run) {
        (Some(g), false) => Some(RepoLock::acquire(
            g.git_dir(),
            &repo.display().to_string(),
            Duration::from_secs(args.run.lock_timeout),
        )?),
        _ => None,
    };
    let picked = survey::pick(repo, &state, &args.select)?;
    for name in &picked.removed {
        eprintln!("{name}: no longer managed (its site file was deleted): no action");
    }
    let mut sites = picked.sites;
    if let Some(plan) = &saved {
        sites.retain(|s| plan.sites.iter().any(|p| p.site == s.name.as_str()));
        for p in plan
            .sites
            .iter()
            .filter(|p| !state.sites.keys().any(|k| k.as_str() == p.site))
        {
            eprintln!(
                "{}: in the saved plan but no longer in the state repo: no action",
                p.site
            );
        }
    }
    let selected = sites.iter().map(|s| s.name.to_string()).collect();
    let journal = Journal::for_repo(repo);
    // Under the repo lock no other acting run is alive, so every entry but ours is a dead one.
    let interrupted = journal.interrupted(lock.is_some());
    add_interrupted(&interrupted, &state, &mut sites);
    let ctx = RunCtx {
        repo,
        mode: args.mode,
        opts: survey::observe_opts(&state.settings, &args.run, sites.len())?,
        run: survey::new_run(repo),
        journal,
        stop: Arc::new(AtomicBool::new(false)),
        saved,
        selected,
        interrupted,
    };
    let runtime = survey::runtime()?;
    // The watcher stays until the process ends: a signal during proposals, the record or the
    // push is not lost (the first one lets them finish; a second one exits at once).
    runtime.spawn(stop_on_signal(ctx.stop.clone()));
    let mut outcome = runtime.block_on(reconcile::run(&ctx, &sites));
    let interrupted = ctx.stop.load(Ordering::SeqCst);
    let trigger = Trigger::from_env(args.run.trigger.as_deref());
    let (Some(git), Some((author, branch))) = (git.filter(|_| !dry_run), audit) else {
        if args.json {
            print_json(&outcome.record(args.mode, trigger))?;
        } else {
            print_summary(&outcome, None, dry_run)?;
        }
        return Ok(outcome.exit());
    };
    // Proposals, then the record: the record is written even if proposals failed.
    let proposals = write_proposals(&git, &state, &author, &mut outcome);
    let record = outcome.record(args.mode, trigger);
    let commit = audit::record_run(&git, &branch, &author, &record)
        .context("cannot record the run on the audit branch")?;
    // An interruption is forgotten once a record carries it and its site was really
    // re-verified: selected (so acted on if needed) and observed.
    let recorded = |site: &str| {
        ctx.selected.contains(site)
            && outcome
                .plan
                .sites
                .iter()
                .any(|p| p.site == site && p.sync != SyncStatus::Unknown)
    };
    for i in outcome
        .interrupted
        .iter()
        .filter(|i| recorded(&i.entry.site))
    {
        if let Err(e) = i.clear() {
            tracing::warn!(
                "cannot clear the crash journal entry of `{}`: {e}",
                i.entry.site
            );
        }
    }
    if args.json {
        print_json(&record)?;
    } else {
        print_summary(&outcome, Some((&branch, &commit.to_string())), false)?;
    }
    if let Some(remote) = &args.push {
        let report = audit::push_audit(&git, remote, &branch)?;
        let replayed = match report.replayed {
            0 => String::new(),
            n => format!(", {n} record(s) rebuilt on the moved remote tip"),
        };
        eprintln!(
            "pushed `{branch}` to `{remote}` at {}{replayed}",
            &report.tip.to_string()[..12]
        );
    }
    proposals?;
    if interrupted {
        bail!("interrupted by a signal: the run was recorded; sites not yet applied were skipped");
    }
    Ok(outcome.exit())
}

fn open_repo(repo: &Path) -> anyhow::Result<Repo> {
    Repo::open(repo).with_context(|| {
        format!(
            "`{}` must be a git repository: every acting run is recorded on its audit branch",
            repo.display()
        )
    })
}

/// Sites an interrupted run was applying are re-verified even when not selected.
fn add_interrupted<'a>(
    interrupted: &[Interrupted],
    state: &'a DesiredState,
    sites: &mut Vec<&'a Site>,
) {
    for i in interrupted {
        if let Some(site) = state
            .sites
            .values()
            .find(|s| s.name.as_str() == i.entry.site)
            && !sites.iter().any(|s| s.name == site.name)
        {
            sites.push(site);
        }
    }
}

/// SIGINT or SIGTERM: stop starting new site applies; the run finishes and records.
async fn stop_on_signal(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!(
        "siteward: signal received; finishing the running applies and recording the run (a second signal exits at once)"
    );
    stop.store(true, Ordering::SeqCst);
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!(
        "siteward: second signal; exiting without finishing (the next run reports any interrupted apply)"
    );
    std::process::exit(i32::from(Exit::Error.code()));
}

/// Writes (or dedupes) proposals and resolves those of sites now in sync; each becomes an
/// action of the site. Returns the first failure after trying every site.
fn write_proposals(
    git: &Repo,
    state: &DesiredState,
    author: &crate::git::Identity,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let prefix = &state.settings.proposals_prefix;
    let mut first_error = None;
    let site = |name: &str| state.sites.values().find(|s| s.name.as_str() == name);
    for (name, changes) in std::mem::take(&mut outcome.to_propose) {
        let (Some(site), Some(plan)) = (
            site(&name),
            outcome.plan.sites.iter().find(|p| p.site == name),
        ) else {
            continue;
        };
        let result = proposal::propose(
            git,
            prefix,
            author,
            site,
            plan,
            &changes,
            &outcome.plan.run.id,
        );
        let message = match &result {
            Ok(ProposalOutcome::Written { branch, .. }) => format!("proposed on `{branch}`"),
            Ok(ProposalOutcome::Unchanged { branch }) => {
                format!("already proposed on `{branch}` (same drift)")
            }
            Ok(_) => continue,
            Err(e) => format!("cannot write the proposal: {}", crate::error_text::chain(e)),
        };
        // A proposal already open for the same drift is not proposed again: the record says so.
        let result_kind = match &result {
            Ok(ProposalOutcome::Written { .. }) => ActionResult::Proposed,
            Ok(_) => ActionResult::Skipped,
            Err(_) => ActionResult::Failed,
        };
        let actions = outcome.actions.entry(name.clone()).or_default();
        actions.extend(changes.iter().map(|(c, why)| ActionRecord {
            resource: c.resource,
            key: c.key.clone(),
            action: c.action,
            result: result_kind,
            message: Some(format!("{message}: {why}")),
        }));
        let note = outcome.notes.entry(name).or_default();
        if !note.is_empty() {
            note.push_str("; ");
        }
        note.push_str(&format!("{} change(s) {message}", changes.len()));
        if let Err(e) = result {
            first_error.get_or_insert(anyhow::Error::new(e));
        }
    }
    for plan in outcome
        .plan
        .sites
        .iter()
        .filter(|p| p.sync == SyncStatus::InSync)
    {
        let Some(site) = site(&plan.site) else {
            continue;
        };
        match proposal::resolve(git, prefix, author, site, &outcome.plan.run.id) {
            Ok(ProposalOutcome::Resolved { branch, .. }) => {
                outcome.notes.insert(
                    plan.site.clone(),
                    format!("in sync; proposal on `{branch}` marked resolved"),
                );
            }
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(anyhow::Error::new(e));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn print_json(record: &audit::RunRecord) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, record)?;
    writeln!(out)
}

/// One line per site, then where the record went.
fn print_summary(
    outcome: &Outcome,
    recorded: Option<(&BranchName, &str)>,
    dry_run: bool,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let s = &outcome.plan.summary;
    let verb = if dry_run { "dry run" } else { "run" };
    writeln!(
        out,
        "{verb} {}: {} site(s), {} in sync, {} drift, {} unknown",
        outcome.plan.run.id, s.sites, s.in_sync, s.drift, s.unknown
    )?;
    for i in &outcome.interrupted {
        writeln!(out, "warning: {}", i.message())?;
    }
    for p in &outcome.plan.sites {
        let status = match p.sync {
            SyncStatus::InSync => "in sync",
            SyncStatus::Drift => "drift",
            SyncStatus::Unknown => "unknown",
        };
        let note = outcome.notes.get(&p.site).map(String::as_str).unwrap_or("");
        let error = p
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        // Notes, errors and warnings carry server text: escaped for the terminal (issue #16).
        let line = format!("{:<32} {status:<8} {note}{error}", p.site);
        writeln!(out, "  {}", crate::report::escape::text(&line))?;
        for w in &p.warnings {
            writeln!(out, "    warning: {}", crate::report::escape::text(w))?;
        }
    }
    if let Some((branch, commit)) = recorded {
        writeln!(
            out,
            "recorded on `{branch}` as {}",
            &commit[..commit.len().min(12)]
        )?;
    }
    Ok(())
}
