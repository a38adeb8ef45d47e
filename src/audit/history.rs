//! Reading the audit branch back, newest first, for `siteward log`.
//!
//! Fast on long histories: only commit headers are walked; a commit is skipped by its dates and
//! its `Siteward-Sites:` trailer before anything else is read, and then only its own record
//! blob is read, found by path (`audit/<author date>/<Siteward-Run>.json`) rather than by
//! diffing trees.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::record::{ActionRecord, RUN_TRAILER, RunCommand, RunRecord, SITES_TRAILER, record_path};
use crate::git::{CommitId, CommitInfo, GitError, Repo};
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
        for commit in self.repo.walk(self.tip, None)? {
            let info = self.repo.commit_info(commit?)?;
            if let Some(since) = filter.since {
                if info.committed < since - SKEW {
                    break;
                }
                if info.authored < since {
                    continue;
                }
            }
            if filter.until.is_some_and(|until| info.authored >= until) {
                continue;
            }
            if !filter.sites.is_empty()
                && let Some(listed) = trailer(&info.message, SITES_TRAILER)
                && !listed
                    .split(", ")
                    .any(|s| filter.sites.iter().any(|f| f == s))
            {
                continue;
            }
            let Some(record) = self.record_of(&info)? else {
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
                })?;
                seen += 1;
                if seen >= limit {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The record a commit added: by its trailer and date when possible, else by diffing the
    /// commit against its parent. Unreadable records are skipped with a warning.
    fn record_of(&self, info: &CommitInfo) -> Result<Option<RunRecord>, GitError> {
        let by_path = match trailer(&info.message, RUN_TRAILER) {
            Some(run) => {
                let path = record_path(info.authored, run);
                self.repo.read_file_at(info.id, &path)?.map(|b| (path, b))
            }
            None => None,
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
