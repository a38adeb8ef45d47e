//! `siteward plan`: load, select, observe, diff, print. Read-only: nothing is changed.
//!
//! Steps: 1. load (invalid input: print the problems to stderr, observe nothing, exit 1);
//! 2. select sites; 3. resolve secrets, observe and diff ([`crate::survey`]), and hold the
//! certificate changes of sites backing off after ACME errors; 4. render to
//! stdout or `--out`; 5. with `--record`, commit a run record; 6. with `--metrics`, write
//! the metrics file ([`crate::metrics`]). Exit 0 in sync, 2 drift, 1 error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::Format;
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::progress::{Phase, Unit};
use crate::report::{self, Report};
use crate::survey;

/// Parsed `plan` arguments.
#[derive(Debug, Clone)]
pub struct PlanArgs {
    /// The validated flags.
    pub config: RunConfig,
    /// `None`: text on stdout; with `--out`, chosen by the file name ([`output_format`]).
    pub format: Option<Format>,
    pub out: Option<PathBuf>,
    pub record: bool,
    /// `--metrics FILE`: Prometheus text format, written atomically.
    pub metrics: Option<PathBuf>,
}

/// The format of a plan: the one asked for; without `--format`, text on stdout and, for
/// `--out FILE`, a saved plan (JSON) unless FILE ends in `.md` or `.txt`.
fn output_format(asked: Option<Format>, out: Option<&Path>) -> Format {
    let ext = out
        .and_then(Path::extension)
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match (asked, out, ext.as_deref()) {
        (Some(f), _, _) => f,
        (None, None, _) => Format::Text,
        (None, Some(_), Some("md" | "markdown")) => Format::Markdown,
        (None, Some(_), Some("txt")) => Format::Text,
        (None, Some(_), _) => Format::Json,
    }
}

/// Runs `siteward plan` on the state repo at `repo`.
pub fn run(repo: &Path, args: PlanArgs) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    // 1. Load; invalid input stops here.
    let Some(state) = survey::load_or_report(repo, "nothing was observed")? else {
        if let Some(path) = &args.metrics {
            crate::metrics::write(path, &crate::metrics::RunMetrics::invalid("plan", started))?;
        }
        return Ok(Exit::Error);
    };
    // 2. Select.
    let picked = survey::pick(repo, &state, &args.config.select)?;
    for name in &picked.removed {
        tracing::warn!("{name}: no longer managed (its site file was deleted): no action");
    }
    let sites = picked.sites;
    let mut opts = args.config.observe(&state.settings, sites.len());
    // A recorded plan tells notification targets; `grade_dropped` needs the web grade.
    opts.grade |= args.record && crate::notify::wants_grades(&state.settings.notify);
    let run = survey::new_run(repo);
    let feed = crate::vuln::Feed::load_blocking(repo, &state.settings, opts.timeout * 6)?;
    // The state repo, opened once for the steps below (`None`: not a git repo).
    let git = crate::git::Repo::open(repo).ok();
    // The desired state at `--changed-since` (selection has already required a git repo for
    // it): what a pull request is compared with.
    let before = match (&args.config.select.changed_since, &git) {
        (Some(rev), Some(git)) => {
            let state = crate::load::revision::load_at(git, rev)
                .with_context(|| format!("cannot read the desired state at `{rev}`"))?;
            Some((rev.as_str(), git, state))
        }
        _ => None,
    };
    // 3. Resolve secrets (once), observe, diff and stage as `apply` would. A credential goes
    //    only where the `--changed-since` revision sends it.
    let mut secrets = crate::secret::RunSecrets::resolve(&sites, repo);
    if let Some((rev, git, before)) = &before {
        crate::credential_binding::withhold_unbound(&mut secrets, &sites, before, rev, git, repo);
    }
    let found = survey::runtime()?.block_on(survey::survey(
        repo,
        &sites,
        opts,
        Some(crate::stage::Command::Apply),
        &secrets,
    ));
    let yaml = found.yaml;
    let mut sites_plans = found.sites;
    crate::vuln::flag(&mut sites_plans, &sites, &found.live, &feed);
    // What `siteward check` would report, compactly: active findings of medium or more.
    let today = chrono::Utc::now().date_naive();
    for ((plan, site), live) in sites_plans.iter_mut().zip(&sites).zip(&found.live) {
        let checked = crate::policy::check_site(&state, site, live, today, Default::default());
        plan.findings = checked
            .findings
            .iter()
            .filter(|f| !f.excepted && f.severity >= crate::spec::Severity::Medium)
            .map(|f| crate::plan::PlanFinding {
                rule: f.rule.clone(),
                severity: f.severity.as_str().to_owned(),
                message: f.message.clone(),
            })
            .collect();
    }
    // How each site is managed, compared with the `--changed-since` revision.
    if let Some((_, _, before)) = &before {
        for (plan, site) in sites_plans.iter_mut().zip(&sites) {
            plan.manage_changes = crate::diff::manage_changes(before.sites.get(&site.name), site);
        }
    }
    // Sites backing off after ACME errors hold their certificate changes, as `apply` will.
    if let Some(git) = &git {
        let branch = args.config.audit_branch(&state.settings);
        let backoff = crate::certificate::backoff::read(git, branch.as_str(), &sites);
        crate::certificate::backoff::hold(&mut sites_plans, &backoff, false, chrono::Utc::now());
    }
    // Sites inside a change window hold their changes, as `apply` will without
    // `--ignore-windows`.
    let held = crate::windows::holds(
        &state.settings.windows,
        sites.iter().copied(),
        chrono::Utc::now(),
    );
    for plan in &mut sites_plans {
        if let Some(reason) = held.get(&plan.site) {
            crate::stage::hold_all(plan, reason);
        }
    }
    let certificates = crate::metrics::certificates(&found.live);
    let grades = crate::notify::grades(&found.live);
    let plan = Plan::new(run, sites_plans);
    // 4. Render.
    let color = args.out.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let r = Report {
        plan: &plan,
        yaml: &yaml,
    };
    let format = output_format(args.format, args.out.as_deref());
    match (format, &args.out) {
        // A JSON plan is a saved plan: written atomically, so `apply PLAN` never reads half.
        (Format::Json, Some(path)) => crate::saved_plan::write(path, &plan)?,
        (Format::Json, None) => report::json::write(&plan, std::io::stdout().lock())?,
        (format, out) => {
            let text = match format {
                Format::Markdown => report::markdown::render(r),
                _ => report::text::render(r, color),
            };
            match out {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write the plan to `{}`", path.display()))?,
                None => std::io::stdout().lock().write_all(text.as_bytes())?,
            }
        }
    }
    // 5. Record the plan run when asked.
    if args.record {
        let git = match git {
            Some(g) => g,
            None => crate::git::Repo::open(repo)?,
        };
        let branch = args.config.audit_branch(&state.settings);
        let author = crate::audit::author(state.settings.audit_author.as_deref(), &git)?;
        let trigger = crate::audit::Trigger::from_env(args.config.trigger.as_deref());
        let mut record = crate::audit::RunRecord::from_plan(
            &plan,
            crate::audit::RunCommand::Plan,
            trigger,
            chrono::Utc::now(),
            Default::default(),
        );
        record.observed(&certificates, &grades);
        let notify = &state.settings.notify;
        let recording = Phase::start(
            "record",
            Unit::Steps,
            usize::from(!notify.is_empty()) + 1,
            opts.progress,
        );
        if !notify.is_empty() {
            let _step = recording.begin("notify");
            record.notifications =
                crate::notify::send(&git, branch.as_str(), notify, &record, repo, opts.timeout);
        }
        let _step = recording.begin("commit");
        crate::audit::record_run(&git, &branch, &author, &record)?;
    }
    // 6. Metrics when asked.
    if let Some(path) = &args.metrics {
        let metrics = crate::metrics::RunMetrics {
            command: "plan",
            started,
            finished: chrono::Utc::now(),
            exit: plan.exit(),
            sites: crate::metrics::plan_sites(&plan, &certificates),
        };
        crate::metrics::write(path, &metrics)?;
    }
    Ok(plan.exit())
}
