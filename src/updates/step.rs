//! The `reconcile` step that writes version-bump proposals: per selected site, read the
//! release source, pick the bumps ([`super::for_site`]), resolve an open update proposal the
//! site file has reached, and commit a new one ([`crate::proposal::updates`]). Each bump becomes
//! an action of the site in the run record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Bump, Releases, edit, releases};
use crate::audit::{ActionRecord, ActionResult};
use crate::git::{Identity, Repo};
use crate::plan::{Action, Resource};
use crate::proposal::{Outcome as ProposalOutcome, updates as proposal};
use crate::reconcile::Outcome;
use crate::spec::{DesiredState, Site};
use crate::vuln::{Feed, Kind, source};

/// Writes (or dedupes, or resolves) the update proposals of the run's sites. Returns the first
/// failure after trying every site.
pub fn run(
    repo: &Path,
    git: &Repo,
    state: &DesiredState,
    author: &Identity,
    feed: &Feed,
    timeout: Duration,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let prefix = &state.settings.proposals_prefix;
    let run_id = outcome.plan.run.id.clone();
    let now = chrono::Utc::now();
    let mut sources: BTreeMap<String, Result<Releases, String>> = BTreeMap::new();
    let mut first_error: Option<anyhow::Error> = None;
    let names: Vec<String> = outcome.plan.sites.iter().map(|p| p.site.clone()).collect();
    for name in names {
        let Some(site) = state.sites.values().find(|s| s.name.as_str() == name) else {
            continue;
        };
        let Some(sw) = &site.software else {
            continue;
        };
        // The site's `software.updates` keys win over siteward.yaml's; neither: no updates.
        let (mine, fleet) = (sw.updates.as_ref(), state.settings.updates.as_ref());
        if mine.is_none() && fleet.is_none() {
            continue;
        }
        let pick = |u: Option<&crate::spec::Updates>| u.cloned().unwrap_or_default();
        let (mine, fleet) = (pick(mine), pick(fleet));
        let min_age = mine
            .min_age
            .or(fleet.min_age)
            .map_or(Duration::ZERO, |s| s.0);
        let Some(src) = mine
            .source
            .or(fleet.source)
            .or_else(|| sw.packages.clone())
            .or_else(|| state.settings.packages.clone())
        else {
            continue;
        };
        let releases = sources
            .entry(src.clone())
            .or_insert_with(|| load(repo, &src, timeout));
        let releases = match releases {
            Ok(r) => r,
            Err(e) => {
                note(outcome, &name, format!("updates not checked: {e}"));
                first_error.get_or_insert(anyhow::anyhow!("{e}"));
                continue;
            }
        };
        let found = super::for_site(site, releases, feed, now, min_age);
        // 1. The site file reached the open proposal: resolved.
        match proposal::resolve(git, prefix, author, site, &run_id) {
            Ok(ProposalOutcome::Resolved { branch, .. }) => note(
                outcome,
                &name,
                format!("update proposal on `{branch}` resolved"),
            ),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e.into());
            }
        }
        if !found.held.is_empty() {
            let held: Vec<String> = found
                .held
                .iter()
                .map(|h| format!("{} {}", h.slug, h.version))
                .collect();
            note(
                outcome,
                &name,
                format!("held back by updates.min_age: {}", held.join(", ")),
            );
        }
        if found.bumps.is_empty() {
            continue;
        }
        // 2. Only versions written in the site file itself can be bumped there.
        let (file, text) = match site_file(repo, site) {
            Ok(f) => f,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let (bumps, elsewhere): (Vec<Bump>, Vec<Bump>) = found
            .bumps
            .into_iter()
            .partition(|b| edit::apply(&file, &text, std::slice::from_ref(b)).is_ok());
        for b in &elsewhere {
            note(
                outcome,
                &name,
                format!(
                    "{} {} → {} not proposed: its version is not written in `{file}` (a policy or a constraint sets it)",
                    b.slug, b.from, b.to
                ),
            );
        }
        if bumps.is_empty() {
            continue;
        }
        // 3. Propose (the same bumps of the same file are not written twice).
        let s = proposal::SiteBumps {
            site,
            file: &file,
            text: &text,
            bumps: &bumps,
            held: &found.held,
        };
        let result = proposal::propose(git, prefix, author, &s, &run_id);
        let (kind, message) = match &result {
            Ok(ProposalOutcome::Written { branch, .. }) => (
                ActionResult::Proposed,
                format!("update proposed on `{branch}`"),
            ),
            Ok(ProposalOutcome::Unchanged { branch }) => (
                ActionResult::Skipped,
                format!("update already proposed on `{branch}`"),
            ),
            Ok(_) => continue,
            Err(e) => (
                ActionResult::Failed,
                format!(
                    "cannot write the update proposal: {}",
                    crate::error_text::chain(e)
                ),
            ),
        };
        let actions = outcome.actions.entry(name.clone()).or_default();
        actions.extend(bumps.iter().map(|b| ActionRecord {
            resource: match b.kind {
                Kind::Core => Resource::Core,
                Kind::Plugin => Resource::Plugin,
                Kind::Theme => Resource::Theme,
            },
            key: b.slug.clone(),
            action: Action::Change,
            result: kind,
            message: Some(format!(
                "{message}: {} → {}{}",
                b.from,
                b.to,
                if b.security.is_empty() {
                    String::new()
                } else {
                    format!(" (security: fixes {})", b.security.join(", "))
                }
            )),
            retry_after: None,
        }));
        note(
            outcome,
            &name,
            format!("{message}: {} version bump(s)", bumps.len()),
        );
        if let Err(e) = result {
            first_error.get_or_insert(e.into());
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn note(outcome: &mut Outcome, site: &str, text: String) {
    let n = outcome.notes.entry(site.to_owned()).or_default();
    if !n.is_empty() {
        n.push_str("; ");
    }
    n.push_str(&text);
}

/// Reads a release source: a JSON release list (file or https URL), or a package directory
/// (its `releases.json` when present, else its `<slug>-<version>.zip` files).
fn load(repo: &Path, src: &str, timeout: Duration) -> Result<Releases, String> {
    let local = if src.starts_with("https://") {
        None
    } else if Path::new(src).is_absolute() {
        Some(PathBuf::from(src))
    } else {
        Some(repo.join(src))
    };
    if let Some(dir) = local.as_ref().filter(|p| p.is_dir())
        && !dir.join("releases.json").is_file()
    {
        return releases::from_packages(dir)
            .map_err(|e| format!("updates.source `{}`: {e}", dir.display()));
    }
    let src = match &local {
        Some(dir) if dir.is_dir() => dir.join("releases.json").display().to_string(),
        _ => src.to_owned(),
    };
    let docs = source::read_blocking(repo, &src, "updates.source", "json", timeout)
        .map_err(|e| e.to_string())?;
    let mut all = Releases::default();
    for (path, text) in &docs {
        let r = releases::parse(path, text).map_err(|p| {
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        all.core.extend(r.core);
        for (k, v) in r.plugins {
            all.plugins.entry(k).or_default().extend(v);
        }
        for (k, v) in r.themes {
            all.themes.entry(k).or_default().extend(v);
        }
    }
    Ok(all)
}

/// The site's file: its repo-relative path and text (`sites/<name>.yaml`, or in a
/// subdirectory of `sites/`).
fn site_file(repo: &Path, site: &Site) -> anyhow::Result<(String, String)> {
    let want = format!("{}.yaml", site.name);
    let mut stack = vec![repo.join("sites")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && entry.file_name().to_string_lossy() == want {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", path.display()))?;
                let rel = path
                    .strip_prefix(repo)
                    .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
                return Ok((rel, text));
            }
        }
    }
    anyhow::bail!("site `{}`: no file `{want}` under `sites/`", site.name)
}
