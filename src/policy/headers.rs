//! Which security header values a page sent, read through the one parser of HSTS and CSP
//! ([`crate::header_values`]). Pure; the rules and the grader share it.

use std::collections::BTreeMap;

use crate::header_values::{Csp, Hsts};
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
    Hsts::parse(value).max_age()
}

/// Every enforced CSP the page sent (one entry per header line), parsed.
pub fn csps(page: &Page) -> Vec<BTreeMap<String, Vec<String>>> {
    page.headers
        .get("content-security-policy")
        .map(|values| values.iter().map(|v| Csp::parse(v).directives).collect())
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
    fn sources_compare_without_case() {
        let d = Csp::parse("default-src 'self'").directives;
        assert!(has_source(&d["default-src"], "'SELF'"));
        assert_eq!(hsts_max_age("max-age=5"), Some(5));
    }
}
