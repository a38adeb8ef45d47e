//! `siteward report --out DIR`: the static HTML fleet report ([`crate::report::html`]).
//! Read-only: sites are observed as `plan` and `check` observe them, nothing is changed and
//! nothing is recorded.
//!
//! Steps: 1. load (invalid input: print the problems to stderr, observe nothing, exit 1);
//! 2. select sites; 3. observe, diff and stage as `plan` does (change windows hold their
//! steps), grading as `check` does, while a second thread 4. reads the audit branch once,
//! newest run first, folding each site's history as it streams by, and 5. reads the proposal
//! branches; 6. write the pages.
//! Exit 0 when the report is written (drift and unknown sites are in it), 1 on invalid input
//! or when it cannot be written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::audit::{History, HistoryFilter};
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::proposal::list::Listed;
use crate::report::html::{Fleet, SiteHistory, SiteReport};
use crate::spec::{BranchName, DEFAULT_MIN_DAYS_LEFT, DesiredState, Site};
use crate::survey;

/// Parsed `report` arguments.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    /// The validated flags.
    pub config: RunConfig,
    /// The folder to write the report into.
    pub out: PathBuf,
}

/// Runs `siteward report` on the state repo at `repo`.
pub fn run(repo: &Path, args: ReportArgs) -> anyhow::Result<Exit> {
    // 1. Load; invalid input stops here.
    let Some(state) = survey::load_or_report(repo, "no report was written")? else {
        return Ok(Exit::Error);
    };
    // 2. Select.
    let picked = survey::pick(repo, &state, &args.config.select)?;
    let sites = picked.sites;
    // 3. Observe, diff, stage and grade, while another thread reads 4. the history and 5. the
    // proposals (network-bound and CPU-bound work overlap).
    let names: BTreeSet<String> = sites.iter().map(|s| s.name.to_string()).collect();
    let everyone = sites.len() == state.sites.len();
    let branch = args.config.audit_branch(&state.settings);
    let prefix = &state.settings.proposals_prefix;
    let (fleet, past) = std::thread::scope(|scope| {
        let past = scope.spawn(|| {
            let clock = Instant::now();
            let past = read_past(repo, branch.as_str(), prefix, names, everyone);
            tracing::info!("read the history in {:.2} s", clock.elapsed().as_secs_f64());
            past
        });
        let clock = Instant::now();
        let fleet = observe(repo, &state, &sites, &args.config);
        tracing::info!(
            "observed {} sites in {:.2} s",
            sites.len(),
            clock.elapsed().as_secs_f64()
        );
        let past = past
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (fleet, past)
    });
    let (mut fleet, mut past) = (fleet?, past?);
    for s in &mut fleet.sites {
        s.history = past.histories.remove(&s.name).unwrap_or_default();
        s.proposals = past.proposals.remove(&s.name).unwrap_or_default();
    }
    // 6. Write.
    let clock = Instant::now();
    crate::report::html::write(&args.out, &fleet)?;
    tracing::info!(
        "wrote {} pages in {:.2} s",
        fleet.sites.len() + 1,
        clock.elapsed().as_secs_f64()
    );
    println!(
        "report of {} site{} written to {}",
        fleet.sites.len(),
        if fleet.sites.len() == 1 { "" } else { "s" },
        crate::report::escape::text(&args.out.join("index.html").display().to_string())
    );
    Ok(Exit::Ok)
}

/// Every selected site observed now: its plan (staged as `apply` would, held inside a change
/// window), its check and its certificate; history left empty.
fn observe(
    repo: &Path,
    state: &DesiredState,
    sites: &[&Site],
    config: &RunConfig,
) -> anyhow::Result<Fleet> {
    let run = survey::new_run(repo);
    let opts = crate::observe::ObserveOpts {
        grade: true,
        ..config.observe(&state.settings, sites.len())
    };
    let feed = crate::vuln::Feed::load_blocking(repo, &state.settings, opts.timeout * 6)?;
    let probed: Vec<std::borrow::Cow<'_, Site>> = sites
        .iter()
        .map(|s| super::check::with_denied_plugins(state, s))
        .collect();
    let probed: Vec<&Site> = probed.iter().map(|s| s.as_ref()).collect();
    let secrets = crate::secret::RunSecrets::resolve(&probed, repo);
    let found = survey::runtime()?.block_on(survey::survey(
        repo,
        &probed,
        opts,
        Some(crate::stage::Command::Apply),
        &secrets,
    ));
    let mut plans = found.sites;
    crate::vuln::flag(&mut plans, sites, &found.live, &feed);
    let now = chrono::Utc::now();
    let held = crate::windows::holds(&state.settings.windows, sites.iter().copied(), now);
    let today = now.date_naive();
    let mut out = Vec::with_capacity(sites.len());
    for ((plan, site), live) in plans.into_iter().zip(sites).zip(&found.live) {
        let mut plan = plan;
        if let Some(reason) = held.get(&plan.site) {
            crate::stage::hold_all(&mut plan, reason);
        }
        let check = crate::vuln::with_findings(
            crate::policy::check_site(state, site, live, today, Default::default()),
            site,
            live,
            &feed,
        );
        out.push(SiteReport {
            name: site.name.to_string(),
            url: site.url.as_str().to_owned(),
            owner: site.owner.clone(),
            labels: site
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sync_mode: site.sync.as_str(),
            diff: found
                .yaml
                .get(site.name.as_str())
                .and_then(crate::report::unified),
            days_left: live.tls.as_ref().map(|t| t.days_left),
            min_days_left: site
                .certificate
                .as_ref()
                .map_or(DEFAULT_MIN_DAYS_LEFT, |c| c.min_days_left),
            plan,
            check,
            history: SiteHistory::default(),
            proposals: Vec::new(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Fleet {
        generated: run.started,
        desired_commit: run.desired_commit,
        sites: out,
    })
}

/// What the state repo's branches say about the selected sites.
#[derive(Default)]
struct Past {
    histories: BTreeMap<String, SiteHistory>,
    proposals: BTreeMap<String, Vec<Listed>>,
}

/// The history of the sites in `names` from the audit branch `branch` and their proposals
/// under `prefix`; nothing when the state repo is not a git repo.
fn read_past(
    repo: &Path,
    branch: &str,
    prefix: &BranchName,
    names: BTreeSet<String>,
    everyone: bool,
) -> anyhow::Result<Past> {
    let git = match crate::git::Repo::open(repo) {
        Ok(git) => git,
        Err(e) => {
            tracing::warn!("no history in the report: {e}");
            return Ok(Past::default());
        }
    };
    let mut proposals: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    for p in crate::proposal::list::list(&git, prefix)? {
        if names.contains(&p.site) {
            proposals.entry(p.site.clone()).or_default().push(p);
        }
    }
    Ok(Past {
        histories: histories(&git, branch, names, everyone)?,
        proposals,
    })
}

/// Each site's history in `names`, from one pass over the audit branch (`branch`), newest
/// first. `everyone`: every site is selected, so no commit is skipped by its sites trailer.
fn histories(
    git: &crate::git::Repo,
    branch: &str,
    names: BTreeSet<String>,
    everyone: bool,
) -> anyhow::Result<BTreeMap<String, SiteHistory>> {
    let Some(history) = History::open(git, branch)? else {
        tracing::warn!("no run recorded yet: branch `{branch}` does not exist");
        return Ok(BTreeMap::new());
    };
    let filter = HistoryFilter {
        sites: if everyone {
            Vec::new()
        } else {
            names.iter().cloned().collect()
        },
        ..HistoryFilter::default()
    };
    let mut out: BTreeMap<String, SiteHistory> = names
        .into_iter()
        .map(|n| (n, SiteHistory::default()))
        .collect();
    history
        .visit(&filter, |e| -> anyhow::Result<()> {
            if let Some(h) = out.get_mut(&e.site) {
                h.push(e);
            }
            Ok(())
        })
        .with_context(|| format!("cannot read the audit branch `{branch}`"))?;
    Ok(out)
}
