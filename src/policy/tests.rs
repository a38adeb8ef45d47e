//! Unit tests of the whole check of one site: siteward's own tests, the web grade over a
//! graded view built from the same headers, rules and exceptions together, errors, the summary
//! and the exit rule. Fixtures are built in memory; "today" is
//! fixed.

use chrono::NaiveDate;

use super::grader::{self, Outcome, TESTS};
use super::*;
use crate::observe::live::{CertInfo, Hop, Page, RedirectObservation, TlsObservation};
use crate::spec::{Condition, Exception, Redirect, Rule, SyncMode};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")
}

fn site(name: &str) -> Site {
    Site {
        name: name.parse().expect("name"),
        url: format!("https://{name}/").parse().expect("url"),
        owner: None,
        labels: crate::spec::SortedMap::new(),
        description: None,
        policies: vec!["baseline".parse().expect("policy")],
        sync: SyncMode::Observe,
        connect: None,
        connect_http: None,
        ca: None,
        insecure_skip_verify: false,
        allow_http: false,
        headers: crate::spec::SortedMap::new(),
        redirects: Vec::new(),
        certificate: None,
        software: None,
        checks: Vec::new(),
        manage: crate::spec::Manage::default(),
        windows: Vec::new(),
    }
}

const GOOD_HEADERS: &[(&str, &str)] = &[
    (
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=()"),
    ("Server", "nginx"),
];

fn live(name: &str, headers: &[(&str, &str)]) -> LiveSite {
    let mut page = Page {
        status: 200,
        ..Page::default()
    };
    for (k, v) in headers {
        page.headers
            .entry(k.to_ascii_lowercase())
            .or_default()
            .push((*v).to_owned());
    }
    let https: url::Url = format!("https://{name}/").parse().expect("url");
    let visit = |url: &url::Url, status| crate::probe::observatory::Visit {
        url: url.clone(),
        status,
        set_cookie: Vec::new(),
    };
    let graded = crate::probe::observatory::View {
        host: name.into(),
        http: Some(crate::probe::observatory::Chain {
            visits: vec![
                visit(&format!("http://{name}/").parse().expect("url"), 301),
                visit(&https, 200),
            ],
            verified: true,
            last: Some(page.clone()),
            body: None,
        }),
        https: Some(crate::probe::observatory::Chain {
            visits: vec![visit(&https, 200)],
            verified: true,
            last: Some(page.clone()),
            body: None,
        }),
        cors: None,
    };
    LiveSite {
        site: name.into(),
        page: Some(page),
        graded: Some(Box::new(graded)),
        tls: Some(TlsObservation {
            leaf: CertInfo {
                key: "ecdsa-p256".into(),
                signature: "ecdsa-sha256".into(),
                sans: vec![name.into()],
                ..CertInfo::default()
            },
            trusted: true,
            host_match: true,
            days_left: 60,
            ..TlsObservation::default()
        }),
        ..LiveSite::default()
    }
}

fn rule(id: &str, severity: Severity, condition: Condition) -> Rule {
    Rule {
        id: id.into(),
        severity,
        description: None,
        advice: None,
        condition,
    }
}

fn state(rules: Vec<Rule>, exceptions: &[(&str, &str, &str)]) -> DesiredState {
    let policy = Policy {
        name: "baseline".parse().expect("name"),
        description: None,
        rules,
        exceptions: exceptions
            .iter()
            .map(|(rule, site, expires)| Exception {
                rule: (*rule).into(),
                site: (*site).parse().expect("site"),
                reason: "OPS-1".into(),
                expires: expires.parse().expect("date"),
            })
            .collect(),
    };
    let mut s = DesiredState::default();
    s.policies.insert(policy.name.clone(), policy);
    s
}

fn outcome(id: &str, site: &Site, live: &LiveSite) -> Outcome {
    grader::grade(site, live)
        .into_iter()
        .find(|(t, _)| t.id == id)
        .map(|(_, o)| o)
        .expect("test id")
}

fn failure(id: &str, site: &Site, live: &LiveSite) -> String {
    match outcome(id, site, live) {
        Outcome::Fail(f) => f.message,
        other => panic!("`{id}` did not fail: {other:?}"),
    }
}

#[test]
fn builtin_test_ids_are_the_ones_exceptions_may_name() {
    let ids: Vec<&str> = observatory::TESTS
        .iter()
        .copied()
        .chain(TESTS.iter().map(|t| t.id))
        .collect();
    assert_eq!(ids, crate::load::keys::BUILTIN_TESTS);
}

/// The web grade's result id of `test` on `live`.
fn web(test: &str, live: &LiveSite) -> &'static str {
    let view = live.graded.as_ref().expect("graded");
    observatory::grade(view, observatory::Grading::Observatory).tests[test].result
}

#[test]
fn a_well_configured_site_gets_a_plus_and_its_bonuses() {
    let s = site("a.test");
    let c = check_site(
        &state(vec![], &[]),
        &s,
        &live("a.test", GOOD_HEADERS),
        today(),
        observatory::Grading::Observatory,
    );
    assert!(c.findings.is_empty(), "{:?}", c.findings);
    // 100 + CSP 5 + referrer 5 + frame-ancestors 5.
    assert_eq!(c.score, Some(115));
    assert_eq!(c.grade, Some(Grade::APlus));
    assert_eq!(
        c.tests["x-frame-options"].result,
        "x-frame-options-implemented-via-csp"
    );
}

#[test]
fn a_bare_site_fails_the_header_tests() {
    let s = site("a.test");
    let bare = live("a.test", &[("Server", "nginx/1.22.1")]);
    let c = check_site(
        &state(vec![], &[]),
        &s,
        &bare,
        today(),
        observatory::Grading::Observatory,
    );
    // CSP -25, HSTS -20, X-Frame-Options -20, X-Content-Type-Options -5.
    assert_eq!(c.score, Some(30));
    assert_eq!(c.grade, Some(Grade::D));
    assert!(failure("server-banner", &s, &bare).contains("nginx/1.22.1"));
    assert_eq!(
        web("x-frame-options", &bare),
        "x-frame-options-not-implemented"
    );
}

#[test]
fn header_tests_read_values_as_the_observatory_does() {
    let s = site("a.test");
    let frame_via_csp = live(
        "a.test",
        &[("Content-Security-Policy", "frame-ancestors 'self'")],
    );
    assert_eq!(
        web("x-frame-options", &frame_via_csp),
        "x-frame-options-implemented-via-csp"
    );
    let allow = live(
        "a.test",
        &[("X-Frame-Options", "ALLOW-FROM https://x.test")],
    );
    assert_eq!(
        web("x-frame-options", &allow),
        "x-frame-options-allow-from-origin"
    );
    let twice = live(
        "a.test",
        &[("X-Frame-Options", "DENY"), ("X-Frame-Options", "DENY")],
    );
    assert_eq!(
        web("x-frame-options", &twice),
        "x-frame-options-header-invalid"
    );
    let short = live("a.test", &[("Strict-Transport-Security", "max-age=86400")]);
    assert_eq!(
        web("strict-transport-security", &short),
        "hsts-implemented-max-age-less-than-six-months"
    );
    let nan = live("a.test", &[("Strict-Transport-Security", "max-age=soon")]);
    assert_eq!(
        web("strict-transport-security", &nan),
        "hsts-implemented-max-age-at-least-six-months"
    );
    let inline = live(
        "a.test",
        &[(
            "Content-Security-Policy",
            "default-src 'self' 'unsafe-inline'",
        )],
    );
    assert_eq!(
        web("content-security-policy", &inline),
        "csp-implemented-with-unsafe-inline"
    );
    let leaky = live("a.test", &[("Referrer-Policy", "no-referrer, unsafe-url")]);
    assert_eq!(web("referrer-policy", &leaky), "referrer-policy-unsafe");
    let fine = live("a.test", &[("Referrer-Policy", "unsafe-url, no-referrer")]);
    assert_eq!(web("referrer-policy", &fine), "referrer-policy-private");
    let powered = live(
        "a.test",
        &[("Server", "cloudflare"), ("X-Powered-By", "PHP")],
    );
    assert!(failure("server-banner", &s, &powered).contains("X-Powered-By: PHP"));
    let nosniff = live("a.test", &[("X-Content-Type-Options", "NoSniff")]);
    assert_eq!(
        web("x-content-type-options", &nosniff),
        "x-content-type-options-nosniff"
    );
}

#[test]
fn tls_tests_name_each_certificate_problem() {
    let s = site("a.test");
    let mut l = live("a.test", GOOD_HEADERS);
    if let Some(t) = l.tls.as_mut() {
        t.trusted = false;
        t.leaf.self_signed = true;
        t.host_match = false;
        t.days_left = 3;
        t.leaf.key = "rsa-1024".into();
    }
    let m = failure("tls-certificate", &s, &l);
    assert!(m.contains("self-signed"), "{m}");
    assert!(m.contains("not valid for `a.test`"), "{m}");
    assert!(m.contains("expires in 3 day(s)"), "{m}");
    assert!(failure("tls-key", &s, &l).contains("rsa-1024"));
    l.tls = None;
    assert!(failure("tls-certificate", &s, &l).contains("no certificate"));
}

#[test]
fn https_redirect_applies_only_when_the_site_lists_one() {
    let mut s = site("a.test");
    let mut l = live("a.test", GOOD_HEADERS);
    assert_eq!(outcome("https-redirect", &s, &l), Outcome::NotApplicable);
    s.redirects.push(Redirect {
        from: "http://a.test/".parse().expect("url"),
        to: "https://a.test/".parse().expect("url"),
        status: 301,
    });
    let hop = |status, location: Option<&str>| RedirectObservation {
        from: "http://a.test/".into(),
        hops: vec![Hop {
            url: "http://a.test/".into(),
            status,
            location: location.map(str::to_owned),
        }],
        error: None,
    };
    l.redirects = vec![hop(301, Some("https://a.test/"))];
    assert_eq!(outcome("https-redirect", &s, &l), Outcome::Pass);
    l.redirects = vec![hop(200, None)];
    assert!(failure("https-redirect", &s, &l).contains("answers 200"));
}

#[test]
fn rule_findings_use_the_rules_advice_and_severity_order() {
    let mut hsts = rule(
        "hsts-one-year",
        Severity::High,
        Condition::HstsMinMaxAge(63_072_000),
    );
    hsts.advice = Some("ask the hoster".into());
    let st = state(
        vec![
            rule(
                "no-banner",
                Severity::Low,
                Condition::HeaderAbsent("Server".parse().expect("name")),
            ),
            hsts,
        ],
        &[],
    );
    let c = check_site(
        &st,
        &site("a.test"),
        &live("a.test", GOOD_HEADERS),
        today(),
        observatory::Grading::Observatory,
    );
    let rules: Vec<(&str, Severity)> = c
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity))
        .collect();
    assert_eq!(
        rules,
        [
            ("hsts-one-year", Severity::High),
            ("no-banner", Severity::Low)
        ]
    );
    assert_eq!(c.findings[0].advice, "ask the hoster");
    // The Observatory's HSTS test passes at one year: the rule stands alone.
    assert_eq!(c.findings[0].also, None);
    assert_eq!(c.grade, Some(Grade::APlus));
    assert_eq!(c.tls_grade, Some(Grade::APlus));
    // A high finding fails the run at the default threshold, a low one only at `low`.
    let report = CheckReport::new(vec![c]);
    assert_eq!(report.exit(FAIL_AT), Exit::Drift);
    assert_eq!(report.exit(Severity::Critical), Exit::Ok);
}

#[test]
fn a_rule_restating_a_failing_test_is_said_once_with_both_ids() {
    let st = state(
        vec![rule(
            "hsts-one-year",
            Severity::High,
            Condition::HstsMinMaxAge(31_536_000),
        )],
        &[],
    );
    let short = live("a.test", &[("Strict-Transport-Security", "max-age=300")]);
    let c = check_site(
        &st,
        &site("a.test"),
        &short,
        today(),
        observatory::Grading::Observatory,
    );
    let hsts: Vec<&Finding> = c
        .findings
        .iter()
        .filter(|f| f.rule == "hsts-one-year" || f.rule == "strict-transport-security")
        .collect();
    assert_eq!(hsts.len(), 1, "{hsts:?}");
    assert_eq!(hsts[0].rule, "hsts-one-year");
    assert_eq!(hsts[0].also.as_deref(), Some("strict-transport-security"));
    assert_eq!(
        c.tests["strict-transport-security"].result,
        "hsts-implemented-max-age-less-than-six-months"
    );
}

#[test]
fn exceptions_mark_findings_until_they_expire() {
    let st = state(
        vec![],
        &[
            ("x-frame-options", "a.test", "2026-03-31"),
            ("strict-transport-security", "a.test", "2026-03-30"),
        ],
    );
    let s = site("a.test");
    let bare = live("a.test", &[("Strict-Transport-Security", "max-age=1")]);
    let c = check_site(&st, &s, &bare, today(), observatory::Grading::Observatory);
    let find = |rule: &str| c.findings.iter().find(|f| f.rule == rule).expect(rule);
    assert!(find("x-frame-options").excepted);
    assert!(!find("strict-transport-security").excepted);
    let expired = find(EXPIRED_EXCEPTION);
    assert_eq!(expired.severity, Severity::Low);
    assert!(
        expired
            .message
            .contains("`strict-transport-security` expired on 2026-03-30")
    );
    let listed: Vec<(&str, bool)> = c
        .exceptions
        .iter()
        .map(|e| (e.rule.as_str(), e.expired))
        .collect();
    assert_eq!(
        listed,
        [
            ("strict-transport-security", true),
            ("x-frame-options", false)
        ]
    );
    // Exceptions do not change the score.
    let unexcepted = check_site(
        &state(vec![], &[]),
        &s,
        &bare,
        today(),
        observatory::Grading::Observatory,
    );
    assert_eq!(c.score, unexcepted.score);
}

#[test]
fn excepted_and_low_findings_do_not_fail_the_run() {
    let st = state(vec![], &[]);
    let mut headers = GOOD_HEADERS.to_vec();
    headers.retain(|(k, _)| *k != "Referrer-Policy");
    headers.push(("Referrer-Policy", "unsafe-url"));
    let c = check_site(
        &st,
        &site("a.test"),
        &live("a.test", &headers),
        today(),
        observatory::Grading::Observatory,
    );
    assert_eq!(c.findings.len(), 1);
    assert_eq!(c.findings[0].rule, "referrer-policy");
    let report = CheckReport::new(vec![c]);
    assert_eq!(report.exit(FAIL_AT), Exit::Ok);
    assert_eq!(report.exit(Severity::Low), Exit::Drift);
    assert_eq!(report.summary.findings_by_severity["low"], 1);
    assert_eq!(report.summary.by_grade["A+"], 1);

    let excepted = state(
        vec![],
        &[("content-security-policy", "a.test", "2026-12-31")],
    );
    headers.retain(|(k, _)| *k != "Content-Security-Policy");
    headers.push(("X-Frame-Options", "DENY"));
    let c = check_site(
        &excepted,
        &site("a.test"),
        &live("a.test", &headers),
        today(),
        observatory::Grading::Observatory,
    );
    assert!(
        c.findings
            .iter()
            .any(|f| f.rule == "content-security-policy" && f.excepted)
    );
    let report = CheckReport::new(vec![c]);
    assert_eq!(report.exit(Severity::Medium), Exit::Ok);
    assert_eq!(report.summary.findings_by_severity["medium"], 0);
}

#[test]
fn an_unobserved_site_has_an_error_and_no_grade_or_findings() {
    let st = state(
        vec![rule("hsts", Severity::High, Condition::HstsMinMaxAge(1))],
        &[("hsts", "a.test", "2020-01-01")],
    );
    let down = LiveSite {
        site: "a.test".into(),
        error: Some("connection refused".into()),
        unreachable: true,
        ..LiveSite::default()
    };
    let c = check_site(
        &st,
        &site("a.test"),
        &down,
        today(),
        observatory::Grading::Observatory,
    );
    assert_eq!(c.grade, None);
    assert_eq!(c.score, None);
    assert_eq!(c.tls_grade, None);
    assert!(c.findings.is_empty());
    assert_eq!(c.error.as_deref(), Some("connection refused"));
    let ok = check_site(
        &state(vec![], &[]),
        &site("b.test"),
        &live("b.test", GOOD_HEADERS),
        today(),
        observatory::Grading::Observatory,
    );
    let report = CheckReport::new(vec![c, ok]);
    assert_eq!(report.exit(FAIL_AT), Exit::Error);
    assert_eq!(report.summary.by_grade["unknown"], 1);
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["sites"][0]["grade"], serde_json::Value::Null);
    assert_eq!(json["sites"][0]["exceptions"][0]["expires"], "2020-01-01");
}

#[test]
fn denied_plugins_come_from_the_sites_policies() {
    let st = state(
        vec![
            rule(
                "a",
                Severity::High,
                Condition::PluginDeny(vec!["x".into(), "y".into()]),
            ),
            rule("b", Severity::High, Condition::PluginDeny(vec!["x".into()])),
        ],
        &[],
    );
    assert_eq!(denied_plugins(&st, &site("a.test")), ["x", "y"]);
    let mut other = site("b.test");
    other.policies.clear();
    assert!(denied_plugins(&st, &other).is_empty());
}
