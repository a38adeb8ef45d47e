//! Crash journal: one small file per site apply in progress, written before a provider touches
//! anything and removed when the apply has finished (applied, or failed and rolled back). An
//! entry left behind by a process that no longer runs means that process was killed mid-apply:
//! the next run reports it and re-verifies the site.
//!
//! The journal also keeps each acting run's record (`<run-id>.record`, the record's JSON) from
//! just before it is committed until it is: a run killed while recording, or one that cannot
//! record, leaves it for the next run to commit, so an acting run is never left without one.
//!
//! Entries live in `.git/siteward/journal/` (or `.siteward/journal/` outside a git repo), never
//! in the working tree.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One apply in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub run: String,
    pub site: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub provider: String,
    /// The file the provider was writing.
    pub config: String,
}

/// A journal entry whose process is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub entry: Entry,
    path: PathBuf,
}

impl Interrupted {
    /// What to tell the operator.
    pub fn message(&self) -> String {
        let e = &self.entry;
        format!(
            "run {} (pid {} on {}) was interrupted while applying `{}` through {} at {} (file `{}`); the site is re-verified",
            e.run, e.pid, e.host, e.site, e.provider, e.started, e.config
        )
    }

    /// Forgets the entry once the interruption has been reported and recorded.
    pub fn clear(&self) -> std::io::Result<()> {
        remove(&self.path)
    }
}

/// A run record kept because it could not be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRecord {
    /// The record's JSON, as the run would have committed it.
    pub json: Vec<u8>,
    pub path: PathBuf,
}

impl KeptRecord {
    /// Forgets the record once it is committed.
    pub fn clear(&self) -> std::io::Result<()> {
        remove(&self.path)
    }
}

/// Extension of a kept record's file.
const RECORD_EXT: &str = "record";

/// The journal directory of a state repo.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// An entry's file, removed on drop so that an early return cannot leave it behind. Only a
/// killed process leaves one.
#[derive(Debug)]
pub struct Guard {
    path: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = remove(&self.path) {
            tracing::warn!("cannot remove journal entry `{}`: {e}", self.path.display());
        }
    }
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl Journal {
    /// The journal of the state repo at `repo`: in its git directory (found like `git` does,
    /// so `--repo` may be a subdirectory), else in `.siteward/` beside the state files.
    pub fn for_repo(repo: &Path) -> Journal {
        let dir = match crate::git::Repo::open(repo) {
            Ok(git) => git.git_dir().join("siteward").join("journal"),
            Err(_) => repo.join(".siteward").join("journal"),
        };
        Journal { dir }
    }

    /// Writes `entry` (durably) before an apply starts.
    pub fn begin(&self, entry: &Entry) -> std::io::Result<Guard> {
        std::fs::create_dir_all(&self.dir)?;
        // Names come from validated run ids and DNS-like site names: no separators possible.
        let path = self.dir.join(format!("{}--{}.json", entry.run, entry.site));
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(Guard { path })
    }

    /// Keeps the JSON of run `run`'s record (durably) until it is committed: by this run, or
    /// else by the next one.
    pub fn keep_record(&self, run: &str, json: &[u8]) -> std::io::Result<KeptRecord> {
        std::fs::create_dir_all(&self.dir)?;
        // Run ids are generated (date and hex): no separators possible.
        let path = self.dir.join(format!("{run}.{RECORD_EXT}"));
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, json)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(KeptRecord {
            json: json.to_vec(),
            path,
        })
    }

    /// Records kept by earlier runs, oldest run first (run ids start with their time).
    pub fn kept_records(&self) -> Vec<Result<KeptRecord, (PathBuf, std::io::Error)>> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == RECORD_EXT))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| match std::fs::read(&path) {
                Ok(json) => Ok(KeptRecord { json, path }),
                Err(e) => Err((path, e)),
            })
            .collect()
    }

    /// Entries left by processes that no longer run (this process's own are never stale).
    /// With `locked` (the caller holds the repo lock, so no other acting run is alive) every
    /// entry not of this process is one, even if its pid was reused since.
    pub fn interrupted(&self, locked: bool) -> Vec<Interrupted> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let host = hostname();
        let mut found: Vec<Interrupted> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|path| {
                let entry: Entry = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
                let ours = entry.host == host && entry.pid == std::process::id();
                let alive = ours || (!locked && entry.host == host && process_alive(entry.pid));
                (!alive).then_some(Interrupted { entry, path })
            })
            .collect();
        found.sort_by(|a, b| a.entry.started.cmp(&b.entry.started));
        found
    }
}

/// This machine's host name (for telling our processes from another machine's).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether a process with this pid exists on this machine.
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32) -> Entry {
        Entry {
            run: "20260101T000000Z-abc".into(),
            site: "a.example".into(),
            pid,
            host: hostname(),
            started: "2026-01-01T00:00:00Z".into(),
            provider: "nginx".into(),
            config: "/etc/nginx/a.conf".into(),
        }
    }

    #[test]
    fn finished_applies_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::for_repo(dir.path());
        {
            let _g = j.begin(&entry(std::process::id())).unwrap();
            assert!(
                j.interrupted(true).is_empty(),
                "our own running apply is not interrupted"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path().join(".siteward/journal"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn kept_records_are_listed_oldest_first_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::for_repo(dir.path());
        assert!(j.kept_records().is_empty());
        j.keep_record("20260102T000000Z-b", b"{\"b\":1}").unwrap();
        let _g = j.begin(&entry(std::process::id())).unwrap();
        j.keep_record("20260101T000000Z-a", b"{\"a\":1}").unwrap();
        let kept: Vec<KeptRecord> = j.kept_records().into_iter().map(Result::unwrap).collect();
        assert_eq!(kept.len(), 2, "apply entries are not records");
        assert_eq!(kept[0].json, b"{\"a\":1}");
        assert!(kept[0].path.ends_with("20260101T000000Z-a.record"));
        kept[0].clear().unwrap();
        assert_eq!(j.kept_records().len(), 1);
        assert!(
            j.interrupted(false).is_empty(),
            "records are not interruptions"
        );
    }

    #[test]
    fn entries_of_dead_processes_are_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::for_repo(dir.path());
        let g = j.begin(&entry(u32::MAX - 7)).unwrap();
        std::mem::forget(g);
        let found = j.interrupted(false);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message()
                .contains("was interrupted while applying `a.example`")
        );
        found[0].clear().unwrap();
        assert!(j.interrupted(false).is_empty());
    }
}
