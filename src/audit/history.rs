//! Reading the audit branch back, newest first, for `siteward log`.
//!
//! Fast on long histories: only commit headers are walked; a commit is skipped by its dates and
//! its `Siteward-Sites:` trailer before anything else is read, and then only its own record
//! blob is read, found by path (`audit/<author date>/<Siteward-Run>.json`) in the tip's tree,
//! which is read once ([`TipRecords`]), rather than through the commit's own five trees.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::record::{ActionRecord, RUN_TRAILER, RunCommand, RunRecord, SITES_TRAILER, record_path};
use crate::git::{BlobId, CommitId, CommitInfo, Commits, GitError, Repo};
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

    /// Calls `each` with every entry matching `filter`, newest run first, streaming. Stops at
    /// the limit or at the first error of `each`.
    ///
    /// The main thread walks the commits and hands each wanted one's record to reader threads
    /// (each with its own [`Repo`]), which read and parse it; entries are shown in walk order,
    /// with at most [`BATCHES_AHEAD`] batches of [`BATCH`] records in flight.
    pub fn visit<E: From<GitError>>(
        &self,
        filter: &HistoryFilter,
        mut each: impl FnMut(Entry) -> Result<(), E>,
    ) -> Result<(), E> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(());
        }
        let mut tip = TipRecords::read(self.repo, self.tip)?;
        // The main thread walks full time too.
        let readers = std::thread::available_parallelism()
            .map_or(1, |n| n.get() - 1)
            .clamp(1, MAX_READERS);
        let readers = (0..readers)
            .map(|_| self.repo.reopen())
            .collect::<Result<Vec<_>, _>>()?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Mutex::new(queue);
        std::thread::scope(|scope| {
            // Dropped on return, which ends the readers.
            let jobs = jobs;
            for repo in readers {
                let queue = &queue;
                scope.spawn(move || read_records(&repo, queue));
            }
            let mut walk = self.repo.commits(self.tip);
            let mut pending = VecDeque::with_capacity(BATCHES_AHEAD);
            // How the walk ended, once it did.
            let mut ended = None;
            let mut seen = 0;
            loop {
                while pending.len() < BATCHES_AHEAD && ended.is_none() {
                    let mut batch = Vec::with_capacity(BATCH);
                    while batch.len() < BATCH && ended.is_none() {
                        match next_wanted(&mut walk, &mut tip, self.repo, filter) {
                            Ok(Some(wanted)) => batch.push(wanted),
                            Ok(None) => ended = Some(Ok(())),
                            Err(e) => ended = Some(Err(e)),
                        }
                    }
                    if !batch.is_empty() {
                        let (done, read) = mpsc::sync_channel(1);
                        pending.push_back(read);
                        // Cannot fail: the readers only stop once `jobs` is dropped.
                        let _ = jobs.send(Job { batch, done });
                    }
                }
                let Some(read) = pending.pop_front() else {
                    // A failed walk still shows every entry before the failure, as it used to.
                    return ended.unwrap_or(Ok(())).map_err(E::from);
                };
                let Ok(read) = read.recv() else {
                    // Its reader panicked, which the scope raises again.
                    return Ok(());
                };
                for (commit, read) in read {
                    let Some(record) = shown_record(commit, read?) else {
                        continue;
                    };
                    let commit = commit.to_string();
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
            }
        })
    }
}

/// Records per job: a reader wakes once per batch, not once per record.
const BATCH: usize = 8;

/// Batches read ahead of the one being shown: enough to keep the readers busy, few enough to
/// keep memory flat.
const BATCHES_AHEAD: usize = 8;

/// Reader threads at most.
const MAX_READERS: usize = 4;

/// A commit whose record is wanted.
struct Wanted {
    commit: CommitId,
    /// Its own record's path, from its trailer and date.
    path: Option<String>,
    /// The tip's blob at `path`, when it is the commit's own ([`TipRecords`]).
    from_tip: Option<BlobId>,
}

/// Records for a reader to read, and where to send what it found, in the same order.
struct Job {
    batch: Vec<Wanted>,
    done: SyncSender<Vec<(CommitId, Result<Read, GitError>)>>,
}

/// What a reader found for a commit.
enum Read {
    Record(Box<RunRecord>),
    /// The commit adds no record.
    None,
    Unreadable {
        path: String,
        error: serde_json::Error,
    },
}

/// The next commit of `walk` whose record `filter` wants (`None` at the end, or at the early
/// stop of `--since`); every commit on the way passes `tip`.
fn next_wanted(
    walk: &mut Commits<'_>,
    tip: &mut TipRecords,
    repo: &Repo,
    filter: &HistoryFilter,
) -> Result<Option<Wanted>, GitError> {
    for info in walk {
        let info = info?;
        if filter
            .since
            .is_some_and(|since| info.committed < since - SKEW)
        {
            return Ok(None);
        }
        let path = trailer(&info.message, RUN_TRAILER).map(|run| record_path(info.authored, run));
        // Every commit passes the tip's records, read or not, so they stay true for older ones.
        let from_tip = tip.pass(repo, &info, path.as_deref())?;
        if wanted(&info, filter) {
            return Ok(Some(Wanted {
                commit: info.id,
                path,
                from_tip,
            }));
        }
    }
    Ok(None)
}

/// A reader thread: reads the records of jobs from `queue` until it closes.
fn read_records(repo: &Repo, queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        let read = job.batch.iter().map(|w| (w.commit, record_of(repo, w)));
        // Fails only when the main thread stopped early and no longer waits for it.
        let _ = job.done.send(read.collect());
    }
}

/// The record a commit added: by its trailer and date when possible (from the tip's tree when
/// it has it, else from the commit's own), else by diffing the commit against its parent.
fn record_of(repo: &Repo, job: &Wanted) -> Result<Read, GitError> {
    let by_path = match (&job.path, job.from_tip) {
        (Some(path), Some(blob)) => Some((path.clone(), repo.read_blob(blob)?)),
        (Some(path), None) => repo
            .read_file_at(job.commit, path)?
            .map(|b| (path.clone(), b)),
        (None, _) => None,
    };
    let found = match by_path {
        Some(found) => Some(found),
        None => {
            let added = repo.files_added_by(job.commit)?;
            match added
                .into_iter()
                .find(|(p, _)| p.starts_with("audit/") && p.ends_with(".json"))
            {
                Some((path, blob)) => Some((path, repo.read_blob(blob)?)),
                None => None,
            }
        }
    };
    let Some((path, bytes)) = found else {
        return Ok(Read::None);
    };
    Ok(match serde_json::from_slice::<RunRecord>(&bytes) {
        Ok(r) => Read::Record(Box::new(r)),
        Err(error) => Read::Unreadable { path, error },
    })
}

/// The record to show of what a reader found: commits without a readable one are skipped, with
/// a warning for an unreadable record (logged here, so in walk order).
fn shown_record(commit: CommitId, read: Read) -> Option<RunRecord> {
    match read {
        Read::Record(r) => Some(*r),
        Read::None => {
            tracing::debug!(%commit, "commit adds no run record; skipped");
            None
        }
        Read::Unreadable { path, error } => {
            tracing::warn!(%commit, %path, "unreadable run record skipped: {error}");
            None
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
