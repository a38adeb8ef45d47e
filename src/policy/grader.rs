//! siteward's own built-in tests, beside the web grade (the Observatory's tests in
//! [`super::observatory`]): they add findings but no score. Their ids and the Observatory's
//! test names are exactly [`crate::load::keys::BUILTIN_TESTS`], so exceptions can name them.
//!
//! | id | severity | passes when |
//! | --- | --- | --- |
//! | `permissions-policy` | low | `Permissions-Policy` sent |
//! | `server-banner` | low | no version number in `Server`, no `X-Powered-By` |
//! | `tls-certificate` | critical | trusted, valid for the host, valid now, ≥ 14 days left |
//! | `tls-key` | high | at least 112-bit security (RSA ≥ 2048, any EC key) |
//! | `https-redirect` | high | only when the site lists an `http://` → `https://` redirect: it is served |

use super::Failure;
use super::headers;
use super::strength;
use crate::observe::live::{LiveSite, Page};
use crate::spec::{Severity, Site};

/// Days a certificate must still have for `tls-certificate` to pass.
pub const CERT_MIN_DAYS: i64 = 14;

/// One built-in test.
pub struct Test {
    pub id: &'static str,
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
    test("permissions-policy", Severity::Low, permissions_policy),
    test("server-banner", Severity::Low, server_banner),
    test("tls-certificate", Severity::Critical, tls_certificate),
    test("tls-key", Severity::High, tls_key),
    test("https-redirect", Severity::High, https_redirect),
];

const fn test(id: &'static str, severity: Severity, run: fn(&Site, &LiveSite) -> Outcome) -> Test {
    Test { id, severity, run }
}

/// Every test's outcome, in [`TESTS`] order.
pub fn grade(site: &Site, live: &LiveSite) -> Vec<(&'static Test, Outcome)> {
    TESTS.iter().map(|t| (t, (t.run)(site, live))).collect()
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
    super::observatory::advice::send(name, value)
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
    let mut advice = renew.to_owned();
    if !tls.trusted {
        problems.push(if tls.leaf.self_signed {
            "the certificate is self-signed".to_owned()
        } else if tls.missing_intermediate {
            // The issuer is neither sent nor trusted (`UnknownIssuer`): from outside, a
            // missing intermediate and a private CA look the same, so both are named.
            advice = format!(
                "if `{}` uses a private CA, add its root certificate as `ca: PATH` in the site \
                 file; otherwise serve the full chain (the certificate followed by its \
                 intermediates, e.g. nginx `ssl_certificate` pointing at `fullchain.pem`)",
                site.name
            );
            format!(
                "the certificate's issuer `{}` is not trusted (`UnknownIssuer`): the server does \
                 not send it and no trusted root signed it",
                tls.leaf.issuer
            )
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
    // A chain that verifies can still fail the handshake: a 1024-bit RSA key's signature is
    // refused by current TLS clients (rustls: `BadSignature`).
    if problems.is_empty()
        && let Some(why) = &live.https_refused
    {
        problems.push(format!("clients refuse the HTTPS connection: {why}"));
    }
    if problems.is_empty() {
        return Outcome::Pass;
    }
    Outcome::Fail(Failure::new(problems.join("; "), advice))
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
