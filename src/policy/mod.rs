//! Compliance: policy rules and the built-in grader evaluated on observed sites, exceptions
//! applied, scores and grades given. Pure: the observations and "today" come in, a
//! [`CheckReport`] (SPEC's check JSON) goes out.
//!
//! Guarantees: a site that could not be observed gets an `error`, no grade and no findings;
//! an excepted finding stays in the report marked `excepted`; an expired exception is listed
//! with `expired: true` and reported as a `low` finding `expired-exception`.
//!
//! Grade and score are the MDN HTTP Observatory's ([`observatory`]); every failing Observatory
//! test is a finding named after the test, beside siteward's own tests ([`grader`]) and the
//! policy rules. A policy rule that fails on the same header as a failing test is said once:
//! the rule's finding names the test too (`also`).
//!
//! Exit rule: 1 when any site could not be observed; otherwise 2 when any finding that is not
//! excepted is at or above `--fail-on` (default `high`); otherwise 0.

pub mod conditions;
pub mod exceptions;
pub mod grade;
pub mod grader;
pub mod headers;
pub mod observatory;
pub mod strength;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

pub use exceptions::ExceptionStatus;
pub use grade::Grade;

use crate::exit::Exit;
use crate::observe::live::LiveSite;
use crate::spec::{DesiredState, Policy, Severity, Site};

/// Rule id of the finding that reports an expired exception.
pub const EXPIRED_EXCEPTION: &str = "expired-exception";
/// Findings at or above this severity (and not excepted) make a run exit 2, unless
/// `--fail-on` says otherwise.
pub const FAIL_AT: Severity = Severity::High;

/// What a failing rule or test saw, and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub advice: String,
}

impl Failure {
    /// A failure with its message and advice.
    pub fn new(message: impl Into<String>, advice: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            advice: advice.into(),
        }
    }
}

/// One failing policy rule or built-in test on one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A policy rule id, a built-in test id, or [`EXPIRED_EXCEPTION`].
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub advice: String,
    /// An exception in force covers it: it does not count against the exit code.
    pub excepted: bool,
    /// The built-in test that found the same problem, when a policy rule restates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub also: Option<String>,
}

impl Finding {
    /// Whether this finding makes the run exit 2 at threshold `fail_on`.
    pub fn fails(&self, fail_on: Severity) -> bool {
        !self.excepted && self.severity >= fail_on
    }
}

/// The check result of one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteCheck {
    pub site: String,
    pub grade: Option<Grade>,
    pub score: Option<u16>,
    pub tls_grade: Option<Grade>,
    /// The Observatory's tests by name (empty when the site was not observed).
    pub tests: BTreeMap<&'static str, observatory::TestResult>,
    /// Most severe first.
    pub findings: Vec<Finding>,
    pub exceptions: Vec<ExceptionStatus>,
    pub error: Option<String>,
}

/// Counts over all sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub sites: usize,
    /// Every grade (and `unknown` for sites not observed) → number of sites.
    pub by_grade: BTreeMap<&'static str, usize>,
    /// Every severity → number of findings not excepted.
    pub findings_by_severity: BTreeMap<&'static str, usize>,
}

/// SPEC's check JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub version: u32,
    pub sites: Vec<SiteCheck>,
    pub summary: Summary,
}

impl CheckReport {
    /// The report over `sites`, with its summary.
    pub fn new(sites: Vec<SiteCheck>) -> CheckReport {
        let mut by_grade: BTreeMap<&'static str, usize> =
            Grade::ALL.iter().map(|g| (g.as_str(), 0)).collect();
        by_grade.insert("unknown", 0);
        let mut findings_by_severity: BTreeMap<&'static str, usize> =
            Severity::ALL.iter().map(|s| (*s, 0)).collect();
        for site in &sites {
            *by_grade
                .entry(site.grade.map_or("unknown", Grade::as_str))
                .or_default() += 1;
            for f in site.findings.iter().filter(|f| !f.excepted) {
                *findings_by_severity.entry(f.severity.as_str()).or_default() += 1;
            }
        }
        CheckReport {
            version: 1,
            summary: Summary {
                sites: sites.len(),
                by_grade,
                findings_by_severity,
            },
            sites,
        }
    }

    /// 1 when a site could not be observed, else 2 when a finding at or above `fail_on` is
    /// active, else 0.
    pub fn exit(&self, fail_on: Severity) -> Exit {
        if self.sites.iter().any(|s| s.error.is_some()) {
            Exit::Error
        } else if self
            .sites
            .iter()
            .flat_map(|s| &s.findings)
            .any(|f| f.fails(fail_on))
        {
            Exit::Drift
        } else {
            Exit::Ok
        }
    }
}

/// The policies `site` lists, in its order (unknown names were rejected by the loader).
pub fn site_policies<'a>(state: &'a DesiredState, site: &Site) -> Vec<&'a Policy> {
    site.policies
        .iter()
        .filter_map(|n| state.policies.get(n))
        .collect()
}

/// Plugin slugs the site's policies deny, so observation can look for them.
pub fn denied_plugins(state: &DesiredState, site: &Site) -> Vec<String> {
    let mut out: Vec<String> = site_policies(state, site)
        .iter()
        .flat_map(|p| &p.rules)
        .filter_map(|r| match &r.condition {
            crate::spec::Condition::PluginDeny(slugs) => Some(slugs),
            _ => None,
        })
        .flatten()
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Checks one site: its policies' rules (in the order it lists them), then the web grade's
/// tests (graded as `grading` says) and siteward's own tests; exceptions from every loaded
/// policy applied as of `today` (UTC).
pub fn check_site(
    state: &DesiredState,
    site: &Site,
    live: &LiveSite,
    today: NaiveDate,
    grading: observatory::Grading,
) -> SiteCheck {
    let name = site.name.to_string();
    let exceptions = exceptions::for_site(state.policies.values(), &name, today);
    if let Some(error) = &live.error {
        return SiteCheck {
            site: name,
            grade: None,
            score: None,
            tls_grade: None,
            tests: BTreeMap::new(),
            findings: Vec::new(),
            exceptions,
            error: Some(error.clone()),
        };
    }
    let mut findings = Vec::new();
    for rule in site_policies(state, site).iter().flat_map(|p| &p.rules) {
        if let Some(f) = conditions::evaluate(&rule.condition, site, live) {
            findings.push(Finding {
                rule: rule.id.clone(),
                severity: rule.severity,
                message: f.message,
                advice: rule.advice.clone().unwrap_or(f.advice),
                excepted: false,
                also: restates(&rule.condition).map(str::to_owned),
            });
        }
    }
    // Without the web grade's observation (`plan` does not fetch it) its tests say nothing.
    let web = live.graded.as_ref().map(|v| observatory::grade(v, grading));
    let web_tests = web.iter().flat_map(|w| w.tests.iter());
    // Without the page (HTTPS refused), only the tests that judge the connection itself say
    // something; `tls-certificate` tells why the headers were not seen.
    let page_seen = live.page.is_some();
    let judged =
        |test: &str| page_seen || matches!(test, "redirection" | "strict-transport-security");
    for (test, r) in web_tests.filter(|(t, r)| !r.pass && judged(t)) {
        // A policy rule that already reported this test's problem carries its id instead.
        if findings.iter().any(|f| f.also.as_deref() == Some(*test)) {
            continue;
        }
        findings.push(Finding {
            rule: (*test).to_owned(),
            severity: observatory::advice::severity(test, r.result),
            message: observatory::advice::message(test, r.result, r.score_modifier),
            advice: observatory::advice::advice(test, r.result),
            excepted: false,
            also: None,
        });
    }
    // A restating rule whose test passed keeps only its own id.
    for f in &mut findings {
        if f.also.as_deref().is_some_and(|t| {
            web.as_ref()
                .and_then(|w| w.tests.get(t))
                .is_none_or(|r| r.pass)
        }) {
            f.also = None;
        }
    }
    for (test, outcome) in grader::grade(site, live) {
        if let grader::Outcome::Fail(f) = outcome {
            findings.push(Finding {
                rule: test.id.to_owned(),
                severity: test.severity,
                message: f.message,
                advice: f.advice,
                excepted: false,
                also: None,
            });
        }
    }
    for f in &mut findings {
        f.excepted = exceptions::covers(&exceptions, &f.rule)
            || f.also
                .as_deref()
                .is_some_and(|t| exceptions::covers(&exceptions, t));
    }
    findings.extend(exceptions.iter().filter(|e| e.expired).map(|e| Finding {
        rule: EXPIRED_EXCEPTION.to_owned(),
        severity: Severity::Low,
        message: format!(
            "the exception for `{}` expired on {} ({}); the rule counts again",
            e.rule, e.expires, e.reason
        ),
        advice: format!(
            "fix what `{}` reports, or renew the exception with a later `expires` date and a \
             current reason",
            e.rule
        ),
        excepted: false,
        also: None,
    }));
    // Most severe first; the order within a severity is rule order, then test order.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    SiteCheck {
        site: name,
        grade: web.as_ref().map(|w| w.grade),
        score: web.as_ref().map(|w| w.score),
        tls_grade: Some(grade::tls_grade(live.tls.as_ref())),
        tests: web.map(|w| w.tests).unwrap_or_default(),
        findings,
        exceptions,
        error: None,
    }
}

/// The Observatory test a policy condition restates, if any: its failure is the same problem.
fn restates(condition: &crate::spec::Condition) -> Option<&'static str> {
    use crate::spec::Condition;
    let header = |name: &str| match name.to_ascii_lowercase().as_str() {
        "strict-transport-security" => Some("strict-transport-security"),
        "content-security-policy" => Some("content-security-policy"),
        "x-frame-options" => Some("x-frame-options"),
        "x-content-type-options" => Some("x-content-type-options"),
        "referrer-policy" => Some("referrer-policy"),
        "cross-origin-resource-policy" => Some("cross-origin-resource-policy"),
        _ => None,
    };
    match condition {
        Condition::HstsMinMaxAge(_) => Some("strict-transport-security"),
        Condition::CspRequires(_) => Some("content-security-policy"),
        Condition::HeaderPresent(n) | Condition::HeaderValue { name: n, .. } => header(n.as_str()),
        _ => None,
    }
}
