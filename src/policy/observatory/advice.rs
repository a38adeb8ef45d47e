//! What a failing Observatory test means and what to change: one sentence, an exact example
//! value, and the line for nginx, Apache and a `_headers` file, so a change request can be
//! pasted as is.

use crate::spec::Severity;

/// A value of the security header `name` (any case) that passes the Observatory's test of it.
pub fn example(name: &str) -> Option<&'static str> {
    let test = name.to_ascii_lowercase();
    fix(&test).map(|(_, v)| v)
}

/// The header a test is about and a value that passes it (with a bonus where there is one).
fn fix(test: &str) -> Option<(&'static str, &'static str)> {
    Some(match test {
        "content-security-policy" => (
            "Content-Security-Policy",
            "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
        ),
        "strict-transport-security" => (
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ),
        "x-content-type-options" => ("X-Content-Type-Options", "nosniff"),
        "x-frame-options" => ("X-Frame-Options", "DENY"),
        "referrer-policy" => ("Referrer-Policy", "strict-origin-when-cross-origin"),
        "cross-origin-resource-policy" => ("Cross-Origin-Resource-Policy", "same-site"),
        _ => return None,
    })
}

/// The configuration lines that send `name: value` on common servers.
pub fn send(name: &str, value: &str) -> String {
    format!(
        "send `{name}: {value}` (nginx: `add_header {name} \"{value}\" always;`, Apache: \
         `Header always set {name} \"{value}\"`, `_headers`: `  {name}: {value}`)"
    )
}

/// How severe a failing test is.
pub fn severity(test: &str, result: &str) -> Severity {
    match test {
        "strict-transport-security" | "redirection" | "cross-origin-resource-sharing" => {
            Severity::High
        }
        "cookies" if result.contains("session-without") => Severity::High,
        "subresource-integrity" if result.contains("not-loaded-securely") => Severity::High,
        "referrer-policy" | "cross-origin-resource-policy" => Severity::Low,
        _ => Severity::Medium,
    }
}

/// The finding's message for a failing `test` with `result` and its modifier.
pub fn message(test: &str, result: &str, modifier: i32) -> String {
    format!("`{test}`: `{result}` ({modifier:+} points)")
}

/// The advice for a failing `test` with `result`.
pub fn advice(test: &str, result: &str) -> String {
    match (test, fix(test)) {
        ("content-security-policy", Some((n, v))) => format!(
            "{}, then allow each further source your pages need; no `'unsafe-inline'`, \
             `'unsafe-eval'`, `data:` or scheme-wide sources in `script-src`",
            send(n, v)
        ),
        (_, Some((n, v))) => send(n, v),
        ("cookies", None) => {
            "mark every cookie `Secure`, session cookies also `HttpOnly`, and give each a \
             `SameSite=Lax` (e.g. PHP: `session.cookie_secure = 1`, `session.cookie_httponly = 1`, \
             `session.cookie_samesite = Lax`)"
                .to_owned()
        }
        ("redirection", None) => format!(
            "answer `http://` with one redirect to `https://` on the same host name (nginx, in \
             the port-80 server: `return 301 https://$host$request_uri;`; Apache: \
             `Redirect permanent / https://HOST/`); now: `{result}`"
        ),
        ("cross-origin-resource-sharing", None) => {
            "do not echo any `Origin` back in `Access-Control-Allow-Origin` together with \
             `Access-Control-Allow-Credentials: true`; list the origins that need access"
                .to_owned()
        }
        ("subresource-integrity", None) => {
            "load third-party scripts over `https://` with an `integrity=\"sha384-…\"` hash of \
             the exact file and `crossorigin=\"anonymous\"`, or host them yourself"
                .to_owned()
        }
        _ => format!("see the MDN HTTP Observatory's documentation of `{result}`"),
    }
}
