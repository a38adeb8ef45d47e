//! `siteward apply` and `siteward reconcile`: the acting commands. This handler does what needs
//! the git repo around the core loop ([`crate::reconcile`]): the repo lock, proposals, the run
//! record (always, also after a failure or a signal) and the push.
//!
//! An acting run is recorded, or it does not act: before any provider runs, the audit branch
//! must be writable (a ref lock left by a killed process is removed), and records that earlier
//! runs kept in the crash journal are committed. A record that still cannot be committed after
//! acting is kept there for the next run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};

use crate::audit::{self, ActionRecord, ActionResult, Trigger};
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::git::{CommitId, Identity, Repo};
use crate::journal::{Interrupted, Journal, KeptRecord};
use crate::lock::RepoLock;
use crate::plan::SyncStatus;
use crate::progress::{Phase, Unit};
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
    /// The validated flags.
    pub config: RunConfig,
    pub push: Option<String>,
    /// Print the run record as JSON instead of a line per site.
    pub json: bool,
    /// `-q`: the summary line only, no line per site.
    pub quiet: bool,
    /// `--force`: apply certificate changes even while their site backs off after ACME errors.
    pub force: bool,
    /// `--max-parallel-sites`, `--stop-after-failures`: limits on software changes.
    pub fleet: crate::cli::Fleet,
    /// `--ignore-windows --reason TEXT`: the reason; `None` respects the change windows.
    pub ignore_windows: Option<String>,
    /// `--metrics FILE` (`reconcile`): Prometheus text format, written atomically.
    pub metrics: Option<PathBuf>,
}

/// Runs `apply` or `reconcile` on the state repo at `repo`.
pub fn run(repo: &Path, args: RunArgs) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    let dry_run = matches!(args.mode, Mode::Apply { dry_run: true });
    // Load; invalid input touches nothing.
    let Some(state) = survey::load_or_report(repo, "nothing was changed")? else {
        if let Some(path) = &args.metrics {
            crate::metrics::write(
                path,
                &crate::metrics::RunMetrics::invalid("reconcile", started),
            )?;
        }
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
            args.config.audit_branch(&state.settings),
        )),
        _ => None,
    };
    let lock = match (&git, dry_run) {
        (Some(g), false) => Some(RepoLock::acquire(
            g.git_dir(),
            &repo.display().to_string(),
            args.config.lock_timeout,
        )?),
        _ => None,
    };
    let journal = Journal::for_repo(repo);
    // Check before acting: the run's record can be written, and earlier runs' kept records
    // are committed first (so the audit history stays in order).
    let late = match (&git, &audit, &lock) {
        (Some(g), Some((author, branch)), Some(held)) => {
            prepare_record(g, branch, author, held, &journal)?
        }
        _ => Vec::new(),
    };
    let picked = survey::pick(repo, &state, &args.config.select)?;
    for name in &picked.removed {
        tracing::warn!("{name}: no longer managed (its site file was deleted): no action");
    }
    let mut sites = picked.sites;
    if let Some(plan) = &saved {
        sites.retain(|s| plan.sites.iter().any(|p| p.site == s.name.as_str()));
        for p in plan
            .sites
            .iter()
            .filter(|p| !state.sites.keys().any(|k| k.as_str() == p.site))
        {
            tracing::warn!(
                "{}: in the saved plan but no longer in the state repo: no action",
                p.site
            );
        }
    }
    let selected = sites.iter().map(|s| s.name.to_string()).collect();
    // Under the repo lock no other acting run is alive, so every entry but ours is a dead one.
    let interrupted = journal.interrupted(lock.is_some());
    add_interrupted(&interrupted, &state, &mut sites);
    let backoff = git
        .as_ref()
        .map(|g| {
            let branch = args.config.audit_branch(&state.settings);
            crate::certificate::backoff::read(g, branch.as_str(), &sites)
        })
        .unwrap_or_default();
    // Sites inside a change window hold their changes, unless `--ignore-windows` (recorded).
    let inside = crate::windows::holds(
        &state.settings.windows,
        sites.iter().copied(),
        chrono::Utc::now(),
    );
    let (held, windows_overridden) = match &args.ignore_windows {
        None => (inside, None),
        Some(reason) => {
            let by = Trigger::from_env(args.config.trigger.as_deref())
                .actor
                .or_else(|| audit.as_ref().map(|(author, _)| author.to_string()))
                .unwrap_or_else(|| "unknown".into());
            let sites: Vec<String> = inside.into_keys().collect();
            if !sites.is_empty() {
                tracing::warn!(
                    "--ignore-windows: acting inside the change windows of {} ({reason})",
                    sites.join(", ")
                );
            }
            let reason = reason.clone();
            (
                Default::default(),
                Some(crate::windows::WindowOverride { by, reason, sites }),
            )
        }
    };
    let mut opts = args.config.observe(&state.settings, sites.len());
    opts.grade |= crate::notify::wants_grades(&state.settings.notify);
    // A feed that cannot be read or parsed is invalid input: nothing is changed.
    let feed = crate::vuln::Feed::load_blocking(repo, &state.settings, opts.timeout * 6)?;
    let ctx = RunCtx {
        repo,
        mode: args.mode,
        opts,
        run: survey::new_run(repo),
        journal,
        stop: Arc::new(AtomicBool::new(false)),
        saved,
        selected,
        secrets: crate::secret::RunSecrets::resolve(&sites, repo),
        interrupted,
        backoff,
        force: args.force,
        software: crate::wordpress::fleet::Gate::new(
            args.fleet.max_parallel_sites.map(usize::from),
            args.fleet.stop_after_failures.map(usize::from),
        ),
        feed,
        held,
        windows_overridden,
    };
    let runtime = survey::runtime()?;
    // The watcher stays until the process ends: a signal during proposals, the record or the
    // push is not lost (the first one lets them finish; a second one exits at once).
    // The handlers are installed here, before the run starts, so no signal can arrive
    // between now and a spawned task's first poll and kill the run unrecorded.
    let signals = runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
    });
    match signals {
        Ok(signals) => {
            runtime.spawn(stop_on_signal(signals, ctx.stop.clone()));
        }
        Err(e) => tracing::warn!("cannot watch for SIGINT/SIGTERM: {e}"),
    }
    let mut outcome = runtime.block_on(reconcile::run(&ctx, &sites));
    let interrupted = ctx.stop.load(Ordering::SeqCst);
    let trigger = Trigger::from_env(args.config.trigger.as_deref());
    let (Some(git), Some((author, branch))) = (git.filter(|_| !dry_run), audit) else {
        if args.json {
            print_json(&outcome.record(args.mode, trigger))?;
        } else {
            print_summary(&outcome, &Recorded::Nowhere, dry_run, args.quiet)?;
        }
        return Ok(outcome.exit());
    };
    // Proposals, then the record: the record is written even if proposals failed.
    let proposals = write_proposals(&git, &state, &author, &mut outcome);
    // Version-bump proposals (`updates:`, reconcile only), beside the drift proposals; a failure
    // is reported after the record is written, like a proposal's.
    let updates = match args.mode {
        Mode::Reconcile => crate::updates::step::run(
            repo,
            &git,
            &state,
            &author,
            &ctx.feed,
            ctx.opts.timeout * 6,
            &mut outcome,
        ),
        Mode::Apply { .. } => Ok(()),
    };
    let mut record = outcome.record(args.mode, trigger);
    let recording = Phase::start(
        "record",
        Unit::Steps,
        usize::from(!state.settings.notify.is_empty()) + 1,
        ctx.opts.progress,
    );
    // Notifications on transitions since the previous record; their outcomes are recorded.
    if !state.settings.notify.is_empty() {
        let _step = recording.begin("notify");
        record.notifications = crate::notify::send(
            &git,
            branch.as_str(),
            &state.settings.notify,
            &record,
            repo,
            ctx.opts.timeout,
        );
    }
    // Write-ahead: the record stays in the crash journal until it is committed, so a run
    // killed while recording, or one that cannot record, leaves it for the next run.
    let kept = keep(&ctx.journal, &record);
    #[cfg(feature = "fault-injection")]
    crate::fault::after_acting(&git, &branch);
    let committed = {
        let _step = recording.begin("commit");
        audit::record_run(&git, &branch, &author, &record)
    };
    drop(recording);
    let commit = match committed {
        Ok(commit) => commit,
        Err(e) => {
            let error = unrecorded(&record, &branch, &kept, e);
            match &kept {
                Ok(k) if !args.json => {
                    let recorded = Recorded::Kept {
                        late: &late,
                        path: &k.path,
                    };
                    print_summary(&outcome, &recorded, false, args.quiet)?;
                }
                // With `--json`, or as the last copy when it could not be kept.
                _ => print_json(&record)?,
            }
            return Err(error);
        }
    };
    match &kept {
        Ok(k) => {
            if let Err(e) = k.clear() {
                tracing::warn!("cannot remove `{}` (committed): {e}", k.path.display());
            }
        }
        Err(e) => {
            tracing::warn!("the record was committed without a copy in the crash journal: {e}")
        }
    }
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
        print_summary(
            &outcome,
            &Recorded::Branch {
                late: &late,
                branch: &branch,
                commit,
            },
            false,
            args.quiet,
        )?;
    }
    // The metrics tell the run as recorded; a proposal that could not be written or a signal
    // makes it an error run, as the exit code below does.
    if let Some(path) = &args.metrics {
        let failed = proposals.is_err() || updates.is_err() || interrupted;
        let metrics = crate::metrics::RunMetrics {
            command: "reconcile",
            started,
            finished: chrono::Utc::now(),
            exit: if failed { Exit::Error } else { outcome.exit() },
            sites: crate::metrics::plan_sites(&outcome.plan, &outcome.certificates),
        };
        crate::metrics::write(path, &metrics).context("the run was recorded")?;
    }
    if let Some(remote) = &args.push {
        // Bounded like the run's other network work: 6 × `--timeout` (60 s by default).
        let timeout = ctx.opts.timeout * 6;
        let pushed = {
            let pushing = Phase::start("push", Unit::Steps, 1, ctx.opts.progress);
            let _step = pushing.begin(remote);
            audit::push_audit(&git, remote, &branch, timeout)
        };
        let report = pushed.with_context(|| {
            format!(
                "cannot push `{branch}` to `{remote}`; the record is safe on the local branch, \
push it later"
            )
        })?;
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
    updates?;
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

/// A record an earlier run kept, committed by this one.
struct LateRecord {
    run: String,
    commit: Option<CommitId>,
}

/// Before acting, with the repo lock held: makes sure the record of this run can be written
/// (refusing to act otherwise), then commits the records earlier runs kept.
fn prepare_record(
    git: &Repo,
    branch: &BranchName,
    author: &Identity,
    held: &RepoLock,
    journal: &Journal,
) -> anyhow::Result<Vec<LateRecord>> {
    let refuse = |e: anyhow::Error| {
        e.context(format!(
            "cannot record on the audit branch `{branch}`, so nothing was changed"
        ))
    };
    match audit::ensure_writable(git, branch, held) {
        Ok(Some(stale)) => eprintln!(
            "warning: removed `{}`, a lock left {}s ago by a killed process that was updating `{branch}`",
            stale.path.display(),
            stale.age.as_secs()
        ),
        Ok(None) => {}
        Err(e) => return Err(refuse(e.into())),
    }
    let mut late = Vec::new();
    for kept in journal.kept_records() {
        let kept = match kept {
            Ok(k) => k,
            Err((path, e)) => {
                eprintln!(
                    "warning: cannot read the kept run record `{}` ({e}); it stays for the next run",
                    path.display()
                );
                continue;
            }
        };
        let (run, commit) = match audit::record_kept(git, branch, author, &kept.json) {
            Ok(done) => done,
            Err(audit::AuditError::Json(e)) => {
                eprintln!(
                    "warning: the kept run record `{}` is damaged ({e}); inspect it, then remove it",
                    kept.path.display()
                );
                continue;
            }
            Err(e) => {
                return Err(refuse(anyhow!(e).context(format!(
                    "cannot commit the run record kept in `{}`",
                    kept.path.display()
                ))));
            }
        };
        if let Some(c) = commit {
            eprintln!(
                "recorded run {run} on `{branch}` as {}: an earlier run could not record it and kept it in the crash journal",
                short(&c.to_string())
            );
        }
        if let Err(e) = kept.clear() {
            tracing::warn!(
                "cannot remove the committed record `{}`: {e}",
                kept.path.display()
            );
        }
        late.push(LateRecord { run, commit });
    }
    Ok(late)
}

/// Keeps `record` in the crash journal until it is committed.
fn keep(journal: &Journal, record: &audit::RunRecord) -> std::io::Result<KeptRecord> {
    let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    journal.keep_record(&record.run.id, &json)
}

/// The error of a run whose record could not be committed, saying where the record is.
fn unrecorded(
    record: &audit::RunRecord,
    branch: &BranchName,
    kept: &std::io::Result<KeptRecord>,
    error: audit::AuditError,
) -> anyhow::Error {
    let cannot = format!(
        "cannot record run {} on the audit branch `{branch}`",
        record.run.id
    );
    let context = match kept {
        Ok(k) => format!(
            "{cannot}; the record is kept in `{}` and the next run commits it",
            k.path.display()
        ),
        Err(e) => format!("{cannot}, nor keep it in the crash journal ({e}); it is printed above"),
    };
    anyhow::Error::new(error).context(context)
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
async fn stop_on_signal(
    (mut int, mut term): (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
    stop: Arc<AtomicBool>,
) {
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
            retry_after: None,
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

/// Where a run's record went.
enum Recorded<'a> {
    /// A dry run, or no git repo: not recorded.
    Nowhere,
    /// Committed; `late` are records of earlier runs committed before it.
    Branch {
        late: &'a [LateRecord],
        branch: &'a BranchName,
        commit: CommitId,
    },
    /// Could not be committed: kept in the crash journal at `path`.
    Kept {
        late: &'a [LateRecord],
        path: &'a Path,
    },
}

/// The first 12 digits of a commit id.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// One line per site (not with `-q`), then where the record went.
fn print_summary(
    outcome: &Outcome,
    recorded: &Recorded<'_>,
    dry_run: bool,
    quiet: bool,
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
    for p in outcome.plan.sites.iter().filter(|_| !quiet) {
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
    let late = match recorded {
        Recorded::Nowhere => &[][..],
        Recorded::Branch { late, .. } | Recorded::Kept { late, .. } => late,
    };
    for l in late {
        match l.commit {
            Some(c) => writeln!(
                out,
                "recorded earlier run {} (kept in the crash journal) as {}",
                l.run,
                short(&c.to_string())
            )?,
            None => writeln!(out, "earlier run {} was already recorded", l.run)?,
        }
    }
    match recorded {
        Recorded::Nowhere => {}
        Recorded::Branch { branch, commit, .. } => {
            writeln!(
                out,
                "recorded on `{branch}` as {}",
                short(&commit.to_string())
            )?;
        }
        Recorded::Kept { path, .. } => {
            writeln!(
                out,
                "not recorded: the record is kept in `{}`; the next run commits it",
                path.display()
            )?;
        }
    }
    Ok(())
}
