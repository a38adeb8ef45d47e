//! Header values compared as a browser reads them: whitespace runs collapse; HSTS and CSP are
//! compared as parsed directives, so the order of directives and the case of their names do not
//! count as drift.

/// The canonical form of header `lower_name`'s value.
pub fn normalise(lower_name: &str, value: &str) -> String {
    match lower_name {
        "strict-transport-security" => hsts(value),
        "content-security-policy" | "content-security-policy-report-only" => csp(value),
        _ => squash(value),
    }
}

/// Collapses runs of whitespace to one space and trims.
pub fn squash(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// HSTS: `name[=value]` directives, names lowercased, values unquoted, sorted.
pub fn hsts(value: &str) -> String {
    let mut parts: Vec<String> = value
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once('=') {
            Some((k, v)) => format!(
                "{}={}",
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"')
            ),
            None => d.to_ascii_lowercase(),
        })
        .collect();
    parts.sort();
    parts.dedup();
    parts.join("; ")
}

/// CSP: directives with lowercased names and their source lists (whitespace squashed, source
/// order kept), sorted by name. A repeated directive is ignored, as browsers do.
pub fn csp(value: &str) -> String {
    let mut seen = std::collections::BTreeMap::new();
    for directive in value.split(';') {
        let mut words = directive.split_whitespace();
        let Some(name) = words.next() else {
            continue;
        };
        let sources: Vec<&str> = words.collect();
        seen.entry(name.to_ascii_lowercase())
            .or_insert_with(|| sources.join(" "));
    }
    seen.into_iter()
        .map(|(name, sources)| {
            if sources.is_empty() {
                name
            } else {
                format!("{name} {sources}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_order_and_case_do_not_matter() {
        assert_eq!(
            hsts("max-age=31536000; includeSubDomains; preload"),
            hsts("preload;INCLUDESUBDOMAINS ;  max-age=\"31536000\"")
        );
        assert_ne!(hsts("max-age=300"), hsts("max-age=31536000"));
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
    fn other_headers_squash_whitespace_only() {
        assert_eq!(normalise("x-frame-options", "  DENY "), "DENY");
        assert_eq!(
            normalise("permissions-policy", "a=(),\t b=()"),
            "a=(), b=()"
        );
        assert_ne!(normalise("x-frame-options", "deny"), "DENY");
    }
}
