//! Certificate drift. Every https site implicitly wants a chain that is complete, trusted, valid
//! for its host and not expired; `certificate:` adds a renewal threshold, domains and a key.
//! Each change's `live` value starts with why it is planned, in the user's words: `untrusted`,
//! `host mismatch`, `expired`, `expiring`, `not covered` or `key type differs`.

use super::{Desired, change};
use crate::canon::Canon;
use crate::observe::live::{CertInfo, TlsObservation};
use crate::plan::{Action, Change, Resource};

fn min_days(d: &Desired<'_>) -> i64 {
    d.site
        .certificate
        .as_ref()
        .map_or(0, |c| i64::from(c.min_days_left))
}

fn expiry_want(d: &Desired<'_>) -> String {
    match min_days(d) {
        0 => "not expired".to_owned(),
        n => format!(">= {n} days left"),
    }
}

fn host(d: &Desired<'_>) -> String {
    d.site.url.host().to_ascii_lowercase()
}

fn domains(d: &Desired<'_>) -> Vec<String> {
    let mut v: Vec<String> = d
        .site
        .certificate
        .iter()
        .flat_map(|c| c.domains.iter().map(|s| s.to_ascii_lowercase()))
        .collect();
    v.sort();
    v
}

/// Whether trust is expected: `insecure_skip_verify` waives it (and is warned about).
fn wants_trust(d: &Desired<'_>) -> bool {
    !d.site.insecure_skip_verify
}

/// Desired certificate, canonical.
pub fn desired(d: &Desired<'_>) -> Canon {
    let mut c = Canon::map()
        .with("host-name", format!("valid for {}", host(d)))
        .with("expiry", expiry_want(d));
    if wants_trust(d) {
        c = c.with("chain", "complete").with("trust", "trusted");
    }
    if let Some(spec) = &d.site.certificate {
        if !spec.domains.is_empty() {
            c = c.with("domains", domains(d));
        }
        if let Some(k) = spec.key {
            c = c.with("key", k.as_str());
        }
    }
    c
}

/// The live certificate in the same shape (the expiry date shows only when renewal is due, so
/// the rendering does not tick daily).
pub fn live(d: &Desired<'_>, t: &TlsObservation) -> Canon {
    let expiry = if t.days_left >= min_days(d) {
        expiry_want(d)
    } else {
        format!("expires {}", t.leaf.not_after)
    };
    let mut c = Canon::map();
    if wants_trust(d) {
        let chain = if t.missing_intermediate {
            "intermediate missing"
        } else {
            "complete"
        };
        c = c
            .with("chain", chain)
            .with("trust", if t.trusted { "trusted" } else { "untrusted" });
    }
    c = c
        .with(
            "host-name",
            format!(
                "{} for {}",
                if t.host_match { "valid" } else { "not valid" },
                host(d)
            ),
        )
        .with("expiry", expiry);
    if let Some(spec) = &d.site.certificate {
        if !spec.domains.is_empty() {
            let covered: Vec<String> = domains(d)
                .into_iter()
                .filter(|dom| covers(&t.leaf.sans, dom))
                .collect();
            c = c.with("domains", covered);
        }
        if spec.key.is_some() {
            c = c.with("key", t.leaf.key.as_str());
        }
    }
    c
}

/// One change per certificate problem.
pub fn changes(d: &Desired<'_>, t: &TlsObservation, refused: Option<&str>) -> Vec<Change> {
    let mut out = Vec::new();
    let make = |key: &str, action, live: Option<String>, want: Option<String>| {
        change(d, Resource::Certificate, key.to_owned(), action, live, want)
    };
    let trust = wants_trust(d);
    if trust && t.missing_intermediate {
        out.push(make(
            "chain",
            Action::Change,
            Some(format!("intermediate missing (issuer {})", t.leaf.issuer)),
            Some("complete chain".into()),
        ));
    } else if trust && !t.trusted {
        let why = t.verify_error.as_deref().unwrap_or("no trusted root");
        out.push(make(
            "trust",
            Action::Change,
            Some(format!("untrusted: {why}")),
            Some("trusted".into()),
        ));
    }
    if !t.host_match {
        out.push(make(
            "host-name",
            Action::Change,
            Some(format!(
                "host mismatch: valid for {}",
                t.leaf.sans.join(", ")
            )),
            Some(format!("valid for {}", host(d))),
        ));
    }
    if t.days_left < min_days(d) {
        out.push(make(
            "expiry",
            Action::Change,
            Some(expiry_live(t, min_days(d))),
            Some(expiry_want(d)),
        ));
    }
    if let Some(spec) = &d.site.certificate {
        for dom in domains(d) {
            if !covers(&t.leaf.sans, &dom) {
                out.push(make(
                    &format!("domain:{dom}"),
                    Action::Add,
                    Some(format!(
                        "not covered (the certificate names {})",
                        t.leaf.sans.join(", ")
                    )),
                    Some(dom.clone()),
                ));
            }
        }
        if let Some(k) = spec.key.filter(|k| k.as_str() != t.leaf.key) {
            out.push(make(
                "key",
                Action::Change,
                Some(format!("key type differs: {}", t.leaf.key)),
                Some(k.as_str().into()),
            ));
        }
    }
    if out.is_empty()
        && let Some(why) = refused
    {
        out.push(make(
            "trust",
            Action::Change,
            Some(format!("refused: {why}")),
            Some("trusted".into()),
        ));
    }
    out
}

/// The CA/Browser Forum's maximum lifetime of a TLS certificate, in days, by issue date (UTC
/// seconds): 398 days before 2026-03-15, then 200, 100 from 2027-03-15, 47 from 2029-03-15.
pub fn max_lifetime_days(not_before_unix: i64) -> i64 {
    const STEPS: [(i64, i64); 3] = [
        (1_773_532_800, 200), // 2026-03-15
        (1_805_068_800, 100), // 2027-03-15
        (1_868_227_200, 47),  // 2029-03-15
    ];
    STEPS
        .iter()
        .rev()
        .find(|(from, _)| not_before_unix >= *from)
        .map_or(398, |(_, days)| *days)
}

/// The certificate's lifetime in whole days (`not_after - not_before`, rounded down).
pub fn lifetime_days(leaf: &CertInfo) -> i64 {
    leaf.not_after_unix
        .saturating_sub(leaf.not_before_unix)
        .div_euclid(86_400)
}

/// The key size of an RSA certificate key (`rsa-2048` → 2048), `None` for other keys.
pub fn rsa_bits(leaf: &CertInfo) -> Option<u32> {
    leaf.key.strip_prefix("rsa-").and_then(|b| b.parse().ok())
}

/// Whether the certificate is signed with SHA-1.
pub fn sha1_signed(leaf: &CertInfo) -> bool {
    leaf.signature.starts_with("sha1")
}

/// What is wrong with the served certificate although it is no drift to fix by itself: a
/// lifetime beyond the CA/Browser Forum maximum at its issue date, an RSA key under 2048 bits,
/// a SHA-1 signature, a renewal threshold (`min_days_left`) above a third of the lifetime the
/// CA issues, and no stapled OCSP response although the certificate names a responder. Plan
/// warnings.
///
/// Missing stapling is warned about only when the certificate names an OCSP responder: then
/// every client that checks revocation asks the CA on each visit. CAs without a responder
/// (Let's Encrypt since 2025) make no stapling the normal case; a policy that wants stapling
/// says so with `cert_ocsp_stapled: true`.
pub fn warnings(d: &Desired<'_>, t: &TlsObservation) -> Vec<String> {
    let leaf = &t.leaf;
    let mut out = Vec::new();
    let lifetime = lifetime_days(leaf);
    let max = max_lifetime_days(leaf.not_before_unix);
    if lifetime > max {
        out.push(format!(
            "the certificate is valid for {lifetime} days (from {}), more than the {max} days the \
             CA/Browser Forum allows for certificates issued then; browsers may refuse it",
            leaf.not_before
        ));
    }
    if let Some(bits) = rsa_bits(leaf).filter(|b| *b < 2048) {
        out.push(format!(
            "the certificate's RSA key has {bits} bits, fewer than 2048: replace it"
        ));
    }
    if sha1_signed(leaf) {
        out.push("the certificate is signed with SHA-1, which browsers refuse: replace it".into());
    }
    if let Some(advice) = renewal_advice(min_days(d), lifetime) {
        out.push(advice);
    }
    if let (Some(false), Some(url)) = (t.ocsp_stapled, &leaf.ocsp_responder) {
        out.push(format!(
            "the server staples no OCSP response although the certificate names the responder \
             {url}: clients ask the CA on every visit (nginx: `ssl_stapling on; \
             ssl_stapling_verify on;` with a `resolver`)"
        ));
    }
    out
}

/// Advice when `min_days_left` does not suit the lifetime the CA issues: at or above it every
/// run renews; above a third of it renewals come needlessly early. The plan says it for the
/// served certificate, an apply for the one it just issued.
pub fn renewal_advice(min_days: i64, lifetime: i64) -> Option<String> {
    let third = lifetime / 3;
    if lifetime <= 0 || min_days <= third {
        None
    } else if min_days >= lifetime {
        Some(format!(
            "the CA issues certificates valid for {lifetime} days, no more than \
             `min_days_left: {min_days}`, so every run renews; set `min_days_left` to about \
             {third}"
        ))
    } else {
        Some(format!(
            "`min_days_left: {min_days}` is more than a third of the {lifetime}-day lifetime the \
             CA issues, so it is renewed every {} days; about {third} leaves time to retry \
             without renewing early",
            lifetime - min_days
        ))
    }
}

/// Why the expiry is planned: `expired: …` or `expiring: …` with the renewal threshold.
fn expiry_live(t: &TlsObservation, min_days: i64) -> String {
    if t.days_left < 0 {
        format!(
            "expired: {} ({} days ago)",
            t.leaf.not_after,
            t.days_left.unsigned_abs()
        )
    } else {
        format!(
            "expiring: {} days left (expires {}), renewal due below {min_days}",
            t.days_left, t.leaf.not_after
        )
    }
}

/// Whether `host` is covered by one of `sans` (a leftmost `*.` label matches one label).
pub fn covers(sans: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    sans.iter().any(|san| {
        let san = san.trim_end_matches('.');
        match san.strip_prefix("*.") {
            Some(base) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == base),
            None => san == host,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site `a.test` with the given `certificate:` block (none when empty).
    fn site(certificate: &str) -> crate::spec::Site {
        let (state, problems) = crate::load::load_sources(&[crate::load::Source {
            path: "sites/a.test.yaml".into(),
            text: format!("name: a.test\nurl: https://a.test/\n{certificate}"),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    fn warned(certificate: &str, t: &TlsObservation) -> Vec<String> {
        let site = site(certificate);
        let d = Desired {
            site: &site,
            secrets: &Default::default(),
            run: &Default::default(),
        };
        warnings(&d, t)
    }

    #[test]
    fn schedule_boundaries() {
        let day = 86_400;
        // 2026-03-15, 2027-03-15 and 2029-03-15 00:00:00 UTC.
        for (from, before, after) in [
            (1_773_532_800, 398, 200),
            (1_805_068_800, 200, 100),
            (1_868_227_200, 100, 47),
        ] {
            assert_eq!(max_lifetime_days(from - 1), before);
            assert_eq!(max_lifetime_days(from), after);
            assert_eq!(max_lifetime_days(from + day), after);
        }
        assert_eq!(max_lifetime_days(0), 398);
        assert_eq!(max_lifetime_days(4_102_444_800), 47);
    }

    #[test]
    fn lifetime_weak_keys_and_sha1_are_warned_about() {
        let day = 86_400;
        let mut t = TlsObservation::default();
        t.leaf.key = "ecdsa-p256".into();
        t.leaf.signature = "ecdsa-sha256".into();
        // 2026-03-14: 398 days allowed; 2026-03-15: 200; 2029-03-15: 47.
        t.leaf.not_before_unix = 1_773_446_400;
        t.leaf.not_after_unix = t.leaf.not_before_unix + 398 * day;
        assert!(warned("", &t).is_empty());
        t.leaf.not_before_unix = 1_773_532_800;
        t.leaf.not_after_unix = t.leaf.not_before_unix + 398 * day;
        let w = warned("", &t);
        assert!(
            w[0].contains("more than the 200 days the CA/Browser Forum allows"),
            "{w:?}"
        );
        t.leaf.not_before_unix = 1_868_227_200;
        t.leaf.not_after_unix = t.leaf.not_before_unix + 90 * day;
        assert!(warned("", &t)[0].contains("more than the 47 days"));
        t.leaf.not_after_unix = t.leaf.not_before_unix + 47 * day;
        t.leaf.key = "rsa-1024".into();
        t.leaf.signature = "sha1-rsa".into();
        let w = warned("", &t);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("1024 bits") && w[1].contains("SHA-1"),
            "{w:?}"
        );
    }

    #[test]
    fn renewal_above_a_third_of_the_lifetime_is_advised_against() {
        let mut t = TlsObservation::default();
        t.leaf.key = "ecdsa-p256".into();
        t.leaf.not_before_unix = 1_868_227_200;
        t.leaf.not_after_unix = t.leaf.not_before_unix + 47 * 86_400;
        // The default threshold (21 days) is more than a third of 47 days.
        let w = warned("certificate:\n  domains: [a.test]\n", &t);
        assert_eq!(
            w,
            [
                "`min_days_left: 21` is more than a third of the 47-day lifetime the CA issues, \
              so it is renewed every 26 days; about 15 leaves time to retry without renewing \
              early"
            ]
        );
        assert!(warned("certificate:\n  min_days_left: 15\n", &t).is_empty());
        assert!(warned("certificate:\n  min_days_left: 16\n", &t)[0].contains("every 31 days"));
        assert!(warned("certificate:\n  min_days_left: 46\n", &t)[0].contains("every 1 days"));
        let w = warned("certificate:\n  min_days_left: 47\n", &t);
        assert!(w[0].contains("so every run renews"), "{w:?}");
        // No `certificate:` block: no threshold, no advice.
        assert!(warned("", &t).is_empty());
    }

    #[test]
    fn missing_stapling_is_warned_about_only_with_a_responder() {
        let mut t = TlsObservation::default();
        t.leaf.key = "ecdsa-p256".into();
        t.leaf.not_after_unix = 90 * 86_400;
        t.ocsp_stapled = Some(false);
        assert!(warned("", &t).is_empty());
        t.leaf.ocsp_responder = Some("http://ocsp.ca.test/".into());
        let w = warned("", &t);
        assert!(
            w.len() == 1
                && w[0].contains("staples no OCSP response")
                && w[0].contains("http://ocsp.ca.test/"),
            "{w:?}"
        );
        t.ocsp_stapled = Some(true);
        assert!(warned("", &t).is_empty());
        // Not observed in a handshake: nothing said.
        t.ocsp_stapled = None;
        assert!(warned("", &t).is_empty());
    }

    #[test]
    fn expiry_says_expired_or_expiring() {
        let mut t = TlsObservation::default();
        t.leaf.not_after = "2026-01-02T00:00:00Z".into();
        t.days_left = -3;
        assert_eq!(
            expiry_live(&t, 21),
            "expired: 2026-01-02T00:00:00Z (3 days ago)"
        );
        t.days_left = 5;
        assert_eq!(
            expiry_live(&t, 21),
            "expiring: 5 days left (expires 2026-01-02T00:00:00Z), renewal due below 21"
        );
    }

    #[test]
    fn wildcards_cover_one_label() {
        let sans = vec!["*.bench.test".to_owned(), "a.test".to_owned()];
        assert!(covers(&sans, "s1.bench.test"));
        assert!(covers(&sans, "A.test."));
        assert!(!covers(&sans, "bench.test"));
        assert!(!covers(&sans, "x.s1.bench.test"));
        assert!(!covers(&sans, "b.test"));
    }
}
