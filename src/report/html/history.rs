//! One site's history for the report, folded from the audit branch's entries as they stream by
//! (newest run first, [`crate::audit::History::visit`]): drift periods, the changes acted on
//! (with run and commit) and the latest runs. Bounded: a site keeps at most [`MAX_ACTIONS`]
//! actions and [`MAX_RUNS`] run lines, however long the history is.

use crate::audit::{ActionResult, Entry};
use crate::plan::{Action, Health, Resource, SyncStatus};

/// Actions kept per site (newest first).
pub const MAX_ACTIONS: usize = 200;
/// Run lines kept per site (newest first).
pub const MAX_RUNS: usize = 30;

/// A stretch of consecutive runs that found the site drifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftPeriod {
    /// The first run that saw the drift (RFC 3339).
    pub from: String,
    /// The first run after it that found the site in sync; `None`: still drifted.
    pub resolved: Option<String>,
    /// Runs that saw it.
    pub runs: usize,
}

/// One action a run took (or deliberately did not take) on a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLine {
    pub time: String,
    pub run: String,
    pub commit: String,
    pub resource: Resource,
    pub key: String,
    pub action: Action,
    pub result: ActionResult,
    pub message: Option<String>,
}

/// One run as it saw the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLine {
    pub time: String,
    pub run: String,
    pub commit: String,
    pub command: &'static str,
    pub sync: SyncStatus,
    pub health: Health,
    pub changes: usize,
    pub error: Option<String>,
}

/// What the audit branch says about one site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteHistory {
    /// Runs that covered the site.
    pub runs: usize,
    /// Drift periods, newest first.
    pub drift: Vec<DriftPeriod>,
    /// Actions, newest first (at most [`MAX_ACTIONS`]).
    pub actions: Vec<ActionLine>,
    /// When a change was last applied.
    pub last_change: Option<String>,
    /// The latest runs, newest first (at most [`MAX_RUNS`]).
    pub recent: Vec<RunLine>,
    /// Whether the newest entries so far are a drift stretch still being extended.
    in_stretch: bool,
    /// The time of the in-sync run seen just before (newer than) the current position.
    resolved_at: Option<String>,
}

impl SiteHistory {
    /// The time of the latest run that covered the site.
    pub fn last_run(&self) -> Option<&str> {
        self.recent.first().map(|r| r.time.as_str())
    }

    /// Adds the next entry, which must be older than every entry added before.
    pub fn push(&mut self, e: Entry) {
        self.runs += 1;
        // A run saw drift when it ended drifted, or when it acted on a change: a run that
        // applied everything ends in sync, and its record says so.
        let saw_drift = e.sync == SyncStatus::Drift || !e.actions.is_empty();
        match (saw_drift, e.sync) {
            // Fixed by this very run: a period of its own, which older drift extends.
            (true, SyncStatus::InSync) => {
                self.drift.push(DriftPeriod {
                    from: e.time.clone(),
                    resolved: Some(e.time.clone()),
                    runs: 1,
                });
                self.in_stretch = true;
                self.resolved_at = Some(e.time.clone());
            }
            (true, _) if self.in_stretch => {
                if let Some(p) = self.drift.last_mut() {
                    p.from.clone_from(&e.time);
                    p.runs += 1;
                }
            }
            (true, _) => {
                self.drift.push(DriftPeriod {
                    from: e.time.clone(),
                    resolved: self.resolved_at.clone(),
                    runs: 1,
                });
                self.in_stretch = true;
            }
            (false, SyncStatus::InSync) => {
                self.in_stretch = false;
                self.resolved_at = Some(e.time.clone());
            }
            // Not observed: says nothing about drift either way.
            (false, _) => {}
        }
        if self.last_change.is_none() && e.actions.iter().any(|a| a.result == ActionResult::Applied)
        {
            self.last_change = Some(e.time.clone());
        }
        for a in &e.actions {
            if self.actions.len() >= MAX_ACTIONS {
                break;
            }
            self.actions.push(ActionLine {
                time: e.time.clone(),
                run: e.run.clone(),
                commit: e.commit.clone(),
                resource: a.resource,
                key: a.key.clone(),
                action: a.action,
                result: a.result,
                message: a.message.clone(),
            });
        }
        if self.recent.len() < MAX_RUNS {
            self.recent.push(RunLine {
                time: e.time,
                run: e.run,
                commit: e.commit,
                command: e.command.as_str(),
                sync: e.sync,
                health: e.health,
                changes: e.changes.len(),
                error: e.error,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ActionRecord, RunCommand};

    fn entry(time: &str, sync: SyncStatus, applied: bool) -> Entry {
        Entry {
            run: format!("run-{time}"),
            commit: "c".repeat(40),
            time: time.into(),
            command: RunCommand::Reconcile,
            site: "a.example".into(),
            sync,
            health: Health::Healthy,
            changes: vec![],
            actions: if applied {
                vec![ActionRecord {
                    resource: Resource::Header,
                    key: "x-frame-options".into(),
                    action: Action::Change,
                    result: ActionResult::Applied,
                    message: None,
                    retry_after: None,
                }]
            } else {
                vec![]
            },
            error: None,
            certificate_days_left: None,
            grade: None,
        }
    }

    #[test]
    fn drift_periods_are_folded_newest_first() {
        use SyncStatus::*;
        let mut h = SiteHistory::default();
        // Newest first: drift (ongoing) at 6,5; fixed by the run at 4; unknown at 3; drift at
        // 2,1 (the same period as 4's).
        for (t, s, applied) in [
            ("t6", Drift, false),
            ("t5", Drift, false),
            ("t4", InSync, true),
            ("t3", Unknown, false),
            ("t2", Drift, false),
            ("t1", Drift, false),
            ("t0", InSync, false),
        ] {
            h.push(entry(t, s, applied));
        }
        assert_eq!(
            h.drift,
            vec![
                DriftPeriod {
                    from: "t5".into(),
                    resolved: None,
                    runs: 2
                },
                DriftPeriod {
                    from: "t1".into(),
                    resolved: Some("t4".into()),
                    runs: 3
                },
            ]
        );
        assert_eq!(h.runs, 7);
        assert_eq!(h.last_run(), Some("t6"));
        assert_eq!(h.last_change.as_deref(), Some("t4"));
        assert_eq!(h.actions.len(), 1);
        assert_eq!(h.actions[0].run, "run-t4");
    }

    #[test]
    fn a_run_that_fixes_the_drift_it_found_is_a_drift_period() {
        use SyncStatus::*;
        let mut h = SiteHistory::default();
        // Newest first: in sync at 3; fixed by the run at 2 (applied, ends in sync), which
        // a drifted run at 1 saw first; in sync at 0.
        for (t, s, applied) in [
            ("t3", InSync, false),
            ("t2", InSync, true),
            ("t1", Drift, false),
            ("t0", InSync, false),
        ] {
            h.push(entry(t, s, applied));
        }
        assert_eq!(
            h.drift,
            vec![DriftPeriod {
                from: "t1".into(),
                resolved: Some("t2".into()),
                runs: 2
            }]
        );
    }

    #[test]
    fn bounded() {
        let mut h = SiteHistory::default();
        for i in (0..(MAX_ACTIONS + 10)).rev() {
            h.push(entry(&format!("{i:05}"), SyncStatus::InSync, true));
        }
        assert_eq!(h.actions.len(), MAX_ACTIONS);
        assert_eq!(h.recent.len(), MAX_RUNS);
        assert_eq!(h.runs, MAX_ACTIONS + 10);
    }
}
