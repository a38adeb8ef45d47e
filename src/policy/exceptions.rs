//! Policy exceptions for one site: which are in force on a given day and which have expired.
//!
//! Guarantees: an exception is in force through the whole of its `expires` day (UTC) and
//! expired from the next day on; "today" is passed in, so nothing here reads a clock. An
//! exception from any loaded policy counts, not only from the policies the site lists.

use chrono::NaiveDate;
use serde::Serialize;

use crate::spec::{Date, Exception, Policy};

/// One exception naming the site, and whether it has expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionStatus {
    pub rule: String,
    pub reason: String,
    pub expires: Date,
    pub expired: bool,
}

/// Whether `e` has expired on `today`: only after the end of its `expires` day.
pub fn expired(e: &Exception, today: NaiveDate) -> bool {
    today > e.expires.0
}

/// Every exception for `site` in `policies`, sorted by rule and expiry date.
pub fn for_site<'a>(
    policies: impl IntoIterator<Item = &'a Policy>,
    site: &str,
    today: NaiveDate,
) -> Vec<ExceptionStatus> {
    let mut out: Vec<ExceptionStatus> = policies
        .into_iter()
        .flat_map(|p| &p.exceptions)
        .filter(|e| e.site.as_str() == site)
        .map(|e| ExceptionStatus {
            rule: e.rule.clone(),
            reason: e.reason.split_whitespace().collect::<Vec<_>>().join(" "),
            expires: e.expires,
            expired: expired(e, today),
        })
        .collect();
    out.sort_by(|a, b| (&a.rule, a.expires).cmp(&(&b.rule, b.expires)));
    out.dedup();
    out
}

/// Whether an exception in force covers findings of `rule`.
pub fn covers(exceptions: &[ExceptionStatus], rule: &str) -> bool {
    exceptions.iter().any(|e| !e.expired && e.rule == rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(exceptions: &[(&str, &str, &str)]) -> Policy {
        Policy {
            name: "baseline".parse().expect("name"),
            description: None,
            rules: Vec::new(),
            exceptions: exceptions
                .iter()
                .map(|(rule, site, expires)| Exception {
                    rule: (*rule).into(),
                    site: (*site).parse().expect("site"),
                    reason: "partner frame,\n  OPS-1432".into(),
                    expires: expires.parse().expect("date"),
                })
                .collect(),
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn an_exception_holds_through_its_expiry_day() {
        let p = policy(&[("x-frame-options", "a.test", "2026-03-31")]);
        let on = for_site([&p], "a.test", day("2026-03-31"));
        assert!(!on[0].expired);
        assert!(covers(&on, "x-frame-options"));
        let after = for_site([&p], "a.test", day("2026-04-01"));
        assert!(after[0].expired);
        assert!(!covers(&after, "x-frame-options"));
    }

    #[test]
    fn only_the_sites_own_exceptions_from_every_policy() {
        let a = policy(&[
            ("hsts", "a.test", "2030-01-01"),
            ("csp", "b.test", "2030-01-01"),
        ]);
        let b = policy(&[("csp", "a.test", "2020-01-01")]);
        let found = for_site([&a, &b], "a.test", day("2026-01-01"));
        let rules: Vec<(&str, bool)> = found.iter().map(|e| (e.rule.as_str(), e.expired)).collect();
        assert_eq!(rules, [("csp", true), ("hsts", false)]);
        assert_eq!(found[0].reason, "partner frame, OPS-1432");
        assert!(!covers(&found, "csp"));
        assert!(!covers(&found, "x-frame-options"));
    }
}
