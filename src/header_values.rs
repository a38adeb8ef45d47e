//! Header values read as a browser reads them — the one parser of `Strict-Transport-Security`
//! and `Content-Security-Policy` that the diff, the policy rules, the grader and verification
//! (which reuses the diff) share. Whitespace runs collapse; HSTS and CSP are sets of
//! directives, so their order and the case of directive names do not matter.

use std::collections::BTreeMap;

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
                Some((k, v)) => (k, Some(v.trim().trim_matches('"').trim().to_owned())),
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
