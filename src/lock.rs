//! The repo lock: one siteward run that acts on sites at a time per state repository.
//!
//! The lock is a kernel file lock (`flock`) on `.git/siteward.lock`; the file also holds the
//! owner's pid, host name and start time for the message a waiting run prints. The kernel
//! releases the lock when its process ends, however it ends, so a killed run never leaves a
//! stale lock and no takeover race exists. The file itself is never deleted (deleting a locked
//! file would let two runs lock two different files). Audit records do not need the lock (their
//! branch is updated by compare-and-swap); it keeps two applies from racing on a site.
//!
//! Caveat: file locks on network file systems depend on the server; keep state repos local.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

/// File name of the lock inside the `.git` directory.
pub const LOCK_FILE: &str = "siteward.lock";

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another siteward run (pid {pid} on host {host}, since {since}) holds the lock on {repo}; \
waited {waited} — try again when it has finished, or raise `--lock-timeout`"
    )]
    Busy {
        pid: u32,
        host: String,
        since: String,
        repo: String,
        waited: String,
    },
    #[error("cannot use lock file `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub host: String,
    pub since: String,
}

impl Owner {
    fn current() -> Owner {
        Owner {
            pid: std::process::id(),
            host: crate::journal::hostname(),
            since: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    fn render(&self) -> String {
        format!(
            "pid {}\nhost {}\nsince {}\n",
            self.pid, self.host, self.since
        )
    }

    /// Parses the lock file; `None` when it is unreadable (being written, or damaged).
    fn parse(text: &str) -> Option<Owner> {
        let mut pid = None;
        let mut host = None;
        let mut since = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", v)) => pid = v.parse().ok(),
                Some(("host", v)) => host = Some(v.to_owned()),
                Some(("since", v)) => since = Some(v.to_owned()),
                _ => {}
            }
        }
        Some(Owner {
            pid: pid?,
            host: host?,
            since: since?,
        })
    }
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RepoLock {
    /// Holding the open, locked file is holding the lock.
    file: std::fs::File,
    owner: Owner,
}

impl RepoLock {
    /// Takes the lock of the repository whose `.git` directory is `git_dir`, waiting up to
    /// `timeout` for another run to finish. `repo` names the repository in messages.
    pub fn acquire(git_dir: &Path, repo: &str, timeout: Duration) -> Result<RepoLock, LockError> {
        let path = git_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| Owner::parse(&t));
                    let h = holder.unwrap_or(Owner {
                        pid: 0,
                        host: "unknown".into(),
                        since: "unknown".into(),
                    });
                    return Err(LockError::Busy {
                        pid: h.pid,
                        host: h.host,
                        since: h.since,
                        repo: repo.to_owned(),
                        waited: waited(timeout),
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let me = Owner::current();
        file.set_len(0)
            .and_then(|()| file.write_all(me.render().as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io)?;
        Ok(RepoLock { file, owner: me })
    }

    /// Who holds this lock (this process).
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Clear the owner so the file does not name a finished run; closing the file (after
        // this) releases the kernel lock.
        let _ = self.file.set_len(0);
    }
}

/// `300ms`, `60s`.
fn waited(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_times_out_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let held = RepoLock::acquire(dir.path(), "state", Duration::ZERO).unwrap();
        let err = RepoLock::acquire(dir.path(), "state", Duration::from_millis(120)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {} on host", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("holds the lock on state"), "{msg}");
        assert!(msg.contains("try again when it has finished"), "{msg}");
        assert_eq!(held.owner().pid, std::process::id());
        drop(held);
        RepoLock::acquire(dir.path(), "state", Duration::ZERO).unwrap();
    }

    #[test]
    fn a_leftover_file_without_a_holder_is_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed run leaves: the file with its owner, but no kernel lock.
        let dead = Owner {
            pid: 4_194_305,
            host: "elsewhere.invalid".into(),
            since: "x".into(),
        };
        std::fs::write(dir.path().join(LOCK_FILE), dead.render()).unwrap();
        assert_eq!(Owner::parse(&dead.render()), Some(dead));
        let lock = RepoLock::acquire(dir.path(), "state", Duration::ZERO).unwrap();
        assert_eq!(lock.owner.pid, std::process::id());
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.starts_with(&format!("pid {}\n", std::process::id())),
            "{text}"
        );
    }
}
