//! `--push REMOTE`: publish the audit branch without ever force-pushing.
//!
//! When the remote tip moved (another runner pushed first), the local records the remote does
//! not have are replayed on top of the remote tip: each commit's own files are added to the
//! remote tip's tree, with the original message and author. Records are one file per run, so
//! this can never conflict, and the result is a linear history containing everyone's records.

use std::time::Duration;

use crate::git::{CommitId, GitError, PushOutcome, Repo};
use crate::spec::BranchName;

/// How often a push is retried after the remote moved.
pub const MAX_PUSH_ATTEMPTS: u32 = 8;

/// Pushing the audit branch failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("there is no local audit branch `{branch}` to push; record a run first")]
    NoBranch { branch: String },
    #[error(
        "remote `{remote}` kept moving: gave up pushing `{branch}` after {attempts} attempts \
({reason}); the records are safe on the local branch, push again later"
    )]
    GaveUp {
        remote: String,
        branch: String,
        attempts: u32,
        reason: String,
    },
}

/// What a successful push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The tip now on the remote.
    pub tip: CommitId,
    /// Local commits that were rebuilt on a moved remote tip.
    pub replayed: usize,
    /// Pushes tried, the successful one included.
    pub attempts: u32,
}

/// Pushes `branch` to `remote` (a remote name, path or URL), replaying local records onto the
/// remote tip when it moved; never forces. Each `git push` and `git fetch` is stopped after
/// `timeout`, so a remote that does not answer fails the push instead of hanging the run.
pub fn push_audit(
    repo: &Repo,
    remote: &str,
    branch: &BranchName,
    timeout: Duration,
) -> Result<PushReport, PushError> {
    let local = format!("refs/heads/{branch}");
    let tracking = if repo.has_remote(remote) {
        format!("refs/remotes/{remote}/{branch}")
    } else {
        format!("refs/siteward/fetched/{branch}")
    };
    let mut replayed = 0;
    let mut reason = String::new();
    for attempt in 1..=MAX_PUSH_ATTEMPTS {
        let tip = repo.read_ref(&local)?.ok_or_else(|| PushError::NoBranch {
            branch: branch.to_string(),
        })?;
        match repo.push_branch(remote, branch.as_str(), timeout)? {
            PushOutcome::Pushed => {
                return Ok(PushReport {
                    tip,
                    replayed,
                    attempts: attempt,
                });
            }
            PushOutcome::Rejected { reason: why } => {
                tracing::info!(%remote, %branch, reason = %why, "remote audit branch moved; replaying local records on its tip");
                reason = why;
                let remote_tip = repo.fetch_branch(remote, branch.as_str(), &tracking, timeout)?;
                let (new_tip, n) = replay(repo, tip, remote_tip)?;
                match repo.update_ref(&local, new_tip, Some(tip), "siteward: replay on remote tip")
                {
                    // A local run recorded meanwhile: the next round replays it too.
                    Ok(()) | Err(GitError::Conflict { .. }) => replayed += n,
                    Err(e) => return Err(e.into()),
                }
                super::backoff(attempt);
            }
        }
    }
    Err(PushError::GaveUp {
        remote: remote.to_owned(),
        branch: branch.to_string(),
        attempts: MAX_PUSH_ATTEMPTS,
        reason,
    })
}

/// Rebuilds the commits of `local` that `onto` lacks on top of `onto`, oldest first; returns
/// the new tip and how many commits were rebuilt.
fn replay(repo: &Repo, local: CommitId, onto: CommitId) -> Result<(CommitId, usize), GitError> {
    let mut mine = repo
        .walk(local, Some(onto))?
        .collect::<Result<Vec<_>, _>>()?;
    mine.reverse();
    let mut base = onto;
    for commit in &mine {
        let info = repo.commit_info(*commit)?;
        let files = repo.files_added_by(*commit)?;
        let tree = repo.tree_with_files(Some(repo.commit_tree(base)?), &files)?;
        // Committed now: the early stop of `log --since` relies on commit times growing.
        let times = (info.authored, chrono::Utc::now());
        base = repo.write_commit(tree, &[base], &info.author, times, &info.message)?;
    }
    Ok((base, mine.len()))
}
