//! Header values read as a browser reads them — the one parser of `Strict-Transport-Security`
//! and `Content-Security-Policy` that the diff, the policy rules, the grader and verification
//! (which reuses the diff) share; beside it, the readings the web grade needs to equal the MDN
//! HTTP Observatory ([`CspPolicies`], [`hsts_max_age_as_observatory`]). Whitespace runs collapse; HSTS and CSP are sets of
//! directives, so their order and the case of directive names do not matter.

use std::collections::{BTreeMap, BTreeSet};

/// A parsed `Strict-Transport-Security` value: lowercased directive names → value (unquoted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hsts {
    directives: BTreeMap<String, Option<String>>,
}

impl Hsts {
    /// Parses `name[=value]` directives separated by `;`; the first of a repeated name counts.
    pub fn parse(value: &str) -> Hsts {
        let mut directives = BTreeMap::new();
        for d in value.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let (name, v) = match d.split_once('=') {
                Some((k, v)) => (k, Some(unquote(v).to_owned())),
                None => (d, None),
            };
            directives
                .entry(name.trim().to_ascii_lowercase())
                .or_insert(v);
        }
        Hsts { directives }
    }

    /// `max-age` in seconds; `None` when missing or not a number.
    pub fn max_age(&self) -> Option<u64> {
        self.directives.get("max-age")?.as_deref()?.parse().ok()
    }

    /// Whether a directive without value (e.g. `includesubdomains`) is present.
    pub fn has(&self, lower_name: &str) -> bool {
        self.directives.contains_key(lower_name)
    }

    /// The canonical text: directives sorted, `name=value`.
    pub fn canonical(&self) -> String {
        self.directives
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A directive value without surrounding whitespace and quotes, stripped until none is left (so
/// that the canonical text parses to itself).
fn unquote(value: &str) -> &str {
    let mut v = value.trim();
    loop {
        let next = v.trim_matches('"').trim();
        if next == v {
            return v;
        }
        v = next;
    }
}

/// A parsed `Content-Security-Policy` value: lowercased directive names → sources as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csp {
    pub directives: BTreeMap<String, Vec<String>>,
}

impl Csp {
    /// Parses `;`-separated directives; a repeated directive is ignored, as browsers do.
    pub fn parse(value: &str) -> Csp {
        let mut directives = BTreeMap::new();
        for directive in value.split(';') {
            let mut words = directive.split_whitespace();
            let Some(name) = words.next() else {
                continue;
            };
            directives
                .entry(name.to_ascii_lowercase())
                .or_insert_with(|| words.map(str::to_owned).collect());
        }
        Csp { directives }
    }

    /// The canonical text: directives sorted by name, sources in their order.
    pub fn canonical(&self) -> String {
        self.directives
            .iter()
            .map(|(name, sources)| {
                if sources.is_empty() {
                    name.clone()
                } else {
                    format!("{name} {}", sources.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The shortest CSP policy text the Observatory accepts (`img-src` minus one).
const SHORTEST: usize = 6;
/// Directives a `<meta http-equiv>` policy cannot set.
const DISALLOWED_IN_META: [&str; 3] = ["frame-ancestors", "report-uri", "sandbox"];
/// Directives that may repeat within one policy.
const ALLOWED_DUPLICATES: [&str; 2] = ["report-uri", "report-to"];

/// Several `Content-Security-Policy` policies combined as the MDN HTTP Observatory (and so the
/// web grade) reads them: a source counts only when every policy allows it (a directive only
/// a later policy names ends up `'none'`); a repeated directive makes the list invalid except
/// `report-uri`/`report-to`; sources lowercased; an empty `*-src` means `'none'`; a policy
/// shorter than `img-src` is invalid. Directive → sources, and whether a reporting directive
/// was repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CspPolicies {
    pub directives: BTreeMap<String, BTreeSet<String>>,
    pub duplicate_reporting: bool,
}

impl CspPolicies {
    /// Entries as the Observatory counts them (a repeated reporting directive counts as one).
    pub fn size(&self) -> usize {
        self.directives.len() + usize::from(self.duplicate_reporting)
    }

    /// Parses and combines `policies` (header values first, then meta contents).
    pub fn parse(policies: &[String]) -> Result<CspPolicies, InvalidCsp> {
        let clean: Vec<String> = policies
            .iter()
            .map(|p| p.replace(['\r', '\n'], "").trim().to_owned())
            .collect();
        if clean.is_empty() {
            return Ok(CspPolicies::default());
        }
        if clean.iter().any(|p| p.chars().count() < SHORTEST) {
            return Err(InvalidCsp);
        }
        let mut csp: BTreeMap<String, Vec<Source>> = BTreeMap::new();
        let mut duplicate_reporting = false;
        for (index, policy) in clean.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for entry in policy.split(';') {
                let mut words = entry.split_whitespace();
                let Some(first) = words.next() else {
                    continue;
                };
                let directive = first.to_lowercase();
                if !seen.insert(directive.clone()) {
                    if ALLOWED_DUPLICATES.contains(&directive.as_str()) {
                        duplicate_reporting = true;
                    } else {
                        return Err(InvalidCsp);
                    }
                }
                let keep = index == 0;
                let mut values: Vec<Source> = words
                    .map(|w| Source {
                        source: w.to_lowercase(),
                        index,
                        keep,
                    })
                    .collect();
                if values.is_empty() && directive.ends_with("-src") {
                    values.push(Source {
                        source: "'none'".into(),
                        index,
                        keep,
                    });
                }
                let mut combined = if index == 0 {
                    values
                } else {
                    let mut c = csp.get(&directive).cloned().unwrap_or_default();
                    c.extend(values);
                    c
                };
                combined.sort_by(|a, b| a.source.cmp(&b.source));
                for i in 1..combined.len() {
                    let (prev_source, prev_index) =
                        (combined[i - 1].source.clone(), combined[i - 1].index);
                    let cur = &mut combined[i];
                    if cur.index == prev_index && cur.source.starts_with(&prev_source) {
                        cur.keep = false;
                    }
                    if cur.index != prev_index && path_part_match(&prev_source, &cur.source)? {
                        cur.keep = true;
                    }
                }
                let mut kept: Vec<Source> = combined.into_iter().filter(|s| s.keep).collect();
                if index == 0 && clean.len() > 1 {
                    for s in &mut kept {
                        s.keep = false;
                    }
                }
                csp.insert(directive, kept);
            }
        }
        let directives = csp
            .into_iter()
            .map(|(d, sources)| {
                let set: BTreeSet<String> = if sources.is_empty() {
                    BTreeSet::from(["'none'".to_owned()])
                } else {
                    sources.into_iter().map(|s| s.source).collect()
                };
                (d, set)
            })
            .collect();
        Ok(CspPolicies {
            directives,
            duplicate_reporting,
        })
    }

    /// [`CspPolicies::parse`] for `<meta http-equiv>` policies: directives a meta policy cannot set dropped.
    pub fn parse_meta(policies: &[String]) -> Result<CspPolicies, InvalidCsp> {
        let mut parsed = CspPolicies::parse(policies)?;
        for d in DISALLOWED_IN_META {
            parsed.directives.remove(d);
        }
        Ok(parsed)
    }
}

/// Why a policy list is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCsp;

#[derive(Debug, Clone)]
struct Source {
    source: String,
    index: usize,
    keep: bool,
}

/// Whether source `b` is covered by `a` path piece by piece (`a` ending in `/` is a prefix);
/// a malformed percent escape makes the whole policy invalid.
fn path_part_match(a: &str, b: &str) -> Result<bool, InvalidCsp> {
    if a.is_empty() || (a == "/" && b.is_empty()) {
        return Ok(true);
    }
    let exact = !a.ends_with('/');
    let mut pa: Vec<&str> = a.split('/').collect();
    let pb: Vec<&str> = b.split('/').collect();
    if pa.len() > pb.len() || (exact && pa.len() != pb.len()) {
        return Ok(false);
    }
    if !exact {
        pa.pop();
    }
    for (x, y) in pa.iter().zip(&pb) {
        if decode(x)? != decode(y)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Percent-decoding as `decodeURIComponent` does it: a malformed escape or invalid UTF-8 is an
/// error.
fn decode(s: &str) -> Result<String, InvalidCsp> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(InvalidCsp)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| InvalidCsp)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| InvalidCsp)
}

/// An HSTS `max-age` as the MDN HTTP Observatory reads it from the whole header text (lines
/// joined): `None` when no directive starts with `max-age=`, `Some(None)` when its value has
/// no leading digits (JavaScript's `parseInt` gives NaN, which the Observatory accepts as
/// "not below six months"), else the number (the last such directive wins).
pub fn hsts_max_age_as_observatory(value: &str) -> Option<Option<f64>> {
    let mut max_age = None;
    for p in value.split(';').map(|p| p.trim().to_lowercase()) {
        if let Some(v) = p.strip_prefix("max-age=") {
            let v: String = v.chars().take(120).collect();
            max_age = Some(parse_int(&v));
        }
    }
    max_age
}

/// `parseInt(text, 10)`: leading whitespace, a sign, then decimal digits up to the first
/// other character; `None` (NaN) without digits.
fn parse_int(text: &str) -> Option<f64> {
    let t = text.trim_start();
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<f64>().ok().map(|v| sign * v)
}

/// The canonical form of header `lower_name`'s value, for comparing desired and live.
pub fn normalise(lower_name: &str, value: &str) -> String {
    match lower_name {
        "strict-transport-security" => Hsts::parse(value).canonical(),
        "content-security-policy" | "content-security-policy-report-only" => {
            Csp::parse(value).canonical()
        }
        _ => squash(value),
    }
}

/// Collapses runs of whitespace to one space and trims.
pub fn squash(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hsts(v: &str) -> String {
        Hsts::parse(v).canonical()
    }

    fn csp(v: &str) -> String {
        Csp::parse(v).canonical()
    }

    #[test]
    fn hsts_values_with_quotes_and_whitespace_are_a_fixed_point() {
        for v in ["=\u{a1}\"\u{b}\"", "=0\t\";", "max-age=\" \"31536000\"\t\""] {
            let once = hsts(v);
            assert_eq!(hsts(&once), once, "{v:?}");
        }
        assert_eq!(hsts("max-age=\"31536000\""), "max-age=31536000");
    }

    #[test]
    fn hsts_order_and_case_do_not_matter() {
        assert_eq!(
            hsts("max-age=31536000; includeSubDomains; preload"),
            hsts("preload;INCLUDESUBDOMAINS ;  max-age=\"31536000\"")
        );
        assert_ne!(hsts("max-age=300"), hsts("max-age=31536000"));
    }

    #[test]
    fn hsts_max_age_reads_the_directive_in_any_position_and_case() {
        let age = |v: &str| Hsts::parse(v).max_age();
        assert_eq!(age("includeSubDomains; MAX-AGE=\"300\""), Some(300));
        assert_eq!(age("max-age=31536000"), Some(31_536_000));
        assert_eq!(age("includeSubDomains"), None);
        assert_eq!(age("max-age=soon"), None);
        assert!(Hsts::parse("max-age=1; includeSubDomains").has("includesubdomains"));
    }

    #[test]
    fn csp_directive_order_and_name_case_do_not_matter() {
        let a = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
        let b = "FRAME-ANCESTORS 'none';img-src   'self' data: ; Default-Src 'self';";
        assert_eq!(csp(a), csp(b));
        assert_eq!(
            csp(a),
            "default-src 'self'; frame-ancestors 'none'; img-src 'self' data:"
        );
        assert_ne!(csp(a), csp("default-src 'self'; img-src 'self'"));
        assert_eq!(
            csp("upgrade-insecure-requests"),
            "upgrade-insecure-requests"
        );
    }

    #[test]
    fn csp_keeps_the_first_of_a_repeated_directive() {
        let d =
            Csp::parse("Default-Src 'self'; img-src a b;default-src *; upgrade-insecure-requests")
                .directives;
        assert_eq!(d["default-src"], vec!["'self'"]);
        assert_eq!(d["img-src"], vec!["a", "b"]);
        assert!(d["upgrade-insecure-requests"].is_empty());
    }

    #[test]
    fn hsts_max_age_as_the_observatory_reads_it() {
        assert_eq!(
            hsts_max_age_as_observatory("max-age= 300x"),
            Some(Some(300.0))
        );
        assert_eq!(hsts_max_age_as_observatory("max-age=-5"), Some(Some(-5.0)));
        assert_eq!(
            hsts_max_age_as_observatory("max-age=\"31536000\""),
            Some(None)
        );
        assert_eq!(
            hsts_max_age_as_observatory("max-age=1; max-age=2"),
            Some(Some(2.0))
        );
        assert_eq!(hsts_max_age_as_observatory("max-age = 5"), None);
    }

    #[test]
    fn other_headers_squash_whitespace_only() {
        assert_eq!(normalise("x-frame-options", "  DENY "), "DENY");
        assert_eq!(
            normalise("permissions-policy", "a=(),\t b=()"),
            "a=(), b=()"
        );
        assert_ne!(normalise("x-frame-options", "deny"), "DENY");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text parses (no panic), and the canonical form is a fixed point: what the diff
        /// compares never changes by being compared again.
        #[test]
        fn parsing_never_panics_and_canonical_is_stable(value in ".{0,200}") {
            for name in ["strict-transport-security", "content-security-policy", "x-frame-options"] {
                let once = normalise(name, &value);
                prop_assert_eq!(normalise(name, &once), once.clone());
            }
            let _ = Hsts::parse(&value).max_age();
        }

        /// Directive order and name case never matter.
        #[test]
        fn csp_order_does_not_matter(
            directives in proptest::collection::vec(("[a-zA-Z-]{1,12}", "[ -:<-~]{0,20}"), 1..6)
        ) {
            let text = |ds: &[(String, String)]| {
                ds.iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join("; ")
            };
            // Browsers keep the first of a repeated directive: compare sets of unique names.
            let mut unique: Vec<(String, String)> = Vec::new();
            for (n, v) in &directives {
                if !unique.iter().any(|(u, _)| u.eq_ignore_ascii_case(n)) {
                    unique.push((n.clone(), v.clone()));
                }
            }
            let reversed: Vec<(String, String)> = unique
                .iter()
                .rev()
                .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
                .collect();
            prop_assert_eq!(
                Csp::parse(&text(&unique)).canonical(),
                Csp::parse(&text(&reversed)).canonical()
            );
        }
    }
}
