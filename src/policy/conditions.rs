//! One policy rule's condition against the observed live state. Each condition either holds
//! (`None`) or fails with a message saying what was seen and advice saying what to change.
//!
//! Caveats: a header condition fails when the headers could not be read (HTTPS refused);
//! `plugin_deny` holds when no software was observed (nothing denied was seen), while
//! `min_core_version` fails when the core version cannot be told, since it cannot be shown
//! to be recent enough. The certificate conditions fail when no certificate was observed;
//! `cert_min_rsa_bits` judges RSA keys only (`cert_min_key` compares every type).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Failure;
use super::headers::{self, has_source};
use super::observatory::advice;
use super::strength;
use crate::diff::cert::{lifetime_days, max_lifetime_days, rsa_bits, sha1_signed};
use crate::header_values::normalise;
use crate::observe::live::LiveSite;
use crate::spec::{Condition, HeaderName, HeaderRule, KeyType, LifetimeLimit, Site, Version};

/// Evaluates `condition` on `live`: `None` when it holds.
pub fn evaluate(condition: &Condition, site: &Site, live: &LiveSite) -> Option<Failure> {
    match condition {
        Condition::HeaderPresent(name) => header_present(name, site, live),
        Condition::HeaderAbsent(name) => header_absent(name, live),
        Condition::HeaderValue { name, value } => header_value(name, value.as_str(), live),
        Condition::HstsMinMaxAge(min) => hsts_min_max_age(*min, live),
        Condition::CspRequires(wanted) => csp_requires(wanted, live),
        Condition::CertMinDaysLeft(min) => cert_min_days_left(*min, live),
        Condition::CertMinKey(key) => cert_min_key(*key, live),
        Condition::CertOcspStapled => cert_ocsp_stapled(live),
        Condition::CertMaxLifetime(limit) => cert_max_lifetime(*limit, live),
        Condition::CertMinRsaBits(min) => cert_min_rsa_bits(*min, live),
        Condition::CertNoSha1 => cert_no_sha1(live),
        Condition::PluginDeny(slugs) => plugin_deny(slugs, live),
        Condition::MinCoreVersion(min) => min_core_version(min, live),
        Condition::ChecksPass(names) => checks_pass(names, live),
    }
}

fn unobserved(why: String) -> Failure {
    Failure::new(
        why,
        "make the site answer over HTTPS with a certificate clients accept, then check again",
    )
}

fn header_present(name: &HeaderName, site: &Site, live: &LiveSite) -> Option<Failure> {
    let page = match headers::page(live) {
        Ok(p) => p,
        Err(why) => return Some(unobserved(why)),
    };
    if page.headers.contains_key(&name.lower()) {
        return None;
    }
    // The value the site itself wants, else one that passes the Observatory's test.
    let wanted = site.headers.iter().find_map(|(n, r)| match r {
        HeaderRule::Value(v) if n.lower() == name.lower() => Some(v.as_str().to_owned()),
        _ => None,
    });
    let advice = match wanted.or_else(|| advice::example(name.as_str()).map(str::to_owned)) {
        Some(value) => advice::send(name.as_str(), &value),
        None => format!(
            "send the header `{name}` on every response with the value your application needs \
             (nginx: `add_header {name} VALUE always;`, Apache: `Header always set {name} VALUE`), \
             or name the value under `headers:` in the site file"
        ),
    };
    Some(Failure::new(format!("`{name}` is not sent"), advice))
}

fn header_absent(name: &HeaderName, live: &LiveSite) -> Option<Failure> {
    let page = match headers::page(live) {
        Ok(p) => p,
        Err(why) => return Some(unobserved(why)),
    };
    let sent = page.header(&name.lower())?;
    Some(Failure::new(
        format!("`{name}` is sent (`{sent}`) but must not be"),
        format!(
            "stop sending `{name}`: remove it where the application sets it, or hide it in \
             the web server (nginx: `proxy_hide_header {name};` and `fastcgi_hide_header {name};`)"
        ),
    ))
}

fn header_value(name: &HeaderName, value: &str, live: &LiveSite) -> Option<Failure> {
    let page = match headers::page(live) {
        Ok(p) => p,
        Err(why) => return Some(unobserved(why)),
    };
    let lower = name.lower();
    let advice = advice::send(name.as_str(), value);
    match page.header(&lower) {
        None => Some(Failure::new(format!("`{name}` is not sent"), advice)),
        Some(sent) if normalise(&lower, &sent) == normalise(&lower, value) => None,
        Some(sent) => Some(Failure::new(
            format!("`{name}` is `{sent}`, not `{value}`"),
            advice,
        )),
    }
}

fn hsts_min_max_age(min: u64, live: &LiveSite) -> Option<Failure> {
    let page = match headers::page(live) {
        Ok(p) => p,
        Err(why) => return Some(unobserved(why)),
    };
    let value = format!("max-age={min}; includeSubDomains");
    let advice = advice::send("Strict-Transport-Security", &value);
    let message = match headers::first(page, "strict-transport-security") {
        None => "`Strict-Transport-Security` is not sent".to_owned(),
        Some(sent) => match headers::hsts_max_age(sent) {
            Some(age) if age >= min => return None,
            Some(age) => format!(
                "`Strict-Transport-Security` max-age is {age} s, below the required {min} s"
            ),
            None => format!("`Strict-Transport-Security: {sent}` has no valid max-age"),
        },
    };
    Some(Failure::new(message, advice))
}

fn csp_requires(wanted: &BTreeMap<String, Vec<String>>, live: &LiveSite) -> Option<Failure> {
    let page = match headers::page(live) {
        Ok(p) => p,
        Err(why) => return Some(unobserved(why)),
    };
    let policies = headers::csps(page);
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    for (directive, sources) in wanted {
        let directive = directive.to_ascii_lowercase();
        // One enforced policy with the directive and every listed source satisfies it.
        let found: Vec<&Vec<String>> = policies.iter().filter_map(|p| p.get(&directive)).collect();
        if found.is_empty() {
            problems.push(format!("no `{directive}` directive"));
        } else if !found
            .iter()
            .any(|have| sources.iter().all(|s| has_source(have, s)))
        {
            let missing: Vec<&str> = sources
                .iter()
                .filter(|s| !has_source(found[0], s))
                .map(String::as_str)
                .collect();
            problems.push(format!("`{directive}` lacks {}", missing.join(" ")));
        } else {
            continue;
        }
        fixes.push(if sources.is_empty() {
            format!("a `{directive}` directive")
        } else {
            format!("`{directive} {}`", sources.join(" "))
        });
    }
    if problems.is_empty() {
        return None;
    }
    let message = if policies.is_empty() {
        "`Content-Security-Policy` is not sent".to_owned()
    } else {
        format!("`Content-Security-Policy`: {}", problems.join("; "))
    };
    Some(Failure::new(
        message,
        format!("add {} to `Content-Security-Policy`", fixes.join(" and ")),
    ))
}

fn no_certificate(live: &LiveSite) -> Failure {
    let why = live.https_refused.as_deref().map_or_else(
        || "no certificate was observed (the site is not served over HTTPS)".to_owned(),
        |r| format!("no certificate was observed ({r})"),
    );
    Failure::new(
        why,
        "serve the site over HTTPS with a certificate from a trusted CA",
    )
}

fn cert_min_days_left(min: u32, live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    if tls.days_left >= i64::from(min) {
        return None;
    }
    let when = if tls.days_left < 0 {
        format!("expired {} day(s) ago", -tls.days_left)
    } else {
        format!("expires in {} day(s)", tls.days_left)
    };
    Some(Failure::new(
        format!(
            "the certificate {when} ({}); at least {min} day(s) are required",
            tls.leaf.not_after
        ),
        "renew the certificate now and automate renewal (`manage.certificate: {provider: acme}`)",
    ))
}

fn cert_min_key(min: KeyType, live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    let need = strength::required_bits(min);
    let key = &tls.leaf.key;
    let message = match strength::observed_bits(key) {
        Some(bits) if bits >= need => return None,
        Some(bits) => format!(
            "the certificate key `{key}` ({bits}-bit security) is weaker than the required \
             `{min}` ({need}-bit)"
        ),
        None => format!("the certificate key `{key}` is of an unknown type; `{min}` is required"),
    };
    Some(Failure::new(
        message,
        format!(
            "reissue the certificate with a `{}` key (or another at least as strong as `{min}`)",
            strength::suggestion(need)
        ),
    ))
}

fn cert_ocsp_stapled(live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    match (tls.ocsp_stapled, &tls.leaf.ocsp_responder) {
        (Some(true), _) => tls
            .ocsp
            .as_ref()
            .and_then(|r| stapled_response(r, Utc::now())),
        (None, _) => Some(Failure::new(
            "OCSP stapling was not observed (the certificate was not seen in a handshake)",
            "make the site answer over HTTPS, then check again",
        )),
        (Some(false), Some(url)) => Some(Failure::new(
            format!(
                "the server staples no OCSP response although the certificate names the \
                 responder {url}"
            ),
            "turn stapling on (nginx: `ssl_stapling on; ssl_stapling_verify on;` and a \
             `resolver`; Apache: `SSLUseStapling on` with an `SSLStaplingCache`)",
        )),
        (Some(false), None) => Some(Failure::new(
            "the server staples no OCSP response, and the certificate names no OCSP responder \
             to fetch one from",
            "use a CA that runs an OCSP responder and turn stapling on (nginx: `ssl_stapling \
             on;`), serve a response fetched separately (nginx: `ssl_stapling_file`), or drop \
             the rule for certificates without one",
        )),
    }
}

/// What is wrong with a stapled response at `now`: unreadable, not good, or outside the window
/// it is valid in (five minutes of clock skew allowed).
fn stapled_response(
    read: &Result<crate::probe::ocsp::Stapled, String>,
    now: DateTime<Utc>,
) -> Option<Failure> {
    use crate::probe::ocsp::CertStatus;
    const FIX: &str = "let the server fetch fresh responses (nginx: `ssl_stapling on; \
                       ssl_stapling_verify on;` and a `resolver`, not a fixed \
                       `ssl_stapling_file`; Apache: `SSLUseStapling on`)";
    let skew = chrono::Duration::minutes(5);
    let stapled = match read {
        Ok(s) => s,
        Err(why) => {
            return Some(Failure::new(
                format!("the stapled OCSP response cannot be used: {why}"),
                FIX,
            ));
        }
    };
    match &stapled.status {
        CertStatus::Revoked(at) => {
            return Some(Failure::new(
                format!("the stapled OCSP response says the certificate was revoked at {at}"),
                "replace the certificate now: clients that check stapled responses refuse it",
            ));
        }
        CertStatus::Unknown => {
            return Some(Failure::new(
                "the stapled OCSP response says the responder does not know the certificate",
                FIX,
            ));
        }
        CertStatus::Good => {}
    }
    if stapled.this_update > now + skew {
        return Some(Failure::new(
            format!(
                "the stapled OCSP response is not valid yet (thisUpdate {})",
                stapled.this_update.to_rfc3339()
            ),
            "check the clocks of the server and the OCSP responder",
        ));
    }
    match stapled.next_update {
        Some(next) if next + skew < now => Some(Failure::new(
            format!(
                "the stapled OCSP response is stale: its nextUpdate {} has passed",
                next.to_rfc3339()
            ),
            FIX,
        )),
        _ => None,
    }
}

fn cert_max_lifetime(limit: LifetimeLimit, live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    let leaf = &tls.leaf;
    let lifetime = lifetime_days(leaf);
    let (max, whose) = match limit {
        LifetimeLimit::Cabf => (
            max_lifetime_days(leaf.not_before_unix),
            " the CA/Browser Forum allows for certificates issued then",
        ),
        LifetimeLimit::Days(days) => (i64::from(days), " the policy allows"),
    };
    if lifetime <= max {
        return None;
    }
    Some(Failure::new(
        format!(
            "the certificate is valid for {lifetime} days ({} to {}), more than the {max} \
             days{whose}",
            leaf.not_before, leaf.not_after
        ),
        format!(
            "reissue it for at most {max} days (ACME CAs issue short-lived certificates; \
             `manage.certificate: {{provider: acme}}` renews them automatically)"
        ),
    ))
}

fn cert_min_rsa_bits(min: u32, live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    let bits = rsa_bits(&tls.leaf).filter(|b| *b < min)?;
    Some(Failure::new(
        format!("the certificate's RSA key has {bits} bits, fewer than the required {min}"),
        format!(
            "reissue the certificate with an RSA key of at least {min} bits, or an `ecdsa-p256` \
             key (`certificate.key` in the site file)"
        ),
    ))
}

fn cert_no_sha1(live: &LiveSite) -> Option<Failure> {
    let Some(tls) = &live.tls else {
        return Some(no_certificate(live));
    };
    if !sha1_signed(&tls.leaf) {
        return None;
    }
    Some(Failure::new(
        format!(
            "the certificate is signed with SHA-1 (`{}`), which browsers refuse",
            tls.leaf.signature
        ),
        "reissue the certificate from a CA that signs with SHA-256 or stronger",
    ))
}

fn plugin_deny(slugs: &[String], live: &LiveSite) -> Option<Failure> {
    let software = live.software.as_ref()?;
    let found: Vec<&str> = slugs
        .iter()
        .filter(|s| software.plugins.get(*s).is_some_and(|d| d.found))
        .map(String::as_str)
        .collect();
    if found.is_empty() {
        return None;
    }
    let listed = found
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Failure::new(
        format!("denied plugin(s) installed: {listed}"),
        format!(
            "remove them (`wp plugin delete {}`) and write {} under `software.plugins` in the \
             site file so siteward keeps them out",
            found.join(" "),
            found
                .iter()
                .map(|s| format!("`{s}: absent`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

fn min_core_version(min: &Version, live: &LiveSite) -> Option<Failure> {
    let advice = format!("update core to {min} or later (`wp core update --version={min}`)");
    let Some(software) = &live.software else {
        return Some(Failure::new(
            format!(
                "the core version was not observed, so it cannot be shown to be at least {min}"
            ),
            "set `software.platform: wordpress` on the site so siteward fingerprints it",
        ));
    };
    let core = &software.core;
    let message = match core.version.as_deref().map(str::parse::<Version>) {
        Some(Ok(v)) if v >= *min => return None,
        Some(Ok(v)) => format!("core {v} is older than the required {min}"),
        Some(Err(_)) | None => format!(
            "the core version cannot be told ({}), so it cannot be shown to be at least {min}",
            core.unknown_reason.as_deref().unwrap_or("no evidence")
        ),
    };
    Some(Failure::new(message, advice))
}

fn checks_pass(names: &[String], live: &LiveSite) -> Option<Failure> {
    let mut problems = Vec::new();
    let mut undefined = false;
    if names.is_empty() {
        problems.extend(live.checks.iter().filter(|c| !c.ok).map(|c| {
            format!(
                "check `{}` failed: {}",
                c.name,
                c.message.as_deref().unwrap_or("no reason given")
            )
        }));
    }
    for name in names {
        match live.checks.iter().find(|c| &c.name == name) {
            Some(c) if c.ok => {}
            Some(c) => problems.push(format!(
                "check `{name}` failed: {}",
                c.message.as_deref().unwrap_or("no reason given")
            )),
            None => {
                undefined = true;
                problems.push(format!("check `{name}` is not defined for this site"));
            }
        }
    }
    if problems.is_empty() {
        return None;
    }
    let advice = if undefined {
        "define the missing check under `checks:` in the site file, and fix any failing one"
    } else {
        "fix what the failing check reports, then run `siteward check` again"
    };
    Some(Failure::new(problems.join("; "), advice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::live::{CertInfo, Detected, Page, SoftwareObservation, TlsObservation};
    use crate::plan::CheckOutcome;

    /// A site named `a.test` with the given `headers:` lines.
    fn site_with(headers: &str) -> Site {
        let yaml = format!("name: a.test\nurl: https://a.test/\n{headers}");
        let (state, problems) = crate::load::load_sources(&[crate::load::Source {
            path: "sites/a.test.yaml".into(),
            text: yaml,
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    /// [`super::evaluate`] for a site without desired headers.
    fn evaluate(c: &Condition, l: &LiveSite) -> Option<Failure> {
        super::evaluate(c, &site_with(""), l)
    }

    fn live(headers: &[(&str, &str)]) -> LiveSite {
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
        LiveSite {
            site: "a.test".into(),
            page: Some(page),
            ..LiveSite::default()
        }
    }

    fn tls(key: &str, days_left: i64) -> LiveSite {
        LiveSite {
            tls: Some(TlsObservation {
                leaf: CertInfo {
                    key: key.into(),
                    not_after: "2030-01-01T00:00:00Z".into(),
                    ..CertInfo::default()
                },
                trusted: true,
                host_match: true,
                days_left,
                ..TlsObservation::default()
            }),
            ..live(&[])
        }
    }

    fn name(s: &str) -> HeaderName {
        s.parse().expect("header name")
    }

    fn fails(c: &Condition, l: &LiveSite) -> String {
        evaluate(c, l).map(|f| f.message).unwrap_or_default()
    }

    #[test]
    fn header_present_is_case_insensitive() {
        let c = Condition::HeaderPresent(name("X-Frame-Options"));
        assert!(evaluate(&c, &live(&[("x-frame-options", "DENY")])).is_none());
        let f = evaluate(&c, &live(&[])).expect("fails");
        assert_eq!(f.message, "`X-Frame-Options` is not sent");
        // A value that passes the Observatory's test, for nginx, Apache and `_headers`.
        assert!(
            f.advice
                .contains("add_header X-Frame-Options \"DENY\" always;"),
            "{}",
            f.advice
        );
        assert!(
            f.advice
                .contains("Header always set X-Frame-Options \"DENY\"")
        );
        assert!(f.advice.contains("`_headers`: `  X-Frame-Options: DENY`"));
        assert!(!f.advice.contains('…'));
        // The site's own desired value wins.
        let own = site_with("headers:\n  Permissions-Policy: camera=()\n");
        let pp = Condition::HeaderPresent(name("Permissions-Policy"));
        let f = super::evaluate(&pp, &own, &live(&[])).expect("fails");
        assert!(
            f.advice.contains("Permissions-Policy: camera=()"),
            "{}",
            f.advice
        );
    }

    #[test]
    fn header_absent_names_the_value_sent() {
        let c = Condition::HeaderAbsent(name("X-Powered-By"));
        assert!(evaluate(&c, &live(&[])).is_none());
        assert!(fails(&c, &live(&[("X-Powered-By", "PHP/8.2")])).contains("`PHP/8.2`"));
    }

    #[test]
    fn header_value_compares_normalised_values() {
        let c = Condition::HeaderValue {
            name: name("Strict-Transport-Security"),
            value: "max-age=31536000; includeSubDomains"
                .parse()
                .expect("value"),
        };
        let same = live(&[(
            "Strict-Transport-Security",
            "includesubdomains;  max-age=31536000",
        )]);
        assert!(evaluate(&c, &same).is_none());
        let f = evaluate(&c, &live(&[("Strict-Transport-Security", "max-age=1")])).expect("f");
        assert!(
            f.message
                .contains("not `max-age=31536000; includeSubDomains`")
        );
        assert!(f.advice.contains("add_header Strict-Transport-Security"));
    }

    #[test]
    fn header_conditions_fail_when_https_was_refused() {
        let refused = LiveSite {
            page: None,
            https_refused: Some("certificate expired".into()),
            ..live(&[])
        };
        let c = Condition::HeaderAbsent(name("Server"));
        assert!(fails(&c, &refused).contains("certificate expired"));
    }

    #[test]
    fn hsts_min_max_age_parses_the_header() {
        let c = Condition::HstsMinMaxAge(31_536_000);
        let ok = live(&[("Strict-Transport-Security", "max-age=63072000; preload")]);
        assert!(evaluate(&c, &ok).is_none());
        let short = live(&[("Strict-Transport-Security", "max-age=300")]);
        assert_eq!(
            fails(&c, &short),
            "`Strict-Transport-Security` max-age is 300 s, below the required 31536000 s"
        );
        assert!(fails(&c, &live(&[])).contains("not sent"));
        let broken = live(&[("Strict-Transport-Security", "includeSubDomains")]);
        assert!(fails(&c, &broken).contains("no valid max-age"));
    }

    #[test]
    fn csp_requires_directives_and_listed_sources() {
        let wanted: BTreeMap<String, Vec<String>> = [
            ("default-src".to_owned(), vec!["'self'".to_owned()]),
            ("frame-ancestors".to_owned(), vec![]),
        ]
        .into();
        let c = Condition::CspRequires(wanted);
        let good = live(&[(
            "Content-Security-Policy",
            "DEFAULT-SRC 'SELF' cdn.test; frame-ancestors 'none'",
        )]);
        assert!(evaluate(&c, &good).is_none());
        let f = evaluate(
            &c,
            &live(&[("Content-Security-Policy", "default-src cdn.test")]),
        )
        .expect("fails");
        assert_eq!(
            f.message,
            "`Content-Security-Policy`: `default-src` lacks 'self'; no `frame-ancestors` directive"
        );
        assert_eq!(
            f.advice,
            "add `default-src 'self'` and a `frame-ancestors` directive to `Content-Security-Policy`"
        );
        assert!(fails(&c, &live(&[])).contains("is not sent"));
        // Report-only policies are not enforced, so they do not count.
        let report_only = live(&[(
            "Content-Security-Policy-Report-Only",
            "default-src 'self'; frame-ancestors 'none'",
        )]);
        assert!(evaluate(&c, &report_only).is_some());
    }

    #[test]
    fn cert_min_days_left_counts_whole_days() {
        let c = Condition::CertMinDaysLeft(14);
        assert!(evaluate(&c, &tls("ecdsa-p256", 14)).is_none());
        assert!(fails(&c, &tls("ecdsa-p256", 13)).contains("expires in 13 day(s)"));
        assert!(fails(&c, &tls("ecdsa-p256", -2)).contains("expired 2 day(s) ago"));
        assert!(fails(&c, &live(&[])).contains("no certificate"));
    }

    /// A certificate valid from `from` (UNIX seconds) for `days` days.
    fn issued(from: i64, days: i64) -> LiveSite {
        let mut l = tls("ecdsa-p256", 30);
        if let Some(t) = &mut l.tls {
            t.leaf.not_before_unix = from;
            t.leaf.not_after_unix = from + days * 86_400;
        }
        l
    }

    #[test]
    fn cert_max_lifetime_follows_the_schedule_at_the_issue_date() {
        let cabf = Condition::CertMaxLifetime(LifetimeLimit::Cabf);
        let march_2026 = 1_773_532_800;
        assert!(evaluate(&cabf, &issued(march_2026 - 1, 398)).is_none());
        let f = evaluate(&cabf, &issued(march_2026 - 1, 399)).expect("too long");
        assert!(
            f.message.contains("399 days")
                && f.message
                    .contains("more than the 398 days the CA/Browser Forum"),
            "{}",
            f.message
        );
        assert!(evaluate(&cabf, &issued(march_2026, 200)).is_none());
        assert!(fails(&cabf, &issued(march_2026, 201)).contains("more than the 200 days"));
        assert!(fails(&cabf, &issued(1_805_068_800, 101)).contains("the 100 days"));
        assert!(evaluate(&cabf, &issued(1_868_227_200, 47)).is_none());
        let f = evaluate(&cabf, &issued(1_868_227_200, 48)).expect("too long");
        assert!(f.message.contains("the 47 days"), "{}", f.message);
        assert!(f.advice.contains("at most 47 days"), "{}", f.advice);
        let days = Condition::CertMaxLifetime(LifetimeLimit::Days(90));
        assert!(evaluate(&days, &issued(march_2026, 90)).is_none());
        assert!(fails(&days, &issued(march_2026, 91)).contains("90 days the policy allows"));
        assert!(fails(&days, &live(&[])).contains("no certificate"));
    }

    #[test]
    fn cert_min_rsa_bits_judges_rsa_keys_only() {
        let c = Condition::CertMinRsaBits(2048);
        assert!(evaluate(&c, &tls("rsa-2048", 90)).is_none());
        assert!(evaluate(&c, &tls("ecdsa-p256", 90)).is_none());
        let f = evaluate(&c, &tls("rsa-1024", 90)).expect("weak");
        assert_eq!(
            f.message,
            "the certificate's RSA key has 1024 bits, fewer than the required 2048"
        );
        assert!(f.advice.contains("at least 2048 bits"));
        assert!(evaluate(&Condition::CertMinRsaBits(3072), &tls("rsa-2048", 90)).is_some());
        assert!(fails(&c, &live(&[])).contains("no certificate"));
    }

    #[test]
    fn cert_no_sha1_names_the_signature() {
        let mut l = tls("rsa-2048", 90);
        if let Some(t) = &mut l.tls {
            t.leaf.signature = "sha256-rsa".into();
        }
        assert!(evaluate(&Condition::CertNoSha1, &l).is_none());
        if let Some(t) = &mut l.tls {
            t.leaf.signature = "sha1-rsa".into();
        }
        assert_eq!(
            fails(&Condition::CertNoSha1, &l),
            "the certificate is signed with SHA-1 (`sha1-rsa`), which browsers refuse"
        );
        assert!(fails(&Condition::CertNoSha1, &live(&[])).contains("no certificate"));
    }

    #[test]
    fn cert_ocsp_stapled_needs_a_stapled_response() {
        let c = Condition::CertOcspStapled;
        let mut l = tls("ecdsa-p256", 90);
        let set = |l: &mut LiveSite, stapled: Option<bool>, responder: Option<&str>| {
            if let Some(t) = &mut l.tls {
                t.ocsp_stapled = stapled;
                t.leaf.ocsp_responder = responder.map(str::to_owned);
            }
        };
        set(&mut l, Some(true), None);
        assert!(evaluate(&c, &l).is_none());
        set(&mut l, Some(false), Some("http://ocsp.ca.test/"));
        let f = evaluate(&c, &l).expect("not stapled");
        assert!(
            f.message.contains("responder http://ocsp.ca.test/"),
            "{}",
            f.message
        );
        assert!(f.advice.contains("ssl_stapling on;"), "{}", f.advice);
        set(&mut l, Some(false), None);
        let f = evaluate(&c, &l).expect("not stapled");
        assert!(
            f.message.contains("names no OCSP responder"),
            "{}",
            f.message
        );
        assert!(f.advice.contains("ssl_stapling_file"), "{}", f.advice);
        set(&mut l, None, None);
        assert!(fails(&c, &l).contains("not observed"));
        assert!(fails(&c, &live(&[])).contains("no certificate"));
    }

    #[test]
    fn cert_min_key_orders_by_security_bits() {
        let c = Condition::CertMinKey(KeyType::Rsa3072);
        assert!(evaluate(&c, &tls("ecdsa-p256", 90)).is_none());
        assert!(evaluate(&c, &tls("rsa-4096", 90)).is_none());
        let f = evaluate(&c, &tls("rsa-2048", 90)).expect("weaker");
        assert!(f.message.contains("112-bit"), "{}", f.message);
        assert!(f.advice.contains("`ecdsa-p256`"));
        let strict = Condition::CertMinKey(KeyType::EcdsaP384);
        assert!(evaluate(&strict, &tls("ecdsa-p256", 90)).is_some());
        assert!(fails(&strict, &tls("dsa-1024", 90)).contains("unknown type"));
    }

    fn wordpress(core: Option<&str>, plugins: &[&str]) -> LiveSite {
        let found = Detected {
            found: true,
            ..Detected::default()
        };
        LiveSite {
            software: Some(SoftwareObservation {
                core: Detected {
                    version: core.map(str::to_owned),
                    unknown_reason: core.is_none().then(|| "no evidence".to_owned()),
                    ..Detected::default()
                },
                plugins: plugins
                    .iter()
                    .map(|p| ((*p).to_owned(), found.clone()))
                    .chain([("probed-absent".to_owned(), Detected::default())])
                    .collect(),
                themes: BTreeMap::new(),
                source: None,
            }),
            ..live(&[])
        }
    }

    #[test]
    fn plugin_deny_reports_found_plugins_only() {
        let c = Condition::PluginDeny(vec!["wp-file-manager".into(), "probed-absent".into()]);
        assert!(evaluate(&c, &wordpress(Some("6.4"), &[])).is_none());
        let f = evaluate(&c, &wordpress(Some("6.4"), &["wp-file-manager"])).expect("denied");
        assert_eq!(f.message, "denied plugin(s) installed: `wp-file-manager`");
        assert!(f.advice.contains("wp plugin delete wp-file-manager"));
        // Nothing observed: nothing denied was seen.
        assert!(evaluate(&c, &live(&[])).is_none());
    }

    #[test]
    fn min_core_version_needs_a_known_recent_enough_version() {
        let c = Condition::MinCoreVersion("6.4".parse().expect("version"));
        assert!(evaluate(&c, &wordpress(Some("6.4.3"), &[])).is_none());
        assert!(evaluate(&c, &wordpress(Some("6.4"), &[])).is_none());
        assert_eq!(
            fails(&c, &wordpress(Some("6.3.2"), &[])),
            "core 6.3.2 is older than the required 6.4"
        );
        assert!(fails(&c, &wordpress(None, &[])).contains("cannot be told (no evidence)"));
        assert!(fails(&c, &live(&[])).contains("not observed"));
    }

    fn outcome(name: &str, ok: bool) -> CheckOutcome {
        CheckOutcome {
            name: name.into(),
            ok,
            status: Some(if ok { 200 } else { 500 }),
            ms: Some(5),
            message: (!ok).then(|| "status 500, expected 200".to_owned()),
        }
    }

    #[test]
    fn checks_pass_by_name_or_all() {
        let l = LiveSite {
            checks: vec![outcome("home", true), outcome("checkout", false)],
            ..live(&[])
        };
        assert!(evaluate(&Condition::ChecksPass(vec!["home".into()]), &l).is_none());
        assert_eq!(
            fails(&Condition::ChecksPass(vec![]), &l),
            "check `checkout` failed: status 500, expected 200"
        );
        let f = evaluate(&Condition::ChecksPass(vec!["login".into()]), &l).expect("undefined");
        assert_eq!(f.message, "check `login` is not defined for this site");
        assert!(f.advice.contains("define the missing check"));
        assert!(evaluate(&Condition::ChecksPass(vec![]), &live(&[])).is_none());
    }
}
