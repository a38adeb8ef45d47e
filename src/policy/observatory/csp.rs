//! The Observatory's `content-security-policy` test over the policies as
//! [`CspPolicies`] combines them (the header's and the `<meta http-equiv>` ones), with the
//! same order of verdicts. Reimplemented from the package's documented behaviour and tests.

use std::collections::{BTreeMap, BTreeSet};

use crate::header_values::CspPolicies;

/// Sources that allow (nearly) anything.
const BROAD: [&str; 8] = [
    "ftp:",
    "http:",
    "https:",
    "*",
    "http://*",
    "http://*.*",
    "https://*",
    "https://*.*",
];
const UNSAFE_INLINE: [&str; 2] = ["'unsafe-inline'", "data:"];
const NONCE_HASH: [&str; 4] = ["'sha256-", "'sha384-", "'sha512-", "'nonce-"];

/// The CSP test's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub result: &'static str,
    pub pass: bool,
    /// The combined policy, when the test got that far (`frame-ancestors` is read from it).
    pub policy: Option<CspPolicies>,
}

/// Which set a directive fallback resolves to: a directive of the policy, or a fresh `*`.
#[derive(Clone, Copy)]
enum Ref {
    Key(&'static str),
    Fresh(usize),
}

fn get(csp: &CspPolicies, fresh: &[BTreeSet<String>; 3], r: Ref) -> BTreeSet<String> {
    match r {
        Ref::Key(k) => csp.directives.get(k).cloned().unwrap_or_default(),
        Ref::Fresh(i) => fresh[i].clone(),
    }
}

fn put(csp: &mut CspPolicies, fresh: &mut [BTreeSet<String>; 3], r: Ref, s: BTreeSet<String>) {
    match r {
        Ref::Key(k) => {
            csp.directives.insert(k.to_owned(), s);
        }
        Ref::Fresh(i) => fresh[i] = s,
    }
}

/// The CSP test over the header values (`http`, joined as received), meta contents (`meta`)
/// and `Content-Security-Policy-Report-Only`, for a page fetched over https or not.
pub fn test(http: &[String], meta: &[String], report_only: Option<&str>, https: bool) -> Verdict {
    let verdict = |result, pass, policy| Verdict {
        result,
        pass,
        policy,
    };
    let all: Vec<String> = http.iter().chain(meta).cloned().collect();
    let Ok(mut csp) = CspPolicies::parse(&all) else {
        return verdict("csp-header-invalid", false, None);
    };
    let header_only = CspPolicies::parse(http).unwrap_or_default();
    let meta_only = CspPolicies::parse_meta(meta).unwrap_or_default();
    if header_only.size() + meta_only.size() == 0 {
        return if report_only.is_some_and(|v| !v.is_empty()) {
            verdict("csp-not-implemented-but-reporting-enabled", false, None)
        } else {
            verdict("csp-not-implemented", false, None)
        };
    }
    let pick = |d: &BTreeMap<String, BTreeSet<String>>, keys: [&'static str; 2], fresh| {
        keys.into_iter()
            .find(|k| d.contains_key(*k))
            .map_or(Ref::Fresh(fresh), Ref::Key)
    };
    let mut fresh: [BTreeSet<String>; 3] = std::array::from_fn(|_| BTreeSet::from(["*".into()]));
    let script = pick(&csp.directives, ["script-src", "default-src"], 0);
    let style = pick(&csp.directives, ["style-src", "default-src"], 1);
    let object = pick(&csp.directives, ["object-src", "default-src"], 2);
    let has_nonce = |s: &BTreeSet<String>| {
        s.iter()
            .any(|x| NONCE_HASH.iter().any(|p| x.starts_with(p)))
    };
    let mut result: Option<&'static str> = None;
    // `'unsafe-inline'` is ignored beside a nonce or hash.
    for r in [script, style] {
        let mut s = get(&csp, &fresh, r);
        if has_nonce(&s) && s.remove("'unsafe-inline'") {
            put(&mut csp, &mut fresh, r, s);
        }
    }
    // `'strict-dynamic'` needs a nonce or hash, and then ignores schemes, `'self'` and
    // `'unsafe-inline'`.
    let mut s = get(&csp, &fresh, script);
    if s.contains("'strict-dynamic'") {
        if has_nonce(&s) {
            s.retain(|x| {
                !(BROAD.iter().any(|b| x.starts_with(b)) || x == "'self'" || x == "'unsafe-inline'")
            });
            put(&mut csp, &mut fresh, script, s);
        } else {
            result = Some("csp-header-invalid");
        }
    }
    let script_src = get(&csp, &fresh, script);
    let style_src = get(&csp, &fresh, style);
    let object_src = get(&csp, &fresh, object);
    let broad_or_inline =
        |x: &String| BROAD.contains(&x.as_str()) || UNSAFE_INLINE.contains(&x.as_str());
    let broad = |x: &String| BROAD.contains(&x.as_str());
    let insecure = |x: &String| x.starts_with("http:") || x.starts_with("ftp:");
    let mut active: Vec<&String> = csp
        .directives
        .iter()
        .filter(|(d, _)| !matches!(d.as_str(), "img-src" | "media-src" | "script-src"))
        .flat_map(|(_, s)| s)
        .collect();
    active.extend(&script_src);
    let passive: Vec<&String> = ["img-src", "media-src"]
        .iter()
        .flat_map(|d| {
            csp.directives
                .get(*d)
                .or_else(|| csp.directives.get("default-src"))
                .into_iter()
                .flatten()
        })
        .collect();
    let mut first = |r: &'static str| {
        result.get_or_insert(r);
    };
    if script_src.iter().any(broad_or_inline) || object_src.iter().any(broad) {
        first("csp-implemented-with-unsafe-inline");
    }
    if https && active.iter().any(|x| insecure(x)) {
        first("csp-implemented-with-insecure-scheme");
    }
    if script_src.contains("'unsafe-eval'") || style_src.contains("'unsafe-eval'") {
        first("csp-implemented-with-unsafe-eval");
    }
    if https && passive.iter().any(|x| insecure(x)) {
        first("csp-implemented-with-insecure-scheme-in-passive-content-only");
    }
    if style_src.iter().any(broad_or_inline) {
        first("csp-implemented-with-unsafe-inline-in-style-src-only");
    }
    let default_none = csp
        .directives
        .get("default-src")
        .is_some_and(|d| d.len() == 1 && d.contains("'none'"));
    if default_none {
        first("csp-implemented-with-no-unsafe-default-src-none");
    } else {
        first("csp-implemented-with-no-unsafe");
    }
    let mut result = result.unwrap_or("csp-implemented-with-no-unsafe");
    let pass = matches!(
        result,
        "csp-implemented-with-no-unsafe"
            | "csp-implemented-with-no-unsafe-default-src-none"
            | "csp-implemented-with-unsafe-inline-in-style-src-only"
            | "csp-implemented-with-insecure-scheme-in-passive-content-only"
    );
    if pass && csp.duplicate_reporting {
        result = "csp-implemented-but-duplicate-directives";
    }
    verdict(result, pass, Some(csp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header_values::InvalidCsp;

    fn one(v: &str) -> Verdict {
        test(&[v.to_owned()], &[], None, true)
    }

    #[test]
    fn verdicts_follow_the_observatory_order() {
        assert_eq!(
            one("default-src 'none'").result,
            "csp-implemented-with-no-unsafe-default-src-none"
        );
        assert_eq!(
            one("default-src 'self'").result,
            "csp-implemented-with-no-unsafe"
        );
        assert_eq!(
            one("default-src 'self'; script-src 'unsafe-inline'").result,
            "csp-implemented-with-unsafe-inline"
        );
        assert_eq!(
            one(
                "script-src 'self' 'nonce-abc' 'unsafe-inline'; object-src 'none'; style-src 'self'"
            )
            .result,
            "csp-implemented-with-no-unsafe"
        );
        assert_eq!(
            one("default-src 'self' 'unsafe-eval'").result,
            "csp-implemented-with-unsafe-eval"
        );
        assert_eq!(
            one("default-src 'self'; style-src 'unsafe-inline'").result,
            "csp-implemented-with-unsafe-inline-in-style-src-only"
        );
        assert_eq!(
            one("default-src 'self'; img-src http://x.test").result,
            "csp-implemented-with-insecure-scheme-in-passive-content-only"
        );
        assert_eq!(
            one("default-src 'self'; script-src 'strict-dynamic'").result,
            "csp-header-invalid"
        );
        assert_eq!(
            one("default-src 'self'; default-src 'none'").result,
            "csp-header-invalid"
        );
        assert_eq!(one("abc").result, "csp-header-invalid");
        assert_eq!(
            one("default-src 'self'; report-uri /a; report-uri /b").result,
            "csp-implemented-but-duplicate-directives"
        );
        assert!(one("default-src 'self'; report-uri /a; report-uri /b").pass);
    }

    #[test]
    fn a_source_counts_only_when_every_policy_allows_it() {
        let p = CspPolicies::parse(&[
            "default-src 'self' https://a.test".into(),
            "default-src https://a.test; img-src x".into(),
        ])
        .expect("valid");
        assert_eq!(
            p.directives["default-src"],
            BTreeSet::from(["https://a.test".to_owned()])
        );
        assert_eq!(
            p.directives["img-src"],
            BTreeSet::from(["'none'".to_owned()])
        );
        assert_eq!(
            CspPolicies::parse(&["default-src %zz".into(), "default-src %zz".into()]),
            Err(InvalidCsp)
        );
    }
}
