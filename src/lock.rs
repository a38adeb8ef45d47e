//! The repo lock: one siteward run that acts on sites at a time per state repository.
//!
//! The lock is the file `.git/siteward.lock`, created exclusively, holding the owner's pid,
//! host name and start time. A lock whose pid no longer exists on this host is stale and is
//! taken over; a live one is waited for up to a timeout. Audit records do not need the lock
//! (their branch is updated by compare-and-swap); it keeps two applies from racing on a site.
//!
//! Caveat: a lock held by a process on another host (a shared network disk) is never
//! considered stale; remove it by hand when that run is gone.

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
waited {waited} — try again later or remove .git/{LOCK_FILE} if that run is gone"
    )]
    Busy {
        pid: u32,
        host: String,
        since: String,
        repo: String,
        waited: String,
    },
    #[error("cannot use lock file `{path}`: {source}")]
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
            host: hostname(),
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

    /// A lock is stale when its owner ran on this host and that process is gone.
    fn is_stale(&self) -> bool {
        self.host == hostname() && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RepoLock {
    path: PathBuf,
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
        let start = Instant::now();
        let me = Owner::current();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(me.render().as_bytes()).map_err(io)?;
                    return Ok(RepoLock { path, owner: me });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                // Released between our attempts: try again at once.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            let holder = Owner::parse(&text);
            if let Some(h) = holder.as_ref().filter(|h| h.is_stale()) {
                // Remove only the stale lock we read, not a fresh one written since.
                tracing::warn!(pid = h.pid, host = %h.host, "taking over a stale siteward lock");
                if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
                    match std::fs::remove_file(&path) {
                        Ok(()) => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io(e)),
                    }
                }
                continue;
            }
            if start.elapsed() >= timeout {
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
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Who holds this lock (this process).
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Only remove the file if it is still ours (it may have been removed by hand).
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| Owner::parse(&t))
            .is_some_and(|o| o == self.owner);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
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

/// This machine's host name (from the kernel), or `unknown`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
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
        assert!(msg.contains("remove .git/siteward.lock"), "{msg}");
        assert_eq!(held.owner().pid, std::process::id());
        drop(held);
        assert!(!dir.path().join(LOCK_FILE).exists());
        RepoLock::acquire(dir.path(), "state", Duration::ZERO).unwrap();
    }

    #[test]
    fn stale_lock_of_a_dead_pid_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A pid above the kernel's pid_max cannot exist.
        let dead = Owner {
            pid: 4_194_304 + 1,
            host: hostname(),
            since: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(dir.path().join(LOCK_FILE), dead.render()).unwrap();
        let lock = RepoLock::acquire(dir.path(), "state", Duration::ZERO).unwrap();
        assert_eq!(lock.owner.pid, std::process::id());
    }

    #[test]
    fn lock_of_another_host_is_never_stale() {
        let other = Owner {
            pid: 4_194_305,
            host: "elsewhere.invalid".into(),
            since: "x".into(),
        };
        assert!(!other.is_stale());
        assert_eq!(Owner::parse(&other.render()), Some(other));
    }
}
