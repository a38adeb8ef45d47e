//! Update proposals: one per site on `siteward-proposals/<site>`, beside the drift proposal.
//! The commit holds `UPDATES.md` (a pull-request description: a table of old → new versions
//! with release dates and links, security updates marked), `updates.json` (the bumps) and the
//! site file at its repo path, edited in place ([`crate::updates::edit`]).
//!
//! Guarantees: the same bumps of the same site file are never written twice (`Updates:
//! sha256:…` is the dedupe key); an open proposal is marked resolved once the desired state
//! (the site file on the main branch) reaches every proposed version.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Outcome, ProposalError, branch, commit, is_open, render};
use crate::git::{Identity, Repo};
use crate::report::escape::{markdown as text, table_code};
use crate::spec::{BranchName, Package, Site, VersionSpec};
use crate::updates::{Bump, HeldBack, edit};
use crate::vuln::Kind;

/// The update proposal's Markdown on the branch.
pub const UPDATES_FILE: &str = "UPDATES.md";
/// The bumps, machine-readable.
pub const UPDATES_JSON: &str = "updates.json";
/// Prefix of the line that carries the dedupe key.
pub const KEY_PREFIX: &str = "Updates: sha256:";

/// `updates.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateFile {
    pub version: u32,
    pub site: String,
    /// The site file's path in the state repo.
    pub file: String,
    pub bumps: Vec<Bump>,
}

/// What the update step is given for one site.
pub struct SiteBumps<'a> {
    pub site: &'a Site,
    /// The site file's repo-relative path.
    pub file: &'a str,
    /// The site file's text as on the main branch (the working tree the run loaded).
    pub text: &'a str,
    /// The bumps to write, each of a version the file itself writes.
    pub bumps: &'a [Bump],
    /// Newer releases held back by `min_age`, listed in the proposal.
    pub held: &'a [HeldBack],
}

/// Commits the update proposal unless the open one already proposes these bumps of this file.
pub fn propose(
    repo: &Repo,
    prefix: &BranchName,
    author: &Identity,
    s: &SiteBumps<'_>,
    run_id: &str,
) -> Result<Outcome, ProposalError> {
    let branch = branch(prefix, s.site);
    let edited = edit::apply(s.file, s.text, s.bumps)?;
    let data = UpdateFile {
        version: 1,
        site: s.site.name.to_string(),
        file: s.file.to_owned(),
        bumps: s.bumps.to_vec(),
    };
    let json = serde_json::to_vec_pretty(&data).map_err(|source| ProposalError::Json {
        site: s.site.name.to_string(),
        source,
    })?;
    let mut h = Sha256::new();
    h.update(s.text.as_bytes());
    h.update(&json);
    let key = hex::encode(h.finalize());
    let md = markdown(s, &key, run_id);
    let security = s.bumps.iter().filter(|b| !b.security.is_empty()).count();
    let message = format!(
        "update: {} — {} version bump(s){}\n\nSiteward-Run: {run_id}\nSiteward-Sites: {}\nSiteward-Updates: {key}\n",
        s.site.name,
        s.bumps.len(),
        if security > 0 {
            format!(", {security} security")
        } else {
            String::new()
        },
        s.site.name
    );
    let done = commit(
        repo,
        &branch,
        author,
        UPDATES_FILE,
        |current| match current {
            Some(md) if is_open(md) && md.contains(&format!("{KEY_PREFIX}{key}")) => None,
            _ => Some(vec![
                (UPDATES_FILE.to_owned(), md.clone().into_bytes()),
                (UPDATES_JSON.to_owned(), json.clone()),
                (s.file.to_owned(), edited.clone().into_bytes()),
            ]),
        },
        &message,
    )?;
    Ok(match done {
        Some(commit) => Outcome::Written { branch, commit },
        None => Outcome::Unchanged { branch },
    })
}

/// Marks the open update proposal resolved when `site` (as desired now) pins every proposed
/// version or newer.
pub fn resolve(
    repo: &Repo,
    prefix: &BranchName,
    author: &Identity,
    site: &Site,
    run_id: &str,
) -> Result<Outcome, ProposalError> {
    let branch = branch(prefix, site);
    let Some(tip) = repo.read_ref(&format!("refs/heads/{branch}"))? else {
        return Ok(Outcome::Nothing);
    };
    let Some(data) = repo
        .read_file_at(tip, UPDATES_JSON)?
        .and_then(|b| serde_json::from_slice::<UpdateFile>(&b).ok())
    else {
        return Ok(Outcome::Nothing);
    };
    if !data.bumps.iter().all(|b| reached(site, b)) {
        return Ok(Outcome::Nothing);
    }
    let message = format!(
        "update resolved: {} pins the proposed versions\n\nSiteward-Run: {run_id}\nSiteward-Sites: {}\n",
        site.name, site.name
    );
    let done = commit(
        repo,
        &branch,
        author,
        UPDATES_FILE,
        |current| match current {
            Some(md) if is_open(md) => {
                let body = md.replacen(render::STATUS_OPEN, render::STATUS_RESOLVED, 1);
                Some(vec![(
                    UPDATES_FILE.to_owned(),
                    format!("{body}\n## Resolved\n\nRun `{run_id}` found every proposed version in the site file.\n").into_bytes(),
                )])
            }
            _ => None,
        },
        &message,
    )?;
    Ok(match done {
        Some(commit) => Outcome::Resolved { branch, commit },
        None => Outcome::Nothing,
    })
}

/// Whether the desired state has reached a bump: pins its version or newer, accepts it by a
/// constraint, or no longer wants the package.
fn reached(site: &Site, b: &Bump) -> bool {
    let Ok(to) = b.to.parse() else {
        return false;
    };
    let Some(sw) = &site.software else {
        return true;
    };
    let want: Option<&VersionSpec> = match b.kind {
        Kind::Core => sw.core.as_ref(),
        Kind::Plugin | Kind::Theme => {
            let map = if b.kind == Kind::Plugin {
                &sw.plugins
            } else {
                &sw.themes
            };
            match map.get(&b.slug) {
                Some(Package::Present { version, .. }) => Some(version),
                _ => None,
            }
        }
    };
    match want {
        None => true,
        Some(VersionSpec::Exact(v)) => *v >= to,
        Some(spec) => spec.matches(&to),
    }
}

/// The pull-request description.
fn markdown(s: &SiteBumps<'_>, key: &str, run_id: &str) -> String {
    let mut md = String::new();
    let security = s.bumps.iter().any(|b| !b.security.is_empty());
    let _ = writeln!(
        md,
        "# {}Update {}: {} version bump(s)\n",
        if security { "Security update. " } else { "" },
        s.site.name,
        s.bumps.len()
    );
    let _ = writeln!(md, "{}  ", render::STATUS_OPEN);
    let _ = writeln!(md, "{KEY_PREFIX}{key}  ");
    let _ = writeln!(md, "Site: <{}>  ", s.site.url);
    if let Some(owner) = &s.site.owner {
        let _ = writeln!(md, "Owner: {}  ", text(owner));
    }
    let _ = writeln!(md, "File: {}  ", table_code(s.file));
    let _ = writeln!(md, "Raised by siteward run `{run_id}`.\n");
    md.push_str("| kind | package | from | to | released | security | link |\n|---|---|---|---|---|---|---|\n");
    for b in s.bumps {
        let released = b
            .released
            .as_deref()
            .map_or("unknown".to_owned(), |r| r.chars().take(10).collect());
        let sec = if b.security.is_empty() {
            String::new()
        } else {
            format!("🛡️ fixes {}", text(&b.security.join(", ")))
        };
        // Release URLs are normalised http(s) URLs (`releases::parse`): safe in an autolink.
        let link = b.url.as_deref().map_or(String::new(), |u| format!("<{u}>"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {released} | {sec} | {link} |",
            b.kind.as_str(),
            table_code(&b.slug),
            table_code(&b.from),
            table_code(&b.to)
        );
    }
    if !s.held.is_empty() {
        md.push_str("\n## Held back (younger than `updates.min_age`)\n\n");
        for h in s.held {
            let until = h
                .until
                .map_or("its release date is known (not given)".to_owned(), |t| {
                    t.format("%Y-%m-%d %H:%M UTC").to_string()
                });
            let _ = writeln!(
                md,
                "- {} {} {}: proposed after {until}",
                h.kind.as_str(),
                table_code(&h.slug),
                table_code(&h.version)
            );
        }
    }
    md.push_str("\n## How to take it\n\nThis branch holds the site file with only the version strings changed; \
merge it, or copy the file from this branch onto the main branch. The proposal is resolved once \
the site file on the main branch pins these versions or newer.\n");
    md
}
