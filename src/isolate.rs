//! Panic isolation: a bug that panics inside one site's work must not take the run down with
//! it. The panic becomes that site's failed apply, carrying the panic message; the other
//! sites go on, and the run is recorded like any other (SPEC: every acting run is recorded).
//!
//! Caveat: a panic skips the provider's own rollback, so the site may be left half-applied.
//! Its actions say so, and the core loop observes the site again (an apply was attempted), so
//! the record states what is live. Isolation needs unwinding, Rust's default: a profile with
//! `panic = "abort"` would end the run unrecorded.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::apply::{SiteApply, records};
use crate::audit::ActionResult;
use crate::plan::Change;

/// Drives `work`, the apply of `changes` to `site`; a panic in it becomes a failed apply of
/// every one of them.
pub async fn site_apply(
    site: &str,
    changes: &[Change],
    work: impl Future<Output = SiteApply>,
) -> SiteApply {
    #[cfg(feature = "fault-injection")]
    let work = crate::fault::apply(site, work);
    #[cfg(not(feature = "fault-injection"))]
    let _ = site;
    match catch(work).await {
        Ok(done) => done,
        Err(msg) => panicked(changes, &msg),
    }
}

/// Drives `work` to its end, or returns the message of its panic.
///
/// Unwind safety (why `AssertUnwindSafe` holds for a site's apply): the panicked future is
/// dropped whole, and what it shares with the others stays consistent: its crash-journal entry
/// is removed by its guard while unwinding, the per-server gates are async mutexes (never
/// poisoned), and the site is observed again before the run is recorded.
pub async fn catch<T>(work: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| message(payload.as_ref()))
}

/// The apply of `changes` that panicked with `msg`.
fn panicked(changes: &[Change], msg: &str) -> SiteApply {
    let error = panic_text(msg);
    SiteApply {
        actions: records(changes, ActionResult::Failed, &error),
        error: Some(error),
    }
}

/// What a site's failed action says when its apply panicked with `msg`.
pub fn panic_text(msg: &str) -> String {
    format!(
        "siteward panicked while applying this site ({msg}); its rollback may not have run, \
so the site was observed again — please report this bug"
    )
}

/// The text of a panic payload (`panic!` makes a `&str` or a `String`).
fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_panic_becomes_its_message() {
        let n = 7;
        let formatted = block_on(catch(async move {
            if n == 7 {
                panic!("provider bug {n}");
            }
        }));
        assert_eq!(formatted, Err("provider bug 7".to_owned()));
        let literal = block_on(catch(async {
            if n == 7 {
                panic!("literal");
            }
        }));
        assert_eq!(literal, Err("literal".to_owned()));
    }

    #[test]
    fn a_finished_future_passes_through() {
        assert_eq!(block_on(catch(async { 42 })), Ok(42));
    }
}
