//! Reading security headers as a browser does: the HSTS `max-age`, CSP directives with their
//! source lists, and which header values a page sent. Pure; the rules and the grader share it.

use std::collections::BTreeMap;

use crate::observe::live::{LiveSite, Page};

/// The page a site answered with, or why its headers could not be read.
pub fn page(live: &LiveSite) -> Result<&Page, String> {
    match (&live.page, &live.https_refused) {
        (Some(p), _) => Ok(p),
        (None, Some(why)) => Err(format!(
            "headers were not observed: HTTPS was refused ({why})"
        )),
        (None, None) => Err("headers were not observed: the site sent no response".to_owned()),
    }
}

/// The first value of a header (browsers act on the first `Strict-Transport-Security`), trimmed.
pub fn first<'a>(page: &'a Page, lower_name: &str) -> Option<&'a str> {
    page.headers
        .get(lower_name)
        .and_then(|v| v.first())
        .map(|v| v.trim())
}

/// The `max-age` of an HSTS value, in seconds; `None` when it is missing or not a number.
pub fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|d| {
        let (k, v) = d.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| v.trim().trim_matches('"').parse().ok())?
    })
}

/// The directives of one CSP value: lowercased names → sources as written. A repeated
/// directive is ignored, as browsers do.
pub fn csp_directives(value: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for directive in value.split(';') {
        let mut words = directive.split_whitespace();
        let Some(name) = words.next() else {
            continue;
        };
        out.entry(name.to_ascii_lowercase())
            .or_insert_with(|| words.map(str::to_owned).collect());
    }
    out
}

/// Every enforced CSP the page sent (one entry per header line), parsed.
pub fn csps(page: &Page) -> Vec<BTreeMap<String, Vec<String>>> {
    page.headers
        .get("content-security-policy")
        .map(|values| values.iter().map(|v| csp_directives(v)).collect())
        .unwrap_or_default()
}

/// Whether `sources` holds `wanted`; keywords and hosts compare without regard to case.
pub fn has_source(sources: &[String], wanted: &str) -> bool {
    sources.iter().any(|s| s.eq_ignore_ascii_case(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_max_age_reads_the_directive_in_any_position_and_case() {
        assert_eq!(
            hsts_max_age("includeSubDomains; MAX-AGE=\"300\""),
            Some(300)
        );
        assert_eq!(hsts_max_age("max-age=31536000"), Some(31_536_000));
        assert_eq!(hsts_max_age("includeSubDomains"), None);
        assert_eq!(hsts_max_age("max-age=soon"), None);
    }

    #[test]
    fn csp_keeps_the_first_of_a_repeated_directive() {
        let d = csp_directives(
            "Default-Src 'self'; img-src a b;default-src *; upgrade-insecure-requests",
        );
        assert_eq!(d["default-src"], vec!["'self'"]);
        assert_eq!(d["img-src"], vec!["a", "b"]);
        assert!(d["upgrade-insecure-requests"].is_empty());
        assert!(has_source(&d["default-src"], "'SELF'"));
    }
}
