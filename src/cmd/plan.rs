//! `siteward plan`: load, select, observe, diff, print. Read-only: nothing is changed.
//!
//! Steps: 1. refuse flags this build lacks; 2. load (invalid input: print the problems to
//! stderr, observe nothing, exit 1); 3. select sites; 4. resolve secret header values;
//! 5. observe; 6. diff; 7. render to stdout or `--out`; exit 0 in sync, 2 drift, 1 error.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{Format, RunOpts, Select};
use crate::diff::{self, Desired};
use crate::exit::Exit;
use crate::load::{LoadError, load_repo};
use crate::observe::{self, ObserveOpts, live::LiveSite};
use crate::plan::{Plan, RunInfo, new_run_id};
use crate::report::{self, Report, SiteYaml};
use crate::spec::{DesiredState, HeaderRule, Settings, Site};

/// Parsed `plan` arguments.
#[derive(Debug, Clone)]
pub struct PlanArgs {
    pub select: Select,
    pub run: RunOpts,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub record: bool,
}

/// Runs `siteward plan` on the state repo at `repo`.
pub fn run(repo: &Path, args: PlanArgs) -> anyhow::Result<Exit> {
    // 1. Flags owned by other parts of siteward that this build does not have yet.
    if args.select.changed_since.is_some() {
        bail!(
            "`--changed-since` is not yet supported by `siteward plan`; select with `--site` or `--selector`"
        );
    }
    if args.select.shard.is_some() {
        bail!(
            "`--shard` is not yet supported by `siteward plan`; select with `--site` or `--selector`"
        );
    }
    if args.record {
        bail!("`--record` is not yet supported by `siteward plan`; run without it");
    }
    // 2. Load; invalid input stops here.
    let state = match load_repo(repo) {
        Ok(s) => s,
        Err(LoadError::Invalid(problems)) => {
            let mut err = std::io::stderr().lock();
            for p in &problems {
                writeln!(err, "{p}")?;
            }
            writeln!(
                err,
                "error: {} problem(s) in the state repo; nothing was observed",
                problems.len()
            )?;
            return Ok(Exit::Error);
        }
        Err(e) => return Err(e.into()),
    };
    // 3. Select.
    let sites = select(&state, &args.select)?;
    let opts = observe_opts(&state.settings, &args.run, sites.len())?;
    let started = chrono::Utc::now();
    let run = RunInfo {
        id: new_run_id(started),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        desired_commit: desired_commit(repo),
    };
    // 4. Secrets: a site whose secret cannot be resolved is unknown and not observed.
    let secrets: Vec<Result<BTreeMap<String, String>, String>> =
        sites.iter().map(|s| header_secrets(s, repo)).collect();
    let observable: Vec<&Site> = sites
        .iter()
        .zip(&secrets)
        .filter(|(_, s)| s.is_ok())
        .map(|(site, _)| *site)
        .collect();
    // 5. Observe.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut observed = runtime
        .block_on(observe::observe_all(&observable, repo, opts))
        .into_iter();
    // 6. Diff.
    let mut plans = Vec::new();
    let mut yaml = BTreeMap::new();
    let empty = BTreeMap::new();
    for (site, secret) in sites.iter().zip(&secrets) {
        let live = match secret {
            Ok(_) => observed.next().unwrap_or_default(),
            Err(e) => LiveSite {
                site: site.name.to_string(),
                error: Some(e.clone()),
                ..LiveSite::default()
            },
        };
        let d = Desired {
            site,
            secrets: secret.as_ref().unwrap_or(&empty),
        };
        plans.push(diff::plan_site(&d, &live));
        yaml.insert(
            site.name.to_string(),
            SiteYaml {
                desired: diff::desired_canon(&d).to_yaml(),
                live: diff::live_canon(&d, &live).map(|c| c.to_yaml()),
            },
        );
    }
    let plan = Plan::new(run, plans);
    // 7. Render.
    let color = args.out.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let r = Report {
        plan: &plan,
        yaml: &yaml,
    };
    let text = match args.format {
        Format::Json => report::json::render(&plan)?,
        Format::Text => report::text::render(r, color),
        Format::Markdown => report::markdown::render(r),
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the plan to `{}`", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(plan.exit())
}

/// The sites named by `--site` (all when none) whose labels match every `--selector`.
/// Kept in one function so that `src/select.rs` can replace it.
fn select<'a>(state: &'a DesiredState, sel: &Select) -> anyhow::Result<Vec<&'a Site>> {
    let mut pairs = Vec::new();
    for s in &sel.selector {
        let Some((k, v)) = s.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("`--selector {s}` is not `KEY=VALUE`");
        };
        pairs.push((k.trim(), v.trim()));
    }
    for name in &sel.site {
        if !state.sites.keys().any(|k| k.as_str() == name) {
            let known: Vec<&str> = state.sites.keys().map(|k| k.as_str()).collect();
            bail!(
                "no site named `{name}` in the state repo; known sites: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    Ok(state
        .sites
        .values()
        .filter(|s| sel.site.is_empty() || sel.site.iter().any(|n| n == s.name.as_str()))
        .filter(|s| {
            pairs
                .iter()
                .all(|(k, v)| s.labels.get(*k).is_some_and(|l| l == v))
        })
        .collect())
}

fn observe_opts(settings: &Settings, run: &RunOpts, sites: usize) -> anyhow::Result<ObserveOpts> {
    let timeout = match run.timeout {
        Some(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Duration::from_secs_f64(t),
        Some(t) => bail!("`--timeout {t}` must be a number of seconds between 0 and 3600"),
        None => settings.timeout.0,
    };
    let positive = |v: Option<usize>, default: usize, flag: &str| match v {
        Some(0) => bail!("`--{flag}` must be at least 1"),
        Some(n) => Ok(n),
        None => Ok(default),
    };
    Ok(ObserveOpts {
        concurrency: positive(run.concurrency, settings.concurrency, "concurrency")?,
        per_host: positive(run.per_host, settings.per_host, "per-host")?,
        timeout,
        progress: sites > 20 && std::io::stderr().is_terminal(),
    })
}

/// Resolves the site's secret header values, by lowercased header name.
fn header_secrets(site: &Site, repo: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (name, rule) in &site.headers {
        if let HeaderRule::Secret(r) = rule {
            let v = crate::secret::resolve(r, repo).map_err(|e| format!("header `{name}`: {e}"))?;
            out.insert(name.lower(), v);
        }
    }
    Ok(out)
}

/// The state repo's `HEAD` commit, or `None` when it is not a git repo (or git is missing).
fn desired_commit(repo: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && id.len() >= 40 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(id)
}
