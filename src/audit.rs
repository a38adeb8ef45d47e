//! The audit log in Git: every run's record committed to the branch `siteward-audit` as
//! `audit/YYYY/MM/DD/<run-id>.json`, without touching the working tree or the index.
//!
//! # Guarantees
//! - The branch only moves by compare-and-swap from the tip a writer read; a writer that
//!   loses the race re-reads the tip and rebuilds its tree and commit, so parallel runs never
//!   lose a record, and history stays linear.
//! - One file per run: records never conflict, which is what lets [`push_audit`] replay local
//!   records onto a moved remote tip instead of force-pushing.
//! - A record carries only what the plan and the actions carry (secret values are already
//!   `<secret sha256:…>` there, see [`crate::secret`]).
//! - An acting run checks the branch can be written before it acts ([`ensure_writable`]); a
//!   record that still cannot be committed is kept in the crash journal and committed by the
//!   next run ([`record_kept`]).

mod history;
mod push;
mod record;
mod trigger;

use std::time::Duration;

use crate::git::{CommitId, GitError, Identity, Repo, StaleLock};
use crate::lock::RepoLock;
use crate::spec::BranchName;

pub use history::{Entry, History, HistoryFilter};
pub use push::{PushError, PushReport, push_audit};
pub use record::{
    ActionRecord, ActionResult, RECORD_VERSION, RUN_TRAILER, RecordError, RecordSummary,
    RunCommand, RunMeta, RunRecord, SITES_TRAILER, SiteRecord, record_path,
};
pub use trigger::Trigger;

/// How often a writer rebuilds its commit after losing the race for the branch.
pub const MAX_ATTEMPTS: u32 = 64;

/// How often the check before acting retries when a live writer takes the ref lock.
const LOCKED_ATTEMPTS: u32 = 8;

/// A ref lock file at least this old was left by a killed process: git and libgit2 hold one
/// for milliseconds, and git itself waits only 100 ms for one.
pub const STALE_REF_LOCK: Duration = Duration::from_secs(5);

/// Identity used when neither `audit.author` nor git config names one.
pub const DEFAULT_AUTHOR: &str = "siteward <siteward@localhost>";

/// Recording a run failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot serialise the run record: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "branch `{branch}` kept moving: gave up after {attempts} attempts to add run `{run}`; \
run again, the record was not lost from the run's output"
    )]
    Contended {
        branch: String,
        run: String,
        attempts: u32,
    },
    #[error("`audit.author` setting: {0}")]
    Author(String),
}

/// The audit commit author: the `audit.author` setting (`Name <email>`), else git config's
/// `user.name`/`user.email`, else [`DEFAULT_AUTHOR`].
pub fn author(setting: Option<&str>, repo: &Repo) -> Result<Identity, AuditError> {
    if let Some(s) = setting {
        return s.parse().map_err(AuditError::Author);
    }
    Ok(repo
        .config_identity()
        .unwrap_or_else(|| DEFAULT_AUTHOR.parse().expect("valid default author")))
}

/// Commits `record` as one new file on `branch` (created as an orphan on the first run) and
/// returns the new commit. The author time is the run's start and the committer time its end,
/// so a record always makes the same commit on the same parent. The branch is moved only if it
/// still points where this writer found it, retrying up to [`MAX_ATTEMPTS`] times, also while
/// another writer holds its lock (a lock that never goes is reported as [`GitError::Locked`]).
pub fn record_run(
    repo: &Repo,
    branch: &BranchName,
    author: &Identity,
    record: &RunRecord,
) -> Result<CommitId, AuditError> {
    let path = record.path()?;
    let times = (record.started()?, record.finished()?);
    let mut json = serde_json::to_vec_pretty(record)?;
    json.push(b'\n');
    let blob = repo.write_blob(&json)?;
    let message = record.commit_message();
    let refname = format!("refs/heads/{branch}");
    let reflog = format!("siteward: record run {}", record.run.id);
    let mut locked = None;
    for attempt in 0..MAX_ATTEMPTS {
        let tip = repo.read_ref(&refname)?;
        let base = tip.map(|c| repo.commit_tree(c)).transpose()?;
        let tree = repo.tree_with_files(base, &[(path.clone(), blob)])?;
        let parents: Vec<CommitId> = tip.into_iter().collect();
        let commit = repo.write_commit(tree, &parents, author, times, &message)?;
        match repo.update_ref(&refname, commit, tip, &reflog) {
            Ok(()) => return Ok(commit),
            Err(GitError::Conflict { .. }) => {
                locked = None;
                backoff(attempt);
            }
            // Another writer holds the ref lock for milliseconds: contention like a moved
            // tip. A lock that never goes (left by a killed process) is reported as such.
            Err(e @ GitError::Locked { .. }) => {
                locked = Some(e);
                backoff(attempt);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(e) = locked {
        return Err(e.into());
    }
    Err(AuditError::Contended {
        branch: branch.to_string(),
        run: record.run.id.clone(),
        attempts: MAX_ATTEMPTS,
    })
}

/// Makes sure the record of a run can be committed to `branch` before the run acts: a ref lock
/// left by a killed process is removed (returned, for a warning), then the branch and the object
/// database are checked writable without changing anything.
///
/// Holding the repo lock (`_held`) is what makes the removal safe: no other siteward run is
/// updating the branch, and a lock file older than [`STALE_REF_LOCK`] belongs to no live git.
pub fn ensure_writable(
    repo: &Repo,
    branch: &BranchName,
    _held: &RepoLock,
) -> Result<Option<StaleLock>, GitError> {
    let refname = format!("refs/heads/{branch}");
    let mut removed = None;
    let mut attempt = 0;
    loop {
        if let Some(stale) = repo.remove_stale_ref_lock(&refname, STALE_REF_LOCK)? {
            removed = Some(stale);
        }
        match repo.check_ref_writable(&refname) {
            // A live writer (`plan --record`, a plain git) took the lock in between.
            Err(GitError::Locked { .. }) if attempt + 1 < LOCKED_ATTEMPTS => {
                backoff(attempt);
                attempt += 1;
            }
            checked => return checked.map(|()| removed),
        }
    }
}

/// Commits a record an earlier run kept because it could not commit it (the JSON it would have
/// committed). Returns the record's run id and the new commit, or `None` as commit when the
/// branch already holds the record (committed before the kept copy could be removed).
pub fn record_kept(
    repo: &Repo,
    branch: &BranchName,
    author: &Identity,
    json: &[u8],
) -> Result<(String, Option<CommitId>), AuditError> {
    let record: RunRecord = serde_json::from_slice(json)?;
    let tip = repo.read_ref(&format!("refs/heads/{branch}"))?;
    if let Some(tip) = tip
        && repo.read_file_at(tip, &record.path()?)?.is_some()
    {
        return Ok((record.run.id, None));
    }
    let commit = record_run(repo, branch, author, &record)?;
    Ok((record.run.id, Some(commit)))
}

/// A short, growing, per-process-jittered pause so racing writers spread out.
pub(crate) fn backoff(attempt: u32) {
    let jitter = u64::from(std::process::id() % 7);
    let ms = (1 + jitter) * u64::from(attempt.min(10) + 1);
    std::thread::sleep(Duration::from_millis(ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_setting_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        git_init(dir.path());
        let repo = Repo::open(dir.path()).unwrap();
        let a = author(Some("Ops Team <ops@example.org>"), &repo).unwrap();
        assert_eq!(a.to_string(), "Ops Team <ops@example.org>");
        let e = author(Some("ops"), &repo).unwrap_err().to_string();
        assert!(
            e.starts_with("`audit.author` setting: `ops` is not an identity"),
            "{e}"
        );
    }

    /// `git init` through the system git, so this module stays free of git2.
    fn git_init(path: &std::path::Path) {
        let ok = std::process::Command::new("git")
            .arg("init")
            .arg("-q")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}
