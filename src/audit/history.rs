//! Reading the audit branch back, newest first, for `siteward log`.
//!
//! Fast on long histories: only commit headers are walked; a commit is skipped by its dates and
//! its `Siteward-Sites:` trailer before anything else is read, and then only its own record
//! blob is read, found by path (`audit/<author date>/<Siteward-Run>.json`) in the tip's tree,
//! which is read once ([`TipRecords`]), rather than through the commit's own five trees.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::record::{ActionRecord, RUN_TRAILER, RunCommand, RunRecord, SITES_TRAILER, record_path};
use crate::git::{BlobId, CommitId, CommitInfo, GitError, Repo};
use crate::plan::{Change, Health, SyncStatus};

/// Clock skew between runners that the early stop of `--since` tolerates.
const SKEW: Duration = Duration::days(1);

/// Which entries to return.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// Only these sites (all when empty).
    pub sites: Vec<String>,
    /// Runs started at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Runs started before this time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many entries.
    pub limit: Option<usize>,
}

/// One site in one run: a line of `siteward log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub run: String,
    pub commit: String,
    /// When the run started (RFC 3339, UTC).
    pub time: String,
    pub command: RunCommand,
    pub site: String,
    pub sync: SyncStatus,
    pub health: Health,
    pub changes: Vec<Change>,
    pub actions: Vec<ActionRecord>,
    pub error: Option<String>,
    /// Days the certificate had left (notifications' baseline; not in `log`'s JSON).
    #[serde(skip)]
    pub certificate_days_left: Option<i64>,
    /// The web grade, when graded (notifications' baseline; not in `log`'s JSON).
    #[serde(skip)]
    pub grade: Option<String>,
}

/// The audit history on one branch.
pub struct History<'r> {
    repo: &'r Repo,
    tip: CommitId,
}

impl<'r> History<'r> {
    /// The history of `branch`: a local branch name, `REMOTE/branch` for a remote-tracking
    /// branch, or a full ref name. `None` when no such branch exists (no runs recorded yet).
    pub fn open(repo: &'r Repo, branch: &str) -> Result<Option<History<'r>>, GitError> {
        let candidates = if branch.starts_with("refs/") {
            vec![branch.to_owned()]
        } else {
            vec![
                format!("refs/heads/{branch}"),
                format!("refs/remotes/{branch}"),
            ]
        };
        for name in candidates {
            if let Some(tip) = repo.read_ref(&name)? {
                return Ok(Some(History { repo, tip }));
            }
        }
        Ok(None)
    }

    /// Calls `each` with every entry matching `filter`, newest run first, streaming: one
    /// record is in memory at a time. Stops at the limit or at the first error of `each`.
    pub fn visit<E: From<GitError>>(
        &self,
        filter: &HistoryFilter,
        mut each: impl FnMut(Entry) -> Result<(), E>,
    ) -> Result<(), E> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut seen = 0;
        if limit == 0 {
            return Ok(());
        }
        let mut tip = TipRecords::read(self.repo, self.tip)?;
        for commit in self.repo.walk(self.tip, None)? {
            let info = self.repo.commit_info(commit?)?;
            if filter
                .since
                .is_some_and(|since| info.committed < since - SKEW)
            {
                break;
            }
            let path =
                trailer(&info.message, RUN_TRAILER).map(|run| record_path(info.authored, run));
            // Every commit passes the tip's records, read or not, so they stay true for older ones.
            let from_tip = tip.pass(self.repo, &info, path.as_deref())?;
            if !wanted(&info, filter) {
                continue;
            }
            let Some(record) = self.record_of(&info, path, from_tip)? else {
                continue;
            };
            let commit = info.id.to_string();
            for site in record.sites {
                if !filter.sites.is_empty() && !filter.sites.contains(&site.site) {
                    continue;
                }
                each(Entry {
                    run: record.run.id.clone(),
                    commit: commit.clone(),
                    time: record.run.started.clone(),
                    command: record.run.command,
                    site: site.site,
                    sync: site.sync,
                    health: site.health,
                    changes: site.changes,
                    actions: site.actions,
                    error: site.error,
                    certificate_days_left: site.certificate_days_left,
                    grade: site.grade,
                })?;
                seen += 1;
                if seen >= limit {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The record a commit added: by its trailer and date when possible (from the tip's tree
    /// when `from_tip` has it, else from the commit's own), else by diffing the commit against
    /// its parent. Unreadable records are skipped with a warning.
    fn record_of(
        &self,
        info: &CommitInfo,
        path: Option<String>,
        from_tip: Option<BlobId>,
    ) -> Result<Option<RunRecord>, GitError> {
        let by_path = match (path, from_tip) {
            (Some(path), Some(blob)) => Some((path, self.repo.read_blob(blob)?)),
            (Some(path), None) => self.repo.read_file_at(info.id, &path)?.map(|b| (path, b)),
            (None, _) => None,
        };
        let found = match by_path {
            Some(found) => Some(found),
            None => {
                let added = self.repo.files_added_by(info.id)?;
                match added
                    .into_iter()
                    .find(|(p, _)| p.starts_with("audit/") && p.ends_with(".json"))
                {
                    Some((path, blob)) => Some((path, self.repo.read_blob(blob)?)),
                    None => None,
                }
            }
        };
        let Some((path, bytes)) = found else {
            tracing::debug!(commit = %info.id, "commit adds no run record; skipped");
            return Ok(None);
        };
        match serde_json::from_slice::<RunRecord>(&bytes) {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                tracing::warn!(commit = %info.id, %path, "unreadable run record skipped: {e}");
                Ok(None)
            }
        }
    }
}

/// Whether a commit's dates and `Siteward-Sites:` trailer pass `filter` (`--since` only by
/// the author date: the early stop is up to the caller).
fn wanted(info: &CommitInfo, filter: &HistoryFilter) -> bool {
    if filter.since.is_some_and(|since| info.authored < since) {
        return false;
    }
    if filter.until.is_some_and(|until| info.authored >= until) {
        return false;
    }
    if filter.sites.is_empty() {
        return true;
    }
    trailer(&info.message, SITES_TRAILER).is_none_or(|listed| {
        listed
            .split(", ")
            .any(|s| filter.sites.iter().any(|f| f == s))
    })
}

/// The record blobs of the branch tip's `audit/` tree, by path, read once: one tree per day
/// folder instead of five trees per commit.
///
/// # Guarantees
/// Walking newest first and passing every commit ([`TipRecords::pass`]), a path is handed to a
/// commit only when the commit's own tree has the same blob there, so `siteward log` reads
/// exactly what it read through each commit's tree; otherwise the commit reads its own tree.
///
/// # Assumptions
/// A run commit (a `Siteward-Run:` trailer, at most one parent) changes only its own record
/// path, as every siteward writer does (`record_run`, the push replay). Any other commit is
/// diffed against each parent.
struct TipRecords(HashMap<String, BlobId>);

impl TipRecords {
    fn read(repo: &Repo, tip: CommitId) -> Result<TipRecords, GitError> {
        Ok(TipRecords(
            repo.files_under(tip, "audit")?.into_iter().collect(),
        ))
    }

    /// Lets the next commit (newest first) by, and returns the blob of its own record `path`
    /// when the tip's is that one. A run commit takes its path out, so that an older commit with
    /// the same path reads its own tree; any other commit takes out every path it changed,
    /// since the tip's blob there is not what older commits hold.
    fn pass(
        &mut self,
        repo: &Repo,
        info: &CommitInfo,
        path: Option<&str>,
    ) -> Result<Option<BlobId>, GitError> {
        match path {
            Some(path) if info.parents.len() <= 1 => Ok(self.0.remove(path)),
            _ => {
                for changed in repo.changed_paths(info.id)? {
                    self.0.remove(&changed);
                }
                Ok(None)
            }
        }
    }
}

/// The value of the last `key` trailer line of a commit message.
fn trailer<'m>(message: &'m str, key: &str) -> Option<&'m str> {
    message
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers() {
        let m = "reconcile: 1 site\n\nSiteward-Run: r1\nSiteward-Sites: a, b\n";
        assert_eq!(trailer(m, RUN_TRAILER), Some("r1"));
        assert_eq!(trailer(m, SITES_TRAILER), Some("a, b"));
        assert_eq!(trailer("x", RUN_TRAILER), None);
    }
}
