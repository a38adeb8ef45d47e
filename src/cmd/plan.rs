//! `siteward plan`: load, select, observe, diff, print. Read-only: nothing is changed.
//!
//! Steps: 1. refuse flags this build lacks; 2. load (invalid input: print the problems to
//! stderr, observe nothing, exit 1); 3. select sites; 4.–6. resolve secrets, observe and diff
//! ([`crate::survey`]); 7. render to stdout or `--out`; exit 0 in sync, 2 drift, 1 error.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::{Format, RunOpts, Select};
use crate::exit::Exit;
use crate::plan::Plan;
use crate::report::{self, Report};
use crate::spec::{DesiredState, Site};
use crate::survey;

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
    let Some(state) = survey::load_or_report(repo, "nothing was observed")? else {
        return Ok(Exit::Error);
    };
    // 3. Select.
    let sites = select(&state, &args.select)?;
    let opts = survey::observe_opts(&state.settings, &args.run, sites.len())?;
    let run = survey::new_run(repo);
    // 4.–6. Observe and diff.
    let found = survey::runtime()?.block_on(survey::survey(repo, &sites, opts));
    let yaml = found.yaml;
    let plan = Plan::new(run, found.sites);
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
