//! Progress of a long run's phases: `observe` and `apply` count sites done out of the total and
//! name the sites running longest (what holds the run up); `record` counts its steps
//! (notifications, the commit) and names the one under way.
//!
//! Where it shows: on a terminal, a bar per phase (not at `-q`); off a terminal at `-v`, one
//! `info:` line on stderr every [`LINE_EVERY`], e.g.
//! `observe 4200/10000 sites, slowest: a.example (3.1 s), b.example (2.0 s)` or
//! `record 0/2 steps, now: notify (4.0 s)`; otherwise nothing. The choice follows the log level
//! `logging` installed, so `RUST_LOG` decides too.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the line is printed off a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(2);
/// How often the bar's list of the slowest sites is refreshed.
const BAR_EVERY: Duration = Duration::from_millis(500);
/// How many of the longest-running sites are named.
const SLOWEST: usize = 3;

/// One phase's progress. Dropping it stops the periodic line and clears the bar.
pub struct Phase {
    shared: Option<Arc<Shared>>,
    ticker: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

/// What a phase counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Sites, several at a time: the longest running are named.
    Sites,
    /// Steps, one after the other: the one under way is named.
    Steps,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Sites => "sites",
            Unit::Steps => "steps",
        }
    }

    /// What the named running items are called in the line.
    fn running_label(self) -> &'static str {
        match self {
            Unit::Sites => "slowest",
            Unit::Steps => "now",
        }
    }
}

struct Shared {
    phase: &'static str,
    unit: Unit,
    total: usize,
    state: Mutex<State>,
    bar: Option<indicatif::ProgressBar>,
}

#[derive(Default)]
struct State {
    done: usize,
    next: u64,
    /// Sites started and not done, by ticket: name and start.
    running: HashMap<u64, (String, Instant)>,
}

/// One site of a phase, running until dropped.
pub struct Running<'a> {
    shared: Option<&'a Shared>,
    ticket: u64,
}

impl Phase {
    /// Starts phase `phase` over `total` sites or steps; `show: false` (verification's
    /// re-observation) shows nothing.
    pub fn start(phase: &'static str, unit: Unit, total: usize, show: bool) -> Phase {
        let terminal = std::io::stderr().is_terminal();
        let bar = show && terminal && tracing::enabled!(tracing::Level::WARN);
        let lines = show && !terminal && tracing::enabled!(tracing::Level::INFO);
        if !bar && !lines {
            return Phase {
                shared: None,
                ticker: None,
            };
        }
        let bar = bar.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            let unit = unit.as_str();
            let template = format!("{phase} {{pos}}/{{len}} {unit} {{wide_bar}} {{msg}}");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar
        });
        let every = if bar.is_some() { BAR_EVERY } else { LINE_EVERY };
        let shared = Arc::new(Shared {
            phase,
            unit,
            total,
            state: Mutex::new(State::default()),
            bar,
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = shared.clone();
        let ticker = std::thread::Builder::new()
            .name(format!("{phase} progress"))
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    ticking.tick();
                }
            })
            .ok()
            .map(|handle| (stop, handle));
        Phase {
            shared: Some(shared),
            ticker,
        }
    }

    /// Marks site or step `name` as started; it counts as done when the returned guard is
    /// dropped.
    pub fn begin(&self, name: &str) -> Running<'_> {
        let Some(shared) = self.shared.as_deref() else {
            return Running {
                shared: None,
                ticket: 0,
            };
        };
        let mut state = shared.lock();
        let ticket = state.next;
        state.next += 1;
        state
            .running
            .insert(ticket, (name.to_owned(), Instant::now()));
        Running {
            shared: Some(shared),
            ticket,
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            drop(stop);
            let _ = handle.join();
        }
        if let Some(bar) = self.shared.as_ref().and_then(|s| s.bar.as_ref()) {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let Some(shared) = self.shared else { return };
        let mut state = shared.lock();
        state.running.remove(&self.ticket);
        state.done += 1;
        if let Some(bar) = &shared.bar {
            bar.set_position(state.done as u64);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refreshes the bar's message, or prints the line.
    fn tick(&self) {
        let (done, slowest) = {
            let state = self.lock();
            let label = self.unit.running_label();
            (state.done, slowest(label, &state.running, Instant::now()))
        };
        match &self.bar {
            Some(bar) => bar.set_message(slowest),
            None => {
                let (phase, total, unit) = (self.phase, self.total, self.unit.as_str());
                match slowest.is_empty() {
                    true => tracing::info!("{phase} {done}/{total} {unit}"),
                    false => tracing::info!("{phase} {done}/{total} {unit}, {slowest}"),
                }
            }
        }
    }
}

/// `slowest: a.example (3.1 s), b.example (2.0 s)` (with `label` "slowest"): what has been
/// running longest, or nothing.
fn slowest(label: &str, running: &HashMap<u64, (String, Instant)>, now: Instant) -> String {
    let mut by_age: Vec<&(String, Instant)> = running.values().collect();
    by_age.sort_by_key(|(name, started)| (*started, name.as_str()));
    let named: Vec<String> = by_age
        .iter()
        .take(SLOWEST)
        .map(|(name, started)| {
            let secs = now.saturating_duration_since(*started).as_secs_f64();
            format!("{name} ({secs:.1} s)")
        })
        .collect();
    if named.is_empty() {
        return String::new();
    }
    let more = if running.len() > SLOWEST { ", …" } else { "" };
    format!("{label}: {}{more}", named.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_running_sites_are_named_first() {
        let now = Instant::now();
        let mut running = HashMap::new();
        assert_eq!(slowest("slowest", &running, now), "");
        for (i, (name, secs)) in [("b.test", 1), ("a.test", 3), ("c.test", 2), ("d.test", 0)]
            .into_iter()
            .enumerate()
        {
            let started = now - Duration::from_secs(secs);
            running.insert(i as u64, (name.to_owned(), started));
        }
        assert_eq!(
            slowest("slowest", &running, now),
            "slowest: a.test (3.0 s), c.test (2.0 s), b.test (1.0 s), …"
        );
    }

    #[test]
    fn done_counts_when_a_site_ends() {
        let shared = Shared {
            phase: "observe",
            unit: Unit::Sites,
            total: 2,
            state: Mutex::default(),
            bar: None,
        };
        let phase = Phase {
            shared: Some(Arc::new(shared)),
            ticker: None,
        };
        let a = phase.begin("a.test");
        let b = phase.begin("b.test");
        drop(a);
        let shared = phase.shared.as_deref().expect("shown");
        assert_eq!(shared.lock().done, 1);
        assert_eq!(shared.lock().running.len(), 1);
        drop(b);
        assert_eq!(shared.lock().done, 2);
    }
}
