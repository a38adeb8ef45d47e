//! The read-only half of every run (`plan`, `apply`, `reconcile`): load the state repo, pick
//! the sites, observe them and diff them against desired state. Nothing here changes anything.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::config::SelectConfig;
use crate::diff::{self, Desired};
use crate::load::{LoadError, load_repo};
use crate::observe::{self, ObserveOpts, live::LiveSite};
use crate::plan::{RunInfo, SitePlan, new_run_id};
use crate::report::SiteYaml;
use crate::secret::{RunSecrets, SiteSecrets};
use crate::spec::{DesiredState, Site};
use crate::stage::{self, Command};

/// Loads the state repo. On invalid input prints every problem to stderr and returns `None`:
/// the caller then touches nothing and exits 1.
pub fn load_or_report(repo: &Path, doing: &str) -> anyhow::Result<Option<DesiredState>> {
    match load_repo(repo) {
        Ok(s) => {
            if s.sites.is_empty() {
                tracing::warn!(
                    "no site files under `{}`; is `--repo` the state repo?",
                    repo.join("sites").display()
                );
            }
            Ok(Some(s))
        }
        Err(LoadError::Invalid(problems)) => {
            let mut err = std::io::stderr().lock();
            for p in &problems {
                writeln!(err, "{p}")?;
            }
            writeln!(
                err,
                "error: {} problem(s) in the state repo; {doing}",
                problems.len()
            )?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A new run: id, start time (UTC) and the state repo's `HEAD` commit.
pub fn new_run(repo: &Path) -> RunInfo {
    let started = chrono::Utc::now();
    RunInfo {
        id: new_run_id(started),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        desired_commit: desired_commit(repo),
    }
}

/// What one survey found: per site (in order) its plan, the canonical renderings of both sides
/// (only of sites where they differ) and the live observation.
#[derive(Debug, Default)]
pub struct Survey {
    pub sites: Vec<SitePlan>,
    pub yaml: BTreeMap<String, SiteYaml>,
    pub live: Vec<LiveSite>,
}

/// Observes `sites` (their live state and, when staging for a `command`, siteward's own
/// files), diffs each against its desired state and stages the changes for `command` (`None`:
/// observation for `check`, changes left unstaged).
pub async fn survey(
    repo: &Path,
    sites: &[&Site],
    opts: ObserveOpts,
    command: Option<Command>,
    run_secrets: &RunSecrets,
) -> Survey {
    // Secrets (resolved once per run): a site whose secret could not be resolved is unknown
    // and not observed.
    let secrets: Vec<Result<&SiteSecrets, String>> = sites
        .iter()
        .map(|s| run_secrets.site(s.name.as_str()))
        .collect();
    let observable: Vec<&Site> = sites
        .iter()
        .zip(&secrets)
        .filter(|(_, s)| s.is_ok())
        .map(|(site, _)| *site)
        .collect();
    let read_managed = async {
        match command {
            Some(_) => observe::managed::read_all(&observable, repo, opts, run_secrets).await,
            None => vec![None; observable.len()],
        }
    };
    let (observed, managed) = tokio::join!(
        observe::observe_all(&observable, repo, opts, run_secrets),
        read_managed
    );
    let mut observed = observed.into_iter().zip(managed);
    let mut out = Survey {
        sites: Vec::with_capacity(sites.len()),
        live: Vec::with_capacity(sites.len()),
        ..Survey::default()
    };
    let empty = SiteSecrets::new();
    for (site, secret) in sites.iter().zip(&secrets) {
        let live = match secret {
            Ok(_) => match observed.next() {
                Some((mut live, Some(Err(e)))) if live.error.is_none() => {
                    live.error = Some(format!("cannot read siteward's own file: {e}"));
                    live
                }
                Some((mut live, managed)) => {
                    live.managed = managed.and_then(Result::ok).map(Box::new);
                    live
                }
                None => LiveSite::default(),
            },
            Err(e) => LiveSite {
                site: site.name.to_string(),
                error: Some(e.clone()),
                ..LiveSite::default()
            },
        };
        let d = Desired {
            site,
            run: run_secrets,
            secrets: secret.as_ref().map_or(&empty, |s| *s),
        };
        let mut plan = diff::plan_site(&d, &live);
        if let Some(command) = command {
            let (managed, wordpress) = (live.managed.as_deref(), live.wordpress.as_ref());
            stage::stage_site(&mut plan, command, site.sync, |c| {
                observe::managed::verdict(site, managed, wordpress, c)
            });
        }
        out.sites.push(plan);
        // Only sites whose renderings differ have a diff to show; at fleet scale most do not,
        // and their renderings are not kept.
        let desired = diff::desired_canon(&d).to_yaml();
        let live_yaml = diff::live_canon(&d, &live).map(|c| c.to_yaml());
        if live_yaml.as_ref().is_some_and(|l| *l != desired) {
            out.yaml.insert(
                site.name.to_string(),
                SiteYaml {
                    desired,
                    live: live_yaml,
                },
            );
        }
        out.live.push(live);
    }
    out
}

/// A multi-threaded async runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The state repo's `HEAD` commit, or `None` when it is not a git repo or has no commit.
fn desired_commit(repo: &Path) -> Option<String> {
    let git = crate::git::Repo::open(repo).ok()?;
    git.head_commit().ok().flatten().map(|c| c.to_string())
}

/// The sites a command acts on, and site files deleted since `--changed-since`.
#[derive(Debug, Default)]
pub struct Picked<'a> {
    pub sites: Vec<&'a Site>,
    /// Deleted site files: "no longer managed: no action".
    pub removed: Vec<String>,
}

/// Applies `--site`, `--selector`, `--shard` and `--changed-since` to the loaded state.
pub fn pick<'a>(
    repo: &Path,
    state: &'a DesiredState,
    select: &SelectConfig,
) -> anyhow::Result<Picked<'a>> {
    let mut names = select.selection.apply(state)?;
    let mut removed = Vec::new();
    if let Some(rev) = &select.changed_since {
        let git = crate::git::Repo::open(repo)?;
        let changed = crate::select::changed_since(&git, rev, state)?;
        names.retain(|n| changed.sites.contains(n));
        removed = changed.removed;
    }
    let sites = names.iter().filter_map(|n| state.sites.get(n)).collect();
    Ok(Picked { sites, removed })
}
