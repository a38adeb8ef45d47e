//! The web grade: the MDN HTTP Observatory's ten tests, result ids, score modifiers and grade
//! chart (npm `@mdn/mdn-http-observatory` 1.4.8), reimplemented over what
//! [`crate::probe::observatory`] requested. The differential test in `tests/it/observatory.rs`
//! holds this equal to the real package.
//!
//! Score: 100 plus every test's modifier; bonuses (positive modifiers) count only when 100
//! plus the penalties alone is at least 90; never below 0. Grade: the score rounded down to a
//! multiple of 5 (100 for anything above) through [`Grade::from_score`].
//!
//! Headers are read as Node reads them: repeated lines joined with `, ` (so `X-Frame-Options`
//! sent twice is invalid), except the few Node keeps only the first of (`Content-Type`, …).
//! Known simplification: the HSTS preload list is taken as empty (no site gains
//! `hsts-preloaded`). A script's registrable domain is the Observatory's ([`domain`]).
//!
//! [`Grading::Strict`] corrects the Observatory's known quirks the way browsers read headers:
//! an HSTS `max-age` without digits is invalid and `max-age=0` is no HSTS; a header sent twice
//! is read as browsers read it (the first `Strict-Transport-Security` and
//! `X-Content-Type-Options`; `X-Frame-Options` only when every value agrees); each
//! comma-separated CSP policy counts on its own, a source allowed only when all allow it; a
//! preflight that echoes the `Origin` with credentials allowed is universal access (the
//! Observatory never sees the `Origin` it sent).

pub mod advice;
pub mod cookies;
pub mod csp;
pub mod domain;
pub mod html;

use std::collections::BTreeMap;

use serde::Serialize;

use super::Grade;
use crate::observe::live::Page;
use crate::probe::observatory::{CORS_ORIGIN, Chain, View};

/// Bonuses count only when the score with penalties alone reaches this.
pub const MINIMUM_SCORE_FOR_EXTRA_CREDIT: i32 = 90;
/// HSTS `max-age` below this is "less than six months" (the Observatory's 180 days).
pub const SIX_MONTHS: f64 = 15_552_000.0;

/// The test names, in the Observatory's order.
pub const TESTS: [&str; 10] = [
    "content-security-policy",
    "cookies",
    "cross-origin-resource-sharing",
    "redirection",
    "referrer-policy",
    "strict-transport-security",
    "subresource-integrity",
    "x-content-type-options",
    "x-frame-options",
    "cross-origin-resource-policy",
];

/// Whether to grade exactly as the Observatory does (the default, comparable figures) or with
/// its known quirks corrected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Grading {
    #[default]
    Observatory,
    Strict,
}

/// One test's outcome, as in the check JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The Observatory's result id, e.g. `csp-implemented-with-unsafe-inline`.
    pub result: &'static str,
    pub score_modifier: i32,
    pub pass: bool,
}

/// Every test's outcome, the score and the grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebGrade {
    pub tests: BTreeMap<&'static str, TestResult>,
    pub score: u16,
    pub grade: Grade,
}

/// The score modifier of a result id (0 for an unknown id, as the Observatory does).
pub fn modifier(result: &str) -> i32 {
    match result {
        "csp-implemented-with-no-unsafe-default-src-none" => 10,
        "csp-implemented-with-no-unsafe" => 5,
        "csp-implemented-with-insecure-scheme-in-passive-content-only"
        | "csp-implemented-with-unsafe-eval" => -10,
        "csp-implemented-with-unsafe-inline" | "csp-implemented-with-insecure-scheme" => -20,
        "csp-header-invalid"
        | "csp-not-implemented"
        | "csp-not-implemented-but-reporting-enabled" => -25,
        "cookies-secure-with-httponly-sessions-and-samesite" => 5,
        "cookies-without-secure-flag-but-protected-by-hsts" => -5,
        "cookies-session-without-secure-flag-but-protected-by-hsts" => -10,
        "cookies-without-secure-flag"
        | "cookies-samesite-flag-invalid"
        | "cookies-anticsrf-without-samesite-flag" => -20,
        "cookies-session-without-httponly-flag" => -30,
        "cookies-session-without-secure-flag" => -40,
        "cross-origin-resource-sharing-implemented-with-universal-access" => -50,
        "redirection-off-host-from-http" => -5,
        "redirection-not-to-https-on-initial-redirection" => -10,
        "redirection-not-to-https" | "redirection-missing" | "redirection-invalid-cert" => -20,
        "referrer-policy-private" => 5,
        "referrer-policy-unsafe" | "referrer-policy-header-invalid" => -5,
        "hsts-preloaded" => 5,
        "hsts-implemented-max-age-less-than-six-months" => -10,
        "hsts-not-implemented"
        | "hsts-header-invalid"
        | "hsts-not-implemented-no-https"
        | "hsts-invalid-cert" => -20,
        "sri-implemented-and-all-scripts-loaded-securely"
        | "sri-implemented-and-external-scripts-loaded-securely" => 5,
        "sri-not-implemented-but-external-scripts-loaded-securely" => -5,
        "sri-implemented-but-external-scripts-not-loaded-securely" | "html-not-parseable" => -20,
        "sri-not-implemented-and-external-scripts-not-loaded-securely" => -50,
        "x-content-type-options-not-implemented" | "x-content-type-options-header-invalid" => -5,
        "x-frame-options-implemented-via-csp" => 5,
        "x-frame-options-not-implemented" | "x-frame-options-header-invalid" => -20,
        "corp-header-invalid" => -5,
        "corp-implemented-with-same-origin" | "corp-implemented-with-same-site" => 10,
        _ => 0,
    }
}

/// The final score of a set of modifiers: bonuses only from an A, never below 0.
pub fn score(modifiers: impl IntoIterator<Item = i32>) -> u16 {
    let (mut all, mut penalties) = (100i32, 100i32);
    for m in modifiers {
        all += m;
        if m < 0 {
            penalties += m;
        }
    }
    let s = if penalties >= MINIMUM_SCORE_FOR_EXTRA_CREDIT {
        all
    } else {
        penalties
    };
    u16::try_from(s.max(0)).unwrap_or(u16::MAX)
}

/// Headers with Node's rules for repeated lines: the first kept for these, all joined with
/// `, ` otherwise.
const FIRST_ONLY: [&str; 18] = [
    "age",
    "authorization",
    "content-length",
    "content-type",
    "etag",
    "expires",
    "from",
    "host",
    "if-modified-since",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "proxy-authorization",
    "referer",
    "retry-after",
    "server",
    "user-agent",
];

/// A header as the Observatory receives it.
fn header(page: Option<&Page>, name: &str) -> Option<String> {
    let values = page?.headers.get(name)?;
    if FIRST_ONLY.contains(&name) {
        values.first().cloned()
    } else {
        Some(values.join(", "))
    }
}

/// The MIME type of a page as the Observatory compares it (no trimming, no lowercasing).
fn mime(page: Option<&Page>) -> String {
    header(page, "content-type")
        .and_then(|v| v.split(';').next().map(str::to_owned))
        .unwrap_or_default()
}

fn is_html(mime: &str) -> bool {
    matches!(mime, "text/html" | "application/xhtml+xml")
}

/// `<meta http-equiv="content-security-policy">` contents and the last `<meta
/// name="referrer">` content of an HTML page.
struct Equiv {
    csp: Vec<String>,
    referrer: Option<String>,
}

fn equiv(chain: &Chain) -> Equiv {
    let mut out = Equiv {
        csp: Vec::new(),
        referrer: None,
    };
    let page = chain.last.as_ref();
    let Some(body) = chain.body.as_deref().filter(|b| !b.is_empty()) else {
        return out;
    };
    if !is_html(&mime(page)) {
        return out;
    }
    for tag in html::tags(body).into_iter().filter(|t| t.name == "meta") {
        match (tag.attrs.get("http-equiv"), tag.attrs.get("content")) {
            (Some(e), Some(c)) => {
                if e.trim().eq_ignore_ascii_case("content-security-policy") && !c.is_empty() {
                    out.csp.push(c.clone());
                }
            }
            _ => {
                let referrer = tag
                    .attrs
                    .get("name")
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case("referrer"));
                if let Some(c) = tag
                    .attrs
                    .get("content")
                    .filter(|c| referrer && !c.is_empty())
                {
                    out.referrer = Some(c.clone());
                }
            }
        }
    }
    out
}

/// Runs the ten tests on `view` and grades the site.
pub fn grade(view: &View, grading: Grading) -> WebGrade {
    let strict = grading == Grading::Strict;
    let auto = view.auto();
    let page = auto.and_then(|c| c.last.as_ref());
    let https = view.https.is_some();
    let eq = auto.map(equiv).unwrap_or(Equiv {
        csp: Vec::new(),
        referrer: None,
    });
    let mut results: Vec<(&'static str, &'static str, bool)> = Vec::new();

    // content-security-policy
    let csp = match page {
        None => csp::Verdict {
            result: "csp-not-implemented",
            pass: false,
            policy: None,
        },
        Some(_) => {
            let http: Vec<String> = if strict {
                // Every line, and every comma-separated policy in it, is a policy of its own.
                page.and_then(|p| p.headers.get("content-security-policy"))
                    .into_iter()
                    .flatten()
                    .flat_map(|v| v.split(','))
                    .map(str::to_owned)
                    .filter(|p| !p.trim().is_empty())
                    .collect()
            } else {
                header(page, "content-security-policy")
                    .into_iter()
                    .collect()
            };
            let report_only = header(page, "content-security-policy-report-only");
            csp::test(&http, &eq.csp, report_only.as_deref(), https)
        }
    };
    results.push(("content-security-policy", csp.result, csp.pass));

    // strict-transport-security (cookies need its verdict)
    let hsts = hsts(view, strict);
    let hsts_pass = hsts == "hsts-implemented-max-age-at-least-six-months";

    // cookies
    let jar = auto.map_or_else(Vec::new, |c| {
        cookies::jar(c.visits.iter().map(|v| (&v.url, v.set_cookie.as_slice())))
    });
    let raw = page
        .and_then(|p| p.headers.get("set-cookie").cloned())
        .unwrap_or_default();
    let (r, pass) = cookies::test(&jar, &raw, hsts_pass);
    results.push(("cookies", r, pass));

    // cross-origin-resource-sharing
    let cors = view.cors.as_ref();
    let acao = header(cors, "access-control-allow-origin");
    let cors_result = match acao.as_deref().filter(|a| !a.is_empty()) {
        None => "cross-origin-resource-sharing-not-implemented",
        Some(a) if a.trim().to_lowercase() == "*" => {
            "cross-origin-resource-sharing-implemented-with-public-access"
        }
        // The Observatory 1.4.8 reads the preflight's `Origin` from a place where it never
        // finds it, so it never reports universal access; strict grading does.
        Some(a)
            if strict
                && a == CORS_ORIGIN
                && header(cors, "access-control-allow-credentials")
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("true")) =>
        {
            "cross-origin-resource-sharing-implemented-with-universal-access"
        }
        Some(_) => "cross-origin-resource-sharing-implemented-with-restricted-access",
    };
    results.push((
        "cross-origin-resource-sharing",
        cors_result,
        cors_result != "cross-origin-resource-sharing-implemented-with-universal-access",
    ));

    // redirection
    let (r, pass) = redirection(view);
    results.push(("redirection", r, pass));

    // referrer-policy
    let (r, pass) = referrer(page, eq.referrer.as_deref());
    results.push(("referrer-policy", r, pass));

    results.push(("strict-transport-security", hsts, hsts_pass));

    // subresource-integrity
    let (r, pass) = sri(view, auto);
    results.push(("subresource-integrity", r, pass));

    // x-content-type-options
    let xcto_value = if strict {
        first(page, "x-content-type-options")
    } else {
        header(page, "x-content-type-options")
    };
    let xcto = match xcto_value {
        Some(v) if !v.is_empty() => {
            if v.trim().eq_ignore_ascii_case("nosniff") {
                "x-content-type-options-nosniff"
            } else {
                "x-content-type-options-header-invalid"
            }
        }
        _ => "x-content-type-options-not-implemented",
    };
    results.push((
        "x-content-type-options",
        xcto,
        xcto == "x-content-type-options-nosniff",
    ));

    // x-frame-options
    let mut xfo = match header(page, "x-frame-options") {
        Some(v) if !v.is_empty() => {
            let mut v = v.trim().to_lowercase();
            if strict {
                // Browsers accept a list whose values all agree.
                let values: Vec<&str> = v.split(',').map(str::trim).collect();
                if values.iter().all(|x| *x == values[0]) {
                    v = values[0].to_owned();
                }
            }
            if v == "deny" || v == "sameorigin" {
                "x-frame-options-sameorigin-or-deny"
            } else if v.starts_with("allow-from") {
                "x-frame-options-allow-from-origin"
            } else {
                "x-frame-options-header-invalid"
            }
        }
        _ => "x-frame-options-not-implemented",
    };
    if page.is_some()
        && csp
            .policy
            .as_ref()
            .is_some_and(|p| p.directives.contains_key("frame-ancestors"))
    {
        xfo = "x-frame-options-implemented-via-csp";
    }
    results.push((
        "x-frame-options",
        xfo,
        !matches!(
            xfo,
            "x-frame-options-not-implemented" | "x-frame-options-header-invalid"
        ),
    ));

    // cross-origin-resource-policy
    let corp = match header(page, "cross-origin-resource-policy").filter(|v| !v.is_empty()) {
        None => "corp-not-implemented",
        Some(v) => match v.trim().to_lowercase().as_str() {
            "same-site" => "corp-implemented-with-same-site",
            "same-origin" => "corp-implemented-with-same-origin",
            "cross-origin" => "corp-implemented-with-cross-origin",
            _ => "corp-header-invalid",
        },
    };
    results.push((
        "cross-origin-resource-policy",
        corp,
        corp != "corp-header-invalid",
    ));

    let tests: BTreeMap<&'static str, TestResult> = results
        .into_iter()
        .map(|(name, result, pass)| {
            (
                name,
                TestResult {
                    result,
                    score_modifier: modifier(result),
                    pass,
                },
            )
        })
        .collect();
    let score = score(tests.values().map(|t| t.score_modifier));
    WebGrade {
        tests,
        score,
        grade: Grade::from_score(score),
    }
}

/// The first line of a header, as browsers read `Strict-Transport-Security`.
fn first(page: Option<&Page>, name: &str) -> Option<String> {
    page?.headers.get(name)?.first().cloned()
}

fn hsts(view: &View, strict: bool) -> &'static str {
    let Some(chain) = &view.https else {
        return "hsts-not-implemented-no-https";
    };
    if !chain.verified {
        return "hsts-invalid-cert";
    }
    let page = chain.last.as_ref();
    let value = if strict {
        first(page, "strict-transport-security")
    } else {
        header(page, "strict-transport-security")
    };
    let Some(value) = value else {
        return "hsts-not-implemented";
    };
    let data: String = value.chars().take(1024).collect();
    if data.contains(',') {
        return "hsts-header-invalid";
    }
    // `max-age` read as the Observatory reads it (a value without digits is NaN, which it
    // compares as "not below six months").
    let max_age = crate::header_values::hsts_max_age_as_observatory(&data);
    match max_age {
        None => "hsts-header-invalid",
        // Strict: no digits is not a max-age, and 0 tells browsers to forget HSTS.
        Some(None) if strict => "hsts-header-invalid",
        Some(Some(age)) if strict && age <= 0.0 => "hsts-not-implemented",
        Some(Some(age)) if age < SIX_MONTHS => "hsts-implemented-max-age-less-than-six-months",
        Some(_) => "hsts-implemented-max-age-at-least-six-months",
    }
}

fn redirection(view: &View) -> (&'static str, bool) {
    let Some(chain) = &view.http else {
        return ("redirection-not-needed-no-http", true);
    };
    if !chain.verified {
        return ("redirection-invalid-cert", false);
    }
    let route = &chain.visits;
    let result = match route.as_slice() {
        [] | [_] => "redirection-missing",
        [first, second, ..] => {
            let last = &route[route.len() - 1];
            if last.url.scheme() != "https" {
                "redirection-not-to-https"
            } else if second.url.scheme() == "http" {
                "redirection-not-to-https-on-initial-redirection"
            } else if first.url.scheme() == "http"
                && second.url.scheme() == "https"
                && first.url.host_str() != second.url.host_str()
            {
                "redirection-off-host-from-http"
            } else {
                "redirection-to-https"
            }
        }
    };
    (result, result == "redirection-to-https")
}

fn referrer(page: Option<&Page>, meta: Option<&str>) -> (&'static str, bool) {
    const GOOD: [&str; 4] = [
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ];
    const BAD: [&str; 4] = [
        "origin",
        "origin-when-cross-origin",
        "unsafe-url",
        "no-referrer-when-downgrade",
    ];
    if page.is_none() {
        return ("referrer-policy-not-implemented", false);
    }
    let parts: Vec<String> = header(page, "referrer-policy")
        .into_iter()
        .chain(meta.map(str::to_owned))
        .collect();
    if parts.is_empty() {
        return ("referrer-policy-not-implemented", true);
    }
    let data = parts.join(", ");
    let policy = data
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .rfind(|p| GOOD.contains(&p.as_str()) || BAD.contains(&p.as_str()))
        .unwrap_or_default();
    if GOOD.contains(&policy.as_str()) {
        ("referrer-policy-private", true)
    } else if BAD.contains(&policy.as_str()) {
        ("referrer-policy-unsafe", false)
    } else {
        ("referrer-policy-header-invalid", false)
    }
}

fn sri(view: &View, auto: Option<&Chain>) -> (&'static str, bool) {
    const ORDER: [&str; 6] = [
        "sri-implemented-and-all-scripts-loaded-securely",
        "sri-implemented-and-external-scripts-loaded-securely",
        "sri-implemented-but-external-scripts-not-loaded-securely",
        "sri-not-implemented-but-external-scripts-loaded-securely",
        "sri-not-implemented-and-external-scripts-not-loaded-securely",
        "sri-not-implemented-response-not-html",
    ];
    let pass = |r: &str| {
        !matches!(
            r,
            "sri-implemented-but-external-scripts-not-loaded-securely"
                | "sri-not-implemented-and-external-scripts-not-loaded-securely"
                | "sri-not-implemented-but-external-scripts-loaded-securely"
        )
    };
    let Some(chain) = auto.filter(|c| c.last.is_some()) else {
        return ("sri-not-implemented-but-no-scripts-loaded", true);
    };
    if !is_html(&mime(chain.last.as_ref())) {
        return ("sri-not-implemented-response-not-html", true);
    }
    let https_session = view.https.is_some();
    let own = domain::registrable(&view.host);
    let scripts: Vec<html::Tag> = html::tags(chain.body.as_deref().unwrap_or_default())
        .into_iter()
        .filter(|t| t.name == "script")
        .collect();
    if scripts.is_empty() {
        return ("sri-not-implemented-but-no-scripts-loaded", true);
    }
    let mut worst: Option<&'static str> = None;
    let worse = |worst: &mut Option<&'static str>, r: &'static str| {
        let rank = |x: &str| ORDER.iter().position(|o| *o == x);
        if worst.is_none_or(|w| rank(r) > rank(w)) {
            *worst = Some(r);
        }
    };
    let mut foreign = false;
    for s in &scripts {
        let raw = s.attrs.get("src").map(|v| v.trim()).unwrap_or_default();
        // The `src` property: an absolute URL serialised, anything else as written.
        let src = url::Url::parse(raw).map_or_else(|_| raw.to_owned(), String::from);
        if src.is_empty() {
            continue;
        }
        let integrity = s.attrs.get("integrity").is_some_and(|v| !v.is_empty());
        let relative_protocol = src.starts_with("//") && !src[2..].starts_with('/');
        let full = src.starts_with("http://") || src.starts_with("https://");
        let relative_origin = !relative_protocol && !full;
        let same_domain = if full {
            url::Url::parse(&src)
                .ok()
                .and_then(|u| u.host_str().map(domain::registrable))
                .flatten()
                == own
        } else {
            true
        };
        let secure_origin = relative_origin || (same_domain && !relative_protocol);
        if !secure_origin {
            foreign = true;
        }
        let secure_scheme =
            (full && src.starts_with("https://")) || (relative_origin && https_session);
        if !secure_origin {
            if integrity && !secure_scheme {
                worse(
                    &mut worst,
                    "sri-implemented-but-external-scripts-not-loaded-securely",
                );
            } else if !integrity && secure_scheme {
                worse(
                    &mut worst,
                    "sri-not-implemented-but-external-scripts-loaded-securely",
                );
            } else if !integrity {
                worse(
                    &mut worst,
                    "sri-not-implemented-and-external-scripts-not-loaded-securely",
                );
            }
        } else if integrity && secure_scheme && worst.is_none() {
            worst = Some("sri-implemented-and-all-scripts-loaded-securely");
        }
    }
    let result = worst.unwrap_or(if foreign {
        "sri-implemented-and-external-scripts-loaded-securely"
    } else {
        "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
    });
    (result, pass(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bonuses_need_an_a_and_the_score_stops_at_zero() {
        assert_eq!(score([5, 10, -5]), 110);
        assert_eq!(score([5, 10, -15]), 85);
        assert_eq!(score([-50, -50, -40]), 0);
        assert_eq!(Grade::from_score(score([5, 5, 5, 5, 10])), Grade::APlus);
    }

    fn view(headers: &[(&str, &str)]) -> View {
        let mut page = Page {
            status: 200,
            ..Page::default()
        };
        for (k, v) in headers {
            page.headers
                .entry((*k).to_owned())
                .or_default()
                .push((*v).to_owned());
        }
        let url: url::Url = "https://a.test/".parse().expect("url");
        View {
            host: "a.test".into(),
            http: None,
            https: Some(Chain {
                visits: vec![crate::probe::observatory::Visit {
                    url,
                    status: 200,
                    set_cookie: Vec::new(),
                }],
                verified: true,
                last: Some(page),
                body: None,
            }),
            cors: None,
        }
    }

    #[test]
    fn strict_grading_corrects_the_known_quirks() {
        let both = |h: &[(&str, &str)], test: &str| {
            let v = view(h);
            (
                grade(&v, Grading::Observatory).tests[test].result,
                grade(&v, Grading::Strict).tests[test].result,
            )
        };
        let hsts = "strict-transport-security";
        assert_eq!(
            both(&[(hsts, "max-age=soon")], hsts),
            (
                "hsts-implemented-max-age-at-least-six-months",
                "hsts-header-invalid"
            )
        );
        assert_eq!(
            both(&[(hsts, "max-age=0")], hsts),
            (
                "hsts-implemented-max-age-less-than-six-months",
                "hsts-not-implemented"
            )
        );
        assert_eq!(
            both(
                &[(hsts, "max-age=31536000"), (hsts, "max-age=31536000")],
                hsts
            ),
            (
                "hsts-header-invalid",
                "hsts-implemented-max-age-at-least-six-months"
            )
        );
        let xfo = "x-frame-options";
        assert_eq!(
            both(&[(xfo, "DENY"), (xfo, "DENY")], xfo),
            (
                "x-frame-options-header-invalid",
                "x-frame-options-sameorigin-or-deny"
            )
        );
        // Two policies: a browser enforces both, so the first one's `default-src 'self'`
        // still blocks inline scripts; joined into one text, the second policy's words become
        // sources of the first one's `default-src`.
        let csp = "content-security-policy";
        assert_eq!(
            both(
                &[
                    (csp, "default-src 'self'"),
                    (csp, "script-src 'self' 'unsafe-inline'")
                ],
                csp
            ),
            (
                "csp-implemented-with-unsafe-inline",
                "csp-implemented-with-no-unsafe"
            )
        );
        // A preflight echoing the Observatory's own `Origin` with credentials allowed.
        let mut echo = view(&[]);
        let mut preflight = Page {
            status: 204,
            ..Page::default()
        };
        for (k, v) in [
            ("access-control-allow-origin", CORS_ORIGIN),
            ("access-control-allow-credentials", "true"),
        ] {
            preflight.headers.insert(k.to_owned(), vec![v.to_owned()]);
        }
        echo.cors = Some(preflight);
        let cors = "cross-origin-resource-sharing";
        assert_eq!(
            grade(&echo, Grading::Observatory).tests[cors].result,
            "cross-origin-resource-sharing-implemented-with-restricted-access"
        );
        assert_eq!(
            grade(&echo, Grading::Strict).tests[cors].result,
            "cross-origin-resource-sharing-implemented-with-universal-access"
        );
    }
}
