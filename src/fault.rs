//! Fault injection for tests, compiled only with the `fault-injection` cargo feature (off by
//! default, so release builds carry none of it). Faults a real component cannot produce on
//! demand are named in `SITEWARD_FAULT`, comma-separated:
//!
//! - `panic-apply:<site>`: the apply of `<site>` panics (see [`crate::isolate`]);
//! - `lock-audit-ref`: once the sites were acted on, the audit branch's ref lock file appears,
//!   as a git process killed mid-update leaves it, so the run's record cannot be committed;
//! - `kill-while-recording`: the same, then the run SIGKILLs itself, as if killed while it
//!   was moving the audit branch.

use crate::git::Repo;
use crate::spec::BranchName;

/// The variable naming the faults to inject.
pub const VAR: &str = "SITEWARD_FAULT";

fn wanted(fault: &str) -> bool {
    std::env::var(VAR).is_ok_and(|v| v.split(',').any(|f| f.trim() == fault))
}

/// A site's apply, which first panics under `panic-apply:<site>` (inside the future, so the
/// panic happens where the site's work is driven).
pub async fn apply<T>(site: &str, work: impl std::future::Future<Output = T>) -> T {
    if wanted(&format!("panic-apply:{site}")) {
        panic!("fault injected: `panic-apply:{site}`");
    }
    work.await
}

/// Between acting and recording: under `lock-audit-ref` or `kill-while-recording`, leaves the
/// lock file of `branch`; under `kill-while-recording`, then dies by SIGKILL.
pub fn after_acting(repo: &Repo, branch: &BranchName) {
    let kill = wanted("kill-while-recording");
    if wanted("lock-audit-ref") || kill {
        let lock = repo.ref_lock_path(&format!("refs/heads/{branch}"));
        if let Err(e) = std::fs::write(&lock, b"") {
            tracing::warn!("fault injection: cannot write `{}`: {e}", lock.display());
        }
    }
    if kill {
        let me = rustix::process::getpid();
        let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
    }
}
