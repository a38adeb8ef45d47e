//! Backoff after ACME errors, so that a broken CA, DNS or webroot is not hammered on every
//! scheduled run (and a CA's rate limits are not spent on it). A failed issuance records a
//! `retry_after` on its actions in the run record; later runs read the site's recent records
//! from the audit branch, and until that time the site's certificate changes are held (step
//! `skip`, with the reason) unless `--force` is given.
//!
//! The delay doubles with every consecutive failure — 30 min, 1 h, 2 h, … — capped at 24 h;
//! a `Retry-After` the CA sent, when later, wins. A successful issuance ends the series.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::audit::{ActionRecord, ActionResult, History, HistoryFilter};
use crate::plan::{Resource, SitePlan};
use crate::spec::Site;

/// Delay after the first failure.
const BASE: Duration = Duration::minutes(30);
/// Longest delay.
const CAP: Duration = Duration::hours(24);
/// How many of a site's most recent runs are read to find its series of failures.
pub const HISTORY: usize = 64;

/// A site's series of failed ACME issuances, as its run records show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive failed issuances.
    pub failures: u32,
    /// No new attempt before this time (without `--force`).
    pub until: DateTime<Utc>,
}

impl Backoff {
    /// Whether the backoff still holds at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        now < self.until
    }

    /// The reason a held certificate change shows.
    pub fn reason(&self) -> String {
        format!(
            "acme: held after {} failed issuance(s) until {} (exponential backoff); \
             `--force` retries now",
            self.failures,
            self.until
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

/// When to try again after the `failures`-th consecutive failure at `now`; `server` is a
/// `Retry-After` the CA sent.
pub fn next_retry(
    failures: u32,
    server: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let doublings = failures.saturating_sub(1).min(16);
    let delay = BASE.checked_mul(1 << doublings).map_or(CAP, |d| d.min(CAP));
    let ours = now + delay;
    server.map_or(ours, |s| s.max(ours))
}

/// The series of failures in a site's run records, `actions` newest run first: every run whose
/// certificate actions failed with a `retry_after` counts, runs that held or did not touch the
/// certificate are passed over, and the first run that applied it (or failed after the CA had
/// issued) ends the search. `None` when the newest touching run did not fail that way.
pub fn from_history<'a>(actions: impl IntoIterator<Item = &'a [ActionRecord]>) -> Option<Backoff> {
    let mut found: Option<Backoff> = None;
    for run in actions {
        let certificate: Vec<&ActionRecord> = run
            .iter()
            .filter(|a| a.resource == Resource::Certificate)
            .collect();
        let retry = certificate
            .iter()
            .filter(|a| a.result == ActionResult::Failed)
            .find_map(|a| a.retry_after.as_deref());
        match retry {
            Some(at) => {
                let Ok(at) = DateTime::parse_from_rfc3339(at) else {
                    break;
                };
                let b = found.get_or_insert(Backoff {
                    failures: 0,
                    until: at.to_utc(),
                });
                b.failures += 1;
            }
            None if certificate
                .iter()
                .any(|a| matches!(a.result, ActionResult::Applied | ActionResult::Failed)) =>
            {
                break;
            }
            None => {}
        }
    }
    found
}

/// The backoff of every site in `sites` with `manage.certificate`, from its recent records on
/// the audit branch `branch` of `git`. A history that cannot be read holds nothing (with a
/// warning): a backoff only spares the CA, it never guards against harm.
pub fn read(git: &crate::git::Repo, branch: &str, sites: &[&Site]) -> BTreeMap<String, Backoff> {
    let names: Vec<String> = sites
        .iter()
        .filter(|s| s.manage.certificate.is_some())
        .map(|s| s.name.to_string())
        .collect();
    if names.is_empty() {
        return BTreeMap::new();
    }
    let mut runs: BTreeMap<String, Vec<Vec<ActionRecord>>> = BTreeMap::new();
    let filter = HistoryFilter {
        limit: Some(HISTORY.saturating_mul(names.len())),
        sites: names,
        ..HistoryFilter::default()
    };
    let visited = History::open(git, branch).and_then(|h| match h {
        Some(h) => h.visit(&filter, |e| {
            runs.entry(e.site).or_default().push(e.actions);
            Ok::<(), crate::git::GitError>(())
        }),
        None => Ok(()),
    });
    if let Err(e) = visited {
        tracing::warn!(
            "cannot read ACME backoffs from the audit branch `{branch}`: {}; none is held",
            crate::error_text::chain(&e)
        );
    }
    runs.into_iter()
        .filter_map(|(site, runs)| Some((site, from_history(runs.iter().map(Vec::as_slice))?)))
        .collect()
}

/// Holds the certificate `apply` steps of every plan whose site backs off at `now` (step
/// `skip`, with the reason); nothing when `force`.
pub fn hold(
    plans: &mut [SitePlan],
    backoff: &BTreeMap<String, Backoff>,
    force: bool,
    now: DateTime<Utc>,
) {
    if force {
        return;
    }
    for plan in plans {
        if let Some(b) = backoff.get(&plan.site).filter(|b| b.active(now)) {
            crate::stage::hold(plan, Resource::Certificate, &b.reason());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn action(result: ActionResult, retry_after: Option<&str>) -> ActionRecord {
        ActionRecord {
            resource: Resource::Certificate,
            key: "expiry".into(),
            action: Action::Change,
            result,
            message: None,
            retry_after: retry_after.map(str::to_owned),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_delay_doubles_up_to_a_day_and_a_later_retry_after_wins() {
        let now = at("2026-11-30T12:00:00Z");
        assert_eq!(next_retry(1, None, now), at("2026-11-30T12:30:00Z"));
        assert_eq!(next_retry(2, None, now), at("2026-11-30T13:00:00Z"));
        assert_eq!(next_retry(4, None, now), at("2026-11-30T16:00:00Z"));
        assert_eq!(next_retry(40, None, now), at("2026-12-01T12:00:00Z"));
        let server = at("2026-11-30T18:00:00Z");
        assert_eq!(next_retry(1, Some(server), now), server);
        assert_eq!(
            next_retry(1, Some(at("2026-11-30T12:01:00Z")), now),
            at("2026-11-30T12:30:00Z")
        );
    }

    #[test]
    fn failures_count_back_to_the_last_success_and_held_runs_are_passed_over() {
        let failed = |t| vec![action(ActionResult::Failed, Some(t))];
        let held = vec![action(ActionResult::Skipped, None)];
        let applied = vec![action(ActionResult::Applied, None)];
        let runs = [
            failed("2026-11-30T14:00:00Z"),
            held.clone(),
            failed("2026-11-30T13:00:00Z"),
            Vec::new(),
            applied,
            failed("2026-11-01T00:00:00Z"),
        ];
        let b = from_history(runs.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(b.failures, 2);
        assert_eq!(b.until, at("2026-11-30T14:00:00Z"));
        assert!(b.active(at("2026-11-30T13:59:59Z")));
        assert!(!b.active(at("2026-11-30T14:00:00Z")));
        assert!(b.reason().contains("until 2026-11-30T14:00:00Z"));
        // A deploy failure (the CA had issued) ends the series.
        let deploy = vec![action(ActionResult::Failed, None)];
        assert_eq!(from_history([deploy.as_slice(), held.as_slice()]), None);
    }
}
