//! Waiting for something observable instead of sleeping a fixed time: poll a condition until it
//! holds or a deadline passes. Deadlines are generous (a loaded 2-core machine may be many times
//! slower than a quiet one); reaching one is always a failure, never a pass.

use std::time::{Duration, Instant};

/// The deadline for a server to come up or a process to reach a point: long enough for a
/// machine whose cores are busy with other builds, short enough to fail a hung test.
pub const STARTUP: Duration = Duration::from_secs(60);

/// Polls `probe` until it returns `Some`, backing off from 10 ms to 100 ms between tries;
/// `None` when `timeout` passes first (for a caller that must clean up before failing).
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// As [`poll`]; panics, naming `what`, when `timeout` passes first.
#[track_caller]
pub fn until_some<T>(what: &str, timeout: Duration, probe: impl FnMut() -> Option<T>) -> T {
    match poll(timeout, probe) {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Polls `cond` until it holds; panics, naming `what`, when `timeout` passes first.
#[track_caller]
pub fn until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    until_some(what, timeout, || cond().then_some(()));
}
