//! Pure transition detection: a site's state in this run ([`Facts`]) against its baseline (the
//! same facts from its earlier records, [`super::baseline`]) → the [`Event`]s to tell.
//!
//! # Guarantees
//! - Equal states give no event: a run that finds what the run before found is silent.
//! - `unknown` is never a state: a site that could not be observed has no sync state, so drift
//!   that was there before and is gone after an unobserved run still ends in `drift_resolved`
//!   (the baseline keeps the newest *known* value).
//! - Without a baseline (the site's first record, or records older than these fields) no state
//!   transition is invented: only what happened in this run is told (`apply_failed`,
//!   `proposal_opened`), plus a certificate already at or under a target's `days` (once: the
//!   next run's baseline is under the threshold too).

use serde::Serialize;

use super::Target;
use crate::audit::{ActionResult, Entry, SiteRecord};
use crate::plan::{Health, SyncStatus};
use crate::policy::Grade;
use crate::spec::values::NotifyEvent;

/// One site's state, as a run record tells it; `None` is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// `in_sync` or `drift`.
    pub sync: Option<SyncStatus>,
    /// Any health but `unknown`.
    pub health: Option<Health>,
    /// Whole days the served certificate has left.
    pub days_left: Option<i64>,
    /// The web grade (`A+` … `F`), when the run graded the site.
    pub grade: Option<String>,
    /// The message of the first failed action, when an action failed.
    pub failed: Option<String>,
    /// Changes proposed (a proposal written) in the run.
    pub proposed: usize,
    /// Changes between desired and live state.
    pub changes: usize,
    /// Why the site could not be observed.
    pub error: Option<String>,
}

impl Facts {
    /// The facts of one site in this run's record.
    pub fn of_record(s: &SiteRecord) -> Facts {
        Facts::new(s.sync, s.health, &s.actions, s.changes.len(), &s.error)
            .with(s.certificate_days_left, s.grade.clone())
    }

    /// The facts of one site in an earlier record.
    pub fn of_entry(e: &Entry) -> Facts {
        Facts::new(e.sync, e.health, &e.actions, e.changes.len(), &e.error)
            .with(e.certificate_days_left, e.grade.clone())
    }

    fn new(
        sync: SyncStatus,
        health: Health,
        actions: &[crate::audit::ActionRecord],
        changes: usize,
        error: &Option<String>,
    ) -> Facts {
        let failed = actions
            .iter()
            .find(|a| a.result == ActionResult::Failed)
            .map(|a| {
                let what = format!("{} `{}`", a.resource.as_str(), a.key);
                match &a.message {
                    Some(m) => format!("{what}: {m}"),
                    None => what,
                }
            });
        Facts {
            sync: (sync != SyncStatus::Unknown).then_some(sync),
            health: (health != Health::Unknown).then_some(health),
            days_left: None,
            grade: None,
            failed,
            proposed: actions
                .iter()
                .filter(|a| a.result == ActionResult::Proposed)
                .count(),
            changes,
            error: error.clone(),
        }
    }

    fn with(mut self, days_left: Option<i64>, grade: Option<String>) -> Facts {
        self.days_left = days_left;
        self.grade = grade;
        self
    }

    /// Fills what is unknown here from an older record's facts (newest known value wins).
    /// Only states are carried: what happened in a run (`failed`, `proposed`) is not.
    pub fn fill_from(&mut self, older: &Facts) {
        self.sync = self.sync.or(older.sync);
        self.health = self.health.or(older.health);
        self.days_left = self.days_left.or(older.days_left);
        if self.grade.is_none() {
            self.grade.clone_from(&older.grade);
        }
    }

    /// Whether sync and health are known: older records can add nothing that matters more.
    pub fn settled(&self) -> bool {
        self.sync.is_some() && self.health.is_some()
    }
}

/// One transition of one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub site: String,
    pub event: NotifyEvent,
    /// The state before (`None` when there was none to tell).
    pub from: Option<String>,
    /// The state now.
    pub to: Option<String>,
    /// One line for people.
    pub details: String,
    /// `certificate_expiring`: days left before and now, for each target's threshold.
    #[serde(skip)]
    days: Option<(Option<i64>, i64)>,
}

impl Event {
    fn new(
        site: &str,
        event: NotifyEvent,
        from: Option<&str>,
        to: Option<&str>,
        details: String,
    ) -> Event {
        Event {
            site: site.to_owned(),
            event,
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            details,
            days: None,
        }
    }

    /// Whether `target` is told about this event: it asked for the event, and a certificate
    /// crossed its `days` threshold in this run (or is under it with nothing known before).
    pub fn wanted_by(&self, target: &Target) -> bool {
        let threshold = i64::from(target.days);
        target.events.contains(&self.event)
            && self.days.is_none_or(|(from, to)| {
                to <= threshold && from.is_none_or(|from| from > threshold)
            })
    }
}

/// The events of `site` from its `base`line (`None`: no earlier record) to `now`.
/// `certificate_expiring` is a candidate whenever the days left went down; each target keeps
/// only the ones crossing its threshold ([`Event::wanted_by`]).
pub fn detect(site: &str, base: Option<&Facts>, now: &Facts) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(failed) = &now.failed
        && base.is_none_or(|b| b.failed.is_none())
    {
        out.push(Event::new(
            site,
            NotifyEvent::ApplyFailed,
            None,
            Some("failed"),
            failed.clone(),
        ));
    }
    if now.proposed > 0 {
        out.push(Event::new(
            site,
            NotifyEvent::ProposalOpened,
            None,
            Some("proposed"),
            format!("{} change(s) proposed", now.proposed),
        ));
    }
    if let Some(b) = base {
        let sync = (b.sync.map(sync_str), now.sync.map(sync_str));
        match (b.sync, now.sync) {
            (Some(SyncStatus::InSync), Some(SyncStatus::Drift)) => out.push(Event::new(
                site,
                NotifyEvent::DriftStarted,
                sync.0,
                sync.1,
                format!("{} change(s) between desired and live state", now.changes),
            )),
            (Some(SyncStatus::Drift), Some(SyncStatus::InSync)) => out.push(Event::new(
                site,
                NotifyEvent::DriftResolved,
                sync.0,
                sync.1,
                "live state matches the desired state again".into(),
            )),
            _ => {}
        }
        let health = (b.health.map(health_str), now.health.map(health_str));
        match (b.health.map(up), now.health.map(up)) {
            (Some(true), Some(false)) => out.push(Event::new(
                site,
                NotifyEvent::SiteDown,
                health.0,
                health.1,
                now.error
                    .clone()
                    .unwrap_or_else(|| "the site does not answer or fails every check".into()),
            )),
            (Some(false), Some(true)) => out.push(Event::new(
                site,
                NotifyEvent::SiteUp,
                health.0,
                health.1,
                "the site answers again".into(),
            )),
            _ => {}
        }
        if let (Some(before), Some(grade)) = (&b.grade, &now.grade)
            && rank(grade) > rank(before)
        {
            out.push(Event::new(
                site,
                NotifyEvent::GradeDropped,
                Some(before),
                Some(grade),
                format!("web grade dropped from {before} to {grade}"),
            ));
        }
    }
    if let Some(to) = now.days_left {
        let from = base.and_then(|b| b.days_left);
        if from.is_none_or(|from| to < from) {
            let mut e = Event::new(
                site,
                NotifyEvent::CertificateExpiring,
                None,
                None,
                format!("the certificate expires in {to} day(s)"),
            );
            e.from = from.map(|d| d.to_string());
            e.to = Some(to.to_string());
            e.days = Some((from, to));
            out.push(e);
        }
    }
    out
}

/// `healthy` and `degraded` answer; `down` does not.
fn up(h: Health) -> bool {
    h != Health::Down
}

/// A grade's place, best first; an unknown text ranks last (never a drop from it).
fn rank(grade: &str) -> usize {
    Grade::ALL
        .iter()
        .position(|g| g.as_str() == grade)
        .unwrap_or(usize::MAX)
}

fn sync_str(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::InSync => "in_sync",
        SyncStatus::Drift => "drift",
        SyncStatus::Unknown => "unknown",
    }
}

fn health_str(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
        Health::Down => "down",
        Health::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Endpoint;

    fn facts(sync: SyncStatus, health: Health) -> Facts {
        Facts {
            sync: (sync != SyncStatus::Unknown).then_some(sync),
            health: (health != Health::Unknown).then_some(health),
            ..Facts::default()
        }
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(|e| e.event.as_str()).collect()
    }

    fn target(events: &[NotifyEvent], days: u32) -> Target {
        Target {
            name: "t".into(),
            endpoint: Endpoint::Url("https://example.com/".into()),
            format: crate::spec::values::NotifyFormat::Json,
            events: events.iter().copied().collect(),
            days,
        }
    }

    #[test]
    fn the_same_state_twice_is_silent() {
        for (sync, health) in [
            (SyncStatus::InSync, Health::Healthy),
            (SyncStatus::Drift, Health::Degraded),
            (SyncStatus::Unknown, Health::Down),
        ] {
            let mut f = facts(sync, health);
            f.days_left = Some(30);
            f.grade = Some("B".into());
            f.failed = Some("header `x`: test failed".into());
            let mut now = f.clone();
            now.proposed = 0;
            assert_eq!(kinds(&detect("a", Some(&f), &now)), Vec::<&str>::new());
        }
    }

    #[test]
    fn drift_and_health_transitions() {
        let clean = facts(SyncStatus::InSync, Health::Healthy);
        let mut drift = facts(SyncStatus::Drift, Health::Healthy);
        drift.changes = 2;
        let e = detect("a", Some(&clean), &drift);
        assert_eq!(kinds(&e), ["drift_started"]);
        assert_eq!(
            (e[0].from.as_deref(), e[0].to.as_deref()),
            (Some("in_sync"), Some("drift"))
        );
        assert!(e[0].details.starts_with("2 change(s)"), "{}", e[0].details);
        assert_eq!(
            kinds(&detect("a", Some(&drift), &clean)),
            ["drift_resolved"]
        );
        let mut down = facts(SyncStatus::Unknown, Health::Down);
        down.error = Some("connection refused".into());
        let e = detect("a", Some(&clean), &down);
        assert_eq!(kinds(&e), ["site_down"]);
        assert_eq!(e[0].details, "connection refused");
        assert_eq!(kinds(&detect("a", Some(&down), &clean)), ["site_up"]);
        let degraded = facts(SyncStatus::InSync, Health::Degraded);
        assert!(
            detect("a", Some(&clean), &degraded).is_empty(),
            "degraded still answers"
        );
    }

    #[test]
    fn an_unobserved_run_carries_the_last_known_state() {
        // drift, then a run that could not observe (unknown), then in sync.
        let unknown = facts(SyncStatus::Unknown, Health::Unknown);
        let mut base = unknown.clone();
        base.fill_from(&facts(SyncStatus::Drift, Health::Healthy));
        assert!(base.settled());
        let now = facts(SyncStatus::InSync, Health::Healthy);
        assert_eq!(kinds(&detect("a", Some(&base), &now)), ["drift_resolved"]);
        assert!(
            detect("a", Some(&base), &unknown).is_empty(),
            "unknown is no transition"
        );
    }

    #[test]
    fn no_baseline_invents_no_state_transition() {
        let mut now = facts(SyncStatus::Drift, Health::Down);
        now.grade = Some("F".into());
        assert!(detect("a", None, &now).is_empty());
        now.failed = Some("header `x`".into());
        now.proposed = 1;
        assert_eq!(
            kinds(&detect("a", None, &now)),
            ["apply_failed", "proposal_opened"]
        );
    }

    #[test]
    fn apply_failed_once_per_series_of_failures() {
        let mut failing = facts(SyncStatus::Drift, Health::Healthy);
        failing.failed = Some("header `x`: nginx -t failed".into());
        let ok = facts(SyncStatus::Drift, Health::Healthy);
        let e = detect("a", Some(&ok), &failing);
        assert_eq!(kinds(&e), ["apply_failed"]);
        assert_eq!(e[0].details, "header `x`: nginx -t failed");
        assert!(detect("a", Some(&failing), &failing).is_empty());
    }

    #[test]
    fn grades_drop_but_do_not_rise_into_an_event() {
        let mut a = facts(SyncStatus::InSync, Health::Healthy);
        a.grade = Some("A".into());
        let mut b = a.clone();
        b.grade = Some("B+".into());
        let e = detect("a", Some(&a), &b);
        assert_eq!(kinds(&e), ["grade_dropped"]);
        assert_eq!(
            (e[0].from.as_deref(), e[0].to.as_deref()),
            (Some("A"), Some("B+"))
        );
        assert!(detect("a", Some(&b), &a).is_empty());
    }

    #[test]
    fn certificates_are_told_when_they_cross_each_targets_threshold() {
        let two_weeks = target(&[NotifyEvent::CertificateExpiring], 14);
        let month = target(&[NotifyEvent::CertificateExpiring], 30);
        let other = target(&[NotifyEvent::DriftStarted], 30);
        let at = |days: Option<i64>| Facts {
            days_left: days,
            ..facts(SyncStatus::InSync, Health::Healthy)
        };
        let told = |from: Option<i64>, to: i64, t: &Target| {
            detect("a", Some(&at(from)), &at(Some(to)))
                .iter()
                .any(|e| e.wanted_by(t))
        };
        assert!(told(Some(31), 30, &month));
        assert!(!told(Some(31), 30, &two_weeks));
        assert!(!told(Some(30), 29, &month), "already under: told before");
        assert!(told(Some(15), 14, &two_weeks));
        assert!(told(Some(20), 3, &two_weeks), "a jump across counts");
        assert!(!told(Some(3), 90, &two_weeks), "renewed");
        assert!(!told(Some(31), 30, &other), "not asked for");
        assert!(
            told(None, 10, &two_weeks),
            "under it with nothing known before"
        );
        assert!(!told(Some(10), 10, &two_weeks), "same day, same state");
        let first = detect("a", None, &at(Some(10)));
        assert!(first.iter().any(|e| e.wanted_by(&two_weeks)));
        assert_eq!(first[0].to.as_deref(), Some("10"));
    }
}
