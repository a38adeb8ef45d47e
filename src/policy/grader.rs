//! The built-in grader: ten fixed tests of common web security hygiene, each with a weight,
//! scored 0–100 over the tests that apply to the site. The ids are exactly
//! [`crate::load::keys::BUILTIN_TESTS`], so exceptions can name them.
//!
//! | id | weight | severity | passes when |
//! | --- | --- | --- | --- |
//! | `hsts` | 15 | high | `Strict-Transport-Security` with `max-age` ≥ 180 days |
//! | `csp` | 15 | medium | an enforced CSP with `default-src` or `script-src` whose script sources allow neither `'unsafe-inline'` (without a nonce or hash), `*`, `http:` nor `https:` |
//! | `x-frame-options` | 10 | medium | `X-Frame-Options: DENY` or `SAMEORIGIN`, or a CSP `frame-ancestors` |
//! | `x-content-type-options` | 10 | medium | `X-Content-Type-Options: nosniff` |
//! | `referrer-policy` | 5 | low | `Referrer-Policy` sent and not `unsafe-url` / `no-referrer-when-downgrade` |
//! | `permissions-policy` | 5 | low | `Permissions-Policy` sent |
//! | `server-banner` | 5 | low | no version number in `Server`, no `X-Powered-By` |
//! | `tls-certificate` | 20 | critical | trusted, valid for the host, valid now, ≥ 14 days left |
//! | `tls-key` | 10 | high | at least 112-bit security (RSA ≥ 2048, any EC key) |
//! | `https-redirect` | 5 | high | only when the site lists an `http://` → `https://` redirect: it is served |
//!
//! Score = points of passing tests × 100 / points of applicable tests, rounded. Exceptions do
//! not change the score: the score describes the site as it is.

use super::Failure;
use super::conditions::nginx_add;
use super::headers::{self, has_source};
use super::strength;
use crate::observe::live::{LiveSite, Page};
use crate::spec::{Severity, Site};

/// Days a certificate must still have for `tls-certificate` to pass.
pub const CERT_MIN_DAYS: i64 = 14;
/// Shortest HSTS `max-age` for `hsts` to pass: 180 days.
pub const HSTS_MIN_MAX_AGE: u64 = 180 * 24 * 3600;

/// One built-in test.
pub struct Test {
    pub id: &'static str,
    pub weight: u32,
    pub severity: Severity,
    run: fn(&Site, &LiveSite) -> Outcome,
}

/// What one test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(Failure),
    /// The test does not apply to this site (no points either way).
    NotApplicable,
}

/// The built-in tests, in report order.
pub const TESTS: &[Test] = &[
    test("hsts", 15, Severity::High, hsts),
    test("csp", 15, Severity::Medium, csp),
    test("x-frame-options", 10, Severity::Medium, x_frame_options),
    test("x-content-type-options", 10, Severity::Medium, nosniff),
    test("referrer-policy", 5, Severity::Low, referrer_policy),
    test("permissions-policy", 5, Severity::Low, permissions_policy),
    test("server-banner", 5, Severity::Low, server_banner),
    test("tls-certificate", 20, Severity::Critical, tls_certificate),
    test("tls-key", 10, Severity::High, tls_key),
    test("https-redirect", 5, Severity::High, https_redirect),
];

const fn test(
    id: &'static str,
    weight: u32,
    severity: Severity,
    run: fn(&Site, &LiveSite) -> Outcome,
) -> Test {
    Test {
        id,
        weight,
        severity,
        run,
    }
}

/// Every test's outcome, in [`TESTS`] order, and the score.
pub fn grade(site: &Site, live: &LiveSite) -> (Vec<(&'static Test, Outcome)>, u8) {
    let outcomes: Vec<(&Test, Outcome)> = TESTS.iter().map(|t| (t, (t.run)(site, live))).collect();
    let score = score(&outcomes);
    (outcomes, score)
}

/// Points of passing tests over points of applicable tests, as 0–100 rounded half up.
pub fn score(outcomes: &[(&Test, Outcome)]) -> u8 {
    let (mut earned, mut possible) = (0u32, 0u32);
    for (t, o) in outcomes {
        match o {
            Outcome::Pass => {
                earned += t.weight;
                possible += t.weight;
            }
            Outcome::Fail(_) => possible += t.weight,
            Outcome::NotApplicable => {}
        }
    }
    if possible == 0 {
        return 100;
    }
    let rounded = (200 * earned + possible) / (2 * possible);
    u8::try_from(rounded).unwrap_or(100)
}

/// Runs a header test on the page, failing when the headers could not be read.
fn on_page(live: &LiveSite, f: impl FnOnce(&Page) -> Option<Failure>) -> Outcome {
    match headers::page(live) {
        Ok(page) => f(page).map_or(Outcome::Pass, Outcome::Fail),
        Err(why) => Outcome::Fail(Failure::new(
            why,
            "make the site answer over HTTPS with a certificate clients accept, then check again",
        )),
    }
}

fn send(name: &str, value: &str) -> String {
    format!(
        "send `{name}: {value}` (nginx: `{}`)",
        nginx_add(name, value)
    )
}

fn hsts(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let advice = send(
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        );
        let message = match headers::first(page, "strict-transport-security") {
            None => "`Strict-Transport-Security` is not sent".to_owned(),
            Some(v) => match headers::hsts_max_age(v) {
                Some(age) if age >= HSTS_MIN_MAX_AGE => return None,
                Some(age) => {
                    format!("`Strict-Transport-Security` max-age is {age} s, shorter than 180 days")
                }
                None => format!("`Strict-Transport-Security: {v}` has no valid max-age"),
            },
        };
        Some(Failure::new(message, advice))
    })
}

fn csp(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let advice = send(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'self'",
        ) + ", then allow each further source your pages need";
        let policies = headers::csps(page);
        if policies.is_empty() {
            return Some(Failure::new(
                "`Content-Security-Policy` is not sent",
                advice,
            ));
        }
        // Script sources: `script-src`, falling back to `default-src`, per CSP level 3.
        let scripts = policies
            .iter()
            .find_map(|p| p.get("script-src").or_else(|| p.get("default-src")));
        let Some(scripts) = scripts else {
            return Some(Failure::new(
                "`Content-Security-Policy` has neither `default-src` nor `script-src`, so it \
                 does not restrict scripts",
                advice,
            ));
        };
        let nonce_or_hash = scripts.iter().any(|s| {
            let s = s.to_ascii_lowercase();
            ["'nonce-", "'sha256-", "'sha384-", "'sha512-"]
                .iter()
                .any(|p| s.starts_with(p))
        });
        let mut loose: Vec<&str> = ["*", "http:", "https:"]
            .into_iter()
            .filter(|w| has_source(scripts, w))
            .collect();
        if has_source(scripts, "'unsafe-inline'") && !nonce_or_hash {
            loose.insert(0, "'unsafe-inline'");
        }
        if loose.is_empty() {
            return None;
        }
        Some(Failure::new(
            format!(
                "`Content-Security-Policy` allows scripts from {}",
                loose.join(" ")
            ),
            "list script origins explicitly in `script-src` and replace inline scripts with \
             nonces or hashes (`script-src 'self' 'nonce-…'`)",
        ))
    })
}

fn x_frame_options(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let xfo = headers::first(page, "x-frame-options");
        let ok = xfo.is_some_and(|v| {
            v.eq_ignore_ascii_case("deny") || v.eq_ignore_ascii_case("sameorigin")
        });
        let ancestors = headers::csps(page)
            .iter()
            .any(|p| p.contains_key("frame-ancestors"));
        if ok || ancestors {
            return None;
        }
        let message = match xfo {
            Some(v) => format!("`X-Frame-Options: {v}` is neither `DENY` nor `SAMEORIGIN`"),
            None => "neither `X-Frame-Options` nor a CSP `frame-ancestors` is sent, so any site \
                     can frame this one"
                .to_owned(),
        };
        Some(Failure::new(
            message,
            send("X-Frame-Options", "DENY")
                + " or add `frame-ancestors 'none'` to `Content-Security-Policy`",
        ))
    })
}

fn nosniff(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let message = match headers::first(page, "x-content-type-options") {
            Some(v) if v.eq_ignore_ascii_case("nosniff") => return None,
            Some(v) => format!("`X-Content-Type-Options` is `{v}`, not `nosniff`"),
            None => "`X-Content-Type-Options` is not sent".to_owned(),
        };
        Some(Failure::new(
            message,
            send("X-Content-Type-Options", "nosniff"),
        ))
    })
}

fn referrer_policy(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let advice = send("Referrer-Policy", "strict-origin-when-cross-origin");
        let Some(v) = page.header("referrer-policy") else {
            return Some(Failure::new("`Referrer-Policy` is not sent", advice));
        };
        // Browsers use the last policy they understand in a comma-separated list.
        let last = v.rsplit(',').map(str::trim).find(|p| !p.is_empty());
        match last.map(str::to_ascii_lowercase).as_deref() {
            Some("unsafe-url" | "no-referrer-when-downgrade") | None => Some(Failure::new(
                format!("`Referrer-Policy: {v}` leaks full URLs to other sites"),
                advice,
            )),
            Some(_) => None,
        }
    })
}

fn permissions_policy(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        if page
            .header("permissions-policy")
            .is_some_and(|v| !v.trim().is_empty())
        {
            return None;
        }
        Some(Failure::new(
            "`Permissions-Policy` is not sent",
            send(
                "Permissions-Policy",
                "camera=(), microphone=(), geolocation=()",
            ),
        ))
    })
}

/// Whether a `Server` value carries a version: `nginx/1.22.1`, `Apache 2.4`.
fn has_version(server: &str) -> bool {
    let b = server.as_bytes();
    b.windows(2).any(|w| w[0] == b'/' && w[1].is_ascii_digit())
        || b.windows(3)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
}

fn server_banner(_: &Site, live: &LiveSite) -> Outcome {
    on_page(live, |page| {
        let mut leaks = Vec::new();
        let mut advice = Vec::new();
        if let Some(server) = page.header("server").filter(|s| has_version(s)) {
            leaks.push(format!("`Server: {server}`"));
            advice.push(
                "hide the version (nginx: `server_tokens off;`, Apache: `ServerTokens Prod`)",
            );
        }
        if let Some(powered) = page.header("x-powered-by") {
            leaks.push(format!("`X-Powered-By: {powered}`"));
            advice.push(
                "stop sending `X-Powered-By` (PHP: `expose_php = Off`; nginx: \
                 `fastcgi_hide_header X-Powered-By;`)",
            );
        }
        if leaks.is_empty() {
            return None;
        }
        Some(Failure::new(
            format!("software versions are announced: {}", leaks.join(", ")),
            advice.join("; "),
        ))
    })
}

fn tls_certificate(site: &Site, live: &LiveSite) -> Outcome {
    let renew = "serve a certificate from a trusted CA for this host name with the full chain, \
                 and renew it automatically (`manage.certificate: {provider: acme}`)";
    let Some(tls) = &live.tls else {
        let why = if site.url.is_https() {
            "no certificate was observed"
        } else {
            "the site is not served over HTTPS"
        };
        return Outcome::Fail(Failure::new(why, renew));
    };
    let mut problems = Vec::new();
    if !tls.trusted {
        problems.push(if tls.missing_intermediate {
            "the chain is incomplete (an intermediate certificate is missing)".to_owned()
        } else if tls.leaf.self_signed {
            "the certificate is self-signed".to_owned()
        } else {
            "the certificate is not issued by a trusted CA".to_owned()
        });
    }
    if !tls.host_match {
        problems.push(format!(
            "the certificate is not valid for `{}` (it names {})",
            site.url.host(),
            tls.leaf.sans.join(", ")
        ));
    }
    if tls.days_left < 0 {
        problems.push(format!("the certificate expired on {}", tls.leaf.not_after));
    } else if tls.days_left < CERT_MIN_DAYS {
        problems.push(format!(
            "the certificate expires in {} day(s) ({})",
            tls.days_left, tls.leaf.not_after
        ));
    }
    if problems.is_empty()
        && let Some(e) = &tls.verify_error
    {
        problems.push(format!("clients refuse the certificate: {e}"));
    }
    if problems.is_empty() {
        return Outcome::Pass;
    }
    Outcome::Fail(Failure::new(problems.join("; "), renew))
}

fn tls_key(_: &Site, live: &LiveSite) -> Outcome {
    let Some(tls) = &live.tls else {
        return Outcome::Fail(Failure::new(
            "no certificate key was observed",
            "serve the site over HTTPS with an `ecdsa-p256` (or `rsa-2048` or larger) key",
        ));
    };
    let key = &tls.leaf.key;
    match strength::observed_bits(key) {
        Some(bits) if bits >= 112 => Outcome::Pass,
        _ => Outcome::Fail(Failure::new(
            format!("the certificate key `{key}` is weaker than RSA 2048"),
            "reissue the certificate with an `ecdsa-p256` key (or `rsa-2048` or larger)",
        )),
    }
}

fn https_redirect(site: &Site, live: &LiveSite) -> Outcome {
    let upgrades: Vec<usize> = site
        .redirects
        .iter()
        .enumerate()
        .filter(|(_, r)| r.from.url().scheme() == "http" && r.to.is_https())
        .map(|(i, _)| i)
        .collect();
    if upgrades.is_empty() {
        return Outcome::NotApplicable;
    }
    let mut problems = Vec::new();
    for i in upgrades {
        let from = site.redirects[i].from.as_str();
        let seen = live.redirects.get(i);
        let first = seen.and_then(|o| o.hops.first());
        match first {
            Some(h)
                if (300..400).contains(&h.status)
                    && h.location
                        .as_deref()
                        .is_some_and(|l| l.starts_with("https://")) => {}
            Some(h) => problems.push(format!(
                "`{from}` answers {} instead of redirecting to https",
                h.status
            )),
            None => problems.push(format!(
                "`{from}` could not be requested: {}",
                seen.and_then(|o| o.error.as_deref())
                    .unwrap_or("no response")
            )),
        }
    }
    if problems.is_empty() {
        return Outcome::Pass;
    }
    Outcome::Fail(Failure::new(
        problems.join("; "),
        "redirect plain HTTP to HTTPS (nginx, in the port-80 server: \
         `return 301 https://$host$request_uri;`)",
    ))
}
