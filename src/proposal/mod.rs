//! Proposals: change requests for `sync: propose` sites and for changes no provider can apply,
//! committed to `siteward-proposals/<site>` (`PROPOSAL.md` plus the machine-readable
//! `plan.json`) without touching the working tree.
//!
//! Guarantees: the same drift (same resources, keys, actions and desired values) never yields a
//! second proposal; a site seen in sync marks its open proposal resolved; the branch ref moves
//! only if it still points where this run found it.

pub mod list;
pub mod render;
pub mod updates;

use sha2::{Digest, Sha256};

use crate::git::{CommitId, GitError, Identity, Repo};
use crate::plan::{Change, SitePlan};
use crate::spec::{BranchName, Site};

/// File names on a proposal branch.
pub const PROPOSAL_FILE: &str = "PROPOSAL.md";
const PLAN_FILE: &str = "plan.json";
/// Attempts when another writer moves the branch at the same moment.
const MAX_ATTEMPTS: u32 = 5;

/// What happened to a site's proposal in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new proposal was committed.
    Written { branch: String, commit: CommitId },
    /// The open proposal on the branch already describes this drift.
    Unchanged { branch: String },
    /// The open proposal was marked resolved.
    Resolved { branch: String, commit: CommitId },
    /// Nothing to resolve (no proposal, or already resolved).
    Nothing,
}

/// A proposal could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot serialise the plan of `{site}`")]
    Json {
        site: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("branch `{branch}` kept moving while writing the proposal; try again")]
    Contended { branch: String },
    #[error(transparent)]
    Edit(#[from] crate::updates::edit::EditError),
}

/// The dedupe key of a set of changes: what is desired, not what is live (live values such as
/// days left tick on their own).
pub fn drift_digest(changes: &[(Change, String)]) -> String {
    let mut keys: Vec<String> = changes
        .iter()
        .map(|(c, _)| {
            format!(
                "{:?}\u{0}{}\u{0}{:?}\u{0}{}",
                c.resource,
                c.key,
                c.action,
                c.desired.as_deref().unwrap_or("\u{1}absent")
            )
        })
        .collect();
    keys.sort();
    hex::encode(Sha256::digest(keys.join("\n").as_bytes()))
}

/// Where proposals for `site` live.
pub fn branch(prefix: &BranchName, site: &Site) -> String {
    // Site names are DNS-like: never `..`, never a leading `.` or `/`.
    format!("{prefix}/{}", site.name)
}

/// Commits a proposal for `changes` unless the branch's open proposal already has this drift.
pub fn propose(
    repo: &Repo,
    prefix: &BranchName,
    author: &Identity,
    site: &Site,
    plan: &SitePlan,
    changes: &[(Change, String)],
    run_id: &str,
) -> Result<Outcome, ProposalError> {
    let branch = branch(prefix, site);
    let drift = drift_digest(changes);
    let markdown = render::markdown(site, plan, changes, &drift, run_id);
    let plan_json = serde_json::to_vec_pretty(plan).map_err(|source| ProposalError::Json {
        site: site.name.to_string(),
        source,
    })?;
    let message = format!(
        "propose: {} — {} change(s)\n\nSiteward-Run: {run_id}\nSiteward-Sites: {}\nSiteward-Drift: {drift}\n",
        site.name,
        changes.len(),
        site.name
    );
    commit(
        repo,
        &branch,
        author,
        PROPOSAL_FILE,
        |current| match current {
            Some(md) if is_open(md) && md.contains(&format!("{}{drift}", render::DRIFT_PREFIX)) => {
                None
            }
            _ => Some(vec![
                (PROPOSAL_FILE.to_owned(), markdown.clone().into_bytes()),
                (PLAN_FILE.to_owned(), plan_json.clone()),
            ]),
        },
        &message,
    )
    .map(|c| match c {
        Some(commit) => Outcome::Written {
            branch: branch.clone(),
            commit,
        },
        None => Outcome::Unchanged {
            branch: branch.clone(),
        },
    })
}

/// Marks the site's open proposal resolved (the site was observed in sync).
pub fn resolve(
    repo: &Repo,
    prefix: &BranchName,
    author: &Identity,
    site: &Site,
    run_id: &str,
) -> Result<Outcome, ProposalError> {
    let branch = branch(prefix, site);
    let message = format!(
        "resolve: {} is in sync\n\nSiteward-Run: {run_id}\nSiteward-Sites: {}\n",
        site.name, site.name
    );
    let done = commit(
        repo,
        &branch,
        author,
        PROPOSAL_FILE,
        |current| match current {
            Some(md) if is_open(md) => Some(vec![(
                PROPOSAL_FILE.to_owned(),
                render::resolved(md, run_id).into_bytes(),
            )]),
            _ => None,
        },
        &message,
    )?;
    Ok(match done {
        Some(commit) => Outcome::Resolved { branch, commit },
        None => Outcome::Nothing,
    })
}

/// Whether a proposal's Markdown carries `Status: open`.
pub fn is_open(markdown: &str) -> bool {
    markdown
        .lines()
        .any(|l| l.trim_end() == render::STATUS_OPEN)
}

/// Compare-and-swap commit on `branch`: `files` sees the current `watch` file (`PROPOSAL.md`,
/// `UPDATES.md`), if any, and returns the files to write, or `None` for "nothing to do".
fn commit(
    repo: &Repo,
    branch: &str,
    author: &Identity,
    watch: &str,
    files: impl Fn(Option<&str>) -> Option<Vec<(String, Vec<u8>)>>,
    message: &str,
) -> Result<Option<CommitId>, ProposalError> {
    let refname = format!("refs/heads/{branch}");
    for attempt in 0..MAX_ATTEMPTS {
        let tip = repo.read_ref(&refname)?;
        let current = match tip {
            Some(c) => repo
                .read_file_at(c, watch)?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            None => None,
        };
        let Some(files) = files(current.as_deref()) else {
            return Ok(None);
        };
        let blobs = files
            .iter()
            .map(|(path, data)| repo.write_blob(data).map(|b| (path.clone(), b)))
            .collect::<Result<Vec<_>, _>>()?;
        let base = tip.map(|c| repo.commit_tree(c)).transpose()?;
        let tree = repo.tree_with_files(base, &blobs)?;
        let now = chrono::Utc::now();
        let parents: Vec<CommitId> = tip.into_iter().collect();
        let commit = repo.write_commit(tree, &parents, author, (now, now), message)?;
        match repo.update_ref(&refname, commit, tip, "siteward: proposal") {
            Ok(()) => return Ok(Some(commit)),
            Err(GitError::Conflict { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(20 << attempt))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ProposalError::Contended {
        branch: branch.to_owned(),
    })
}
