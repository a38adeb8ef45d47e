//! `siteward check`: load, select, observe, evaluate policy rules and the built-in grader,
//! print. Read-only: nothing is changed and nothing is recorded.
//!
//! Steps: 1. load (invalid input: print the problems to stderr, observe nothing, exit 1);
//! 2. select sites; 3. observe them ([`crate::survey`]), also probing for plugins their
//! policies deny; 4. evaluate each site as of today (UTC) ([`crate::policy`]); 5. render to
//! stdout; 6. with `--metrics`, write the metrics file ([`crate::metrics`]). Exit 0
//! compliant, 2 an active finding at or above `--fail-on`, 1 a site not observed (see
//! [`crate::policy::CheckReport::exit`]).

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::cli::Format;
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::policy::{self, CheckReport};
use crate::report::check as render;
use crate::spec::{DesiredState, Package, Severity, Site};
use crate::survey;

/// Parsed `check` arguments.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    /// The validated flags.
    pub config: RunConfig,
    pub format: Format,
    /// The least severity of an active finding that makes the run exit 2.
    pub fail_on: Severity,
    /// Grade exactly as the Observatory does, or with its known quirks corrected.
    pub grading: policy::observatory::Grading,
    /// `--metrics FILE`: Prometheus text format, written atomically.
    pub metrics: Option<std::path::PathBuf>,
}

/// Runs `siteward check` on the state repo at `repo`.
pub fn run(repo: &Path, args: CheckArgs) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    // 1. Load; invalid input stops here.
    let Some(state) = survey::load_or_report(repo, "nothing was observed")? else {
        if let Some(path) = &args.metrics {
            crate::metrics::write(path, &crate::metrics::RunMetrics::invalid("check", started))?;
        }
        return Ok(Exit::Error);
    };
    // 2. Select.
    let picked = survey::pick(repo, &state, &args.config.select)?;
    for name in &picked.removed {
        tracing::warn!("{name}: no longer managed (its site file was deleted): no action");
    }
    let opts = crate::observe::ObserveOpts {
        grade: true,
        ..args.config.observe(&state.settings, picked.sites.len())
    };
    let feed = crate::vuln::Feed::load_blocking(repo, &state.settings, opts.timeout * 6)?;
    // 3. Observe, looking for denied plugins too.
    let probed: Vec<Cow<'_, Site>> = picked
        .sites
        .iter()
        .map(|s| with_denied_plugins(&state, s))
        .collect();
    let sites: Vec<&Site> = probed.iter().map(|s| s.as_ref()).collect();
    let secrets = crate::secret::RunSecrets::resolve(&sites, repo);
    let found = survey::runtime()?.block_on(survey::survey(repo, &sites, opts, None, &secrets));
    // 4. Evaluate as of today, UTC: an exception holds through its `expires` day.
    let today = chrono::Utc::now().date_naive();
    let checked = picked
        .sites
        .iter()
        .zip(&found.live)
        .map(|(site, live)| {
            if live.insecure_skip_verify {
                tracing::warn!(
                    "site `{}`: TLS verification is off (`insecure_skip_verify: true`)",
                    site.name
                );
            }
            crate::vuln::with_findings(
                policy::check_site(&state, site, live, today, args.grading),
                site,
                live,
                &feed,
            )
        })
        .collect();
    let report = CheckReport::new(checked);
    // 5. Render.
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = match args.format {
        Format::Json => render::json(&report)?,
        Format::Text => render::text::render(&report, color),
        Format::Markdown => render::markdown::render(&report),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    // 6. Metrics when asked.
    if let Some(path) = &args.metrics {
        let certificates = crate::metrics::certificates(&found.live);
        let metrics = crate::metrics::RunMetrics {
            command: "check",
            started,
            finished: chrono::Utc::now(),
            exit: report.exit(args.fail_on),
            sites: report
                .sites
                .iter()
                .map(|s| crate::metrics::SiteMetrics {
                    site: s.site.clone(),
                    certificate: certificates.get(&s.site).copied(),
                    score: s.score,
                    ..Default::default()
                })
                .collect(),
        };
        crate::metrics::write(path, &metrics)?;
    }
    Ok(report.exit(args.fail_on))
}

/// The site, with the plugins its policies deny added as `absent` when it is fingerprinted,
/// so that observation looks for them; unchanged otherwise.
pub(super) fn with_denied_plugins<'a>(state: &DesiredState, site: &'a Site) -> Cow<'a, Site> {
    let denied = policy::denied_plugins(state, site);
    if denied.is_empty() || !crate::observe::fingerprinted(site) {
        return Cow::Borrowed(site);
    }
    let mut site = site.clone();
    if let Some(software) = site.software.as_mut() {
        for slug in denied {
            if !software.plugins.contains_key(&slug) {
                software.plugins.insert(slug, Package::Absent);
            }
        }
    }
    Cow::Owned(site)
}
