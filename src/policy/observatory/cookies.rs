//! The Observatory's cookie test: every cookie the graded session stored (a cookie jar fed by
//! each response of the redirect chain), judged by name (`sess`/`login` mean a session,
//! `csrf` an anti-CSRF token) and flags, the worst finding winning; a malformed `SameSite` on
//! the final response counts too.

use std::collections::BTreeMap;

use url::Url;

/// Results from the least to the most severe, as the test ranks them.
const ORDER: [&str; 7] = [
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
];

/// A stored cookie's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    /// `strict`, `lax` or `none`; `None` when absent or not one of those.
    pub same_site: Option<String>,
    domain: Option<String>,
    path: String,
}

/// Parses one `Set-Cookie` value as a cookie jar does; `None` when it is not a cookie (no
/// `=`, an empty name).
pub fn parse(value: &str) -> Option<Cookie> {
    let mut parts = value.trim().split(';');
    let pair = parts.next()?;
    let eq = pair.find('=')?;
    let name = pair[..eq].trim();
    if name.is_empty() {
        return None;
    }
    let mut c = Cookie {
        name: name.to_owned(),
        secure: false,
        http_only: false,
        same_site: None,
        domain: None,
        path: "/".to_owned(),
    };
    for av in parts {
        let (k, v) = match av.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => (av.trim().to_ascii_lowercase(), ""),
        };
        match k.as_str() {
            "secure" => c.secure = true,
            "httponly" => c.http_only = true,
            "samesite" => {
                let v = v.to_ascii_lowercase();
                c.same_site = matches!(v.as_str(), "strict" | "lax" | "none").then_some(v);
            }
            "domain" => {
                let d = v.trim_start_matches('.').to_ascii_lowercase();
                c.domain = (!d.is_empty()).then_some(d);
            }
            "path" if v.starts_with('/') => c.path = v.to_owned(),
            _ => {}
        }
    }
    Some(c)
}

/// The cookies a jar keeps after `responses` (request URL, `Set-Cookie` values) in order: a
/// later cookie with the same name, domain and path replaces an earlier one; cookies for
/// another domain and `__Secure-`/`__Host-` cookies without their required flags are dropped.
pub fn jar<'a>(responses: impl IntoIterator<Item = (&'a Url, &'a [String])>) -> Vec<Cookie> {
    let mut jar: BTreeMap<(String, String, String), Cookie> = BTreeMap::new();
    for (url, values) in responses {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        for c in values.iter().filter_map(|v| parse(v)) {
            let domain = match &c.domain {
                Some(d) if host == *d || host.ends_with(&format!(".{d}")) => d.clone(),
                Some(_) => continue,
                None => host.clone(),
            };
            if c.name.starts_with("__Secure-") && !c.secure {
                continue;
            }
            if c.name.starts_with("__Host-") && (!c.secure || c.domain.is_some() || c.path != "/") {
                continue;
            }
            jar.insert((c.name.clone(), domain, c.path.clone()), c);
        }
    }
    jar.into_values()
        .filter(|c| c.name != "heroku-session-affinity")
        .collect()
}

/// Whether a raw `Set-Cookie` value carries a `SameSite` attribute without a valid value.
fn invalid_same_site(raw: &str) -> bool {
    raw.trim().split(';').any(|p| {
        let mut kv = p.trim().split('=');
        let key = kv.next().unwrap_or_default();
        let value = kv.next();
        key.trim().eq_ignore_ascii_case("samesite")
            && value.is_none_or(|v| {
                v.is_empty()
                    || !matches!(
                        v.trim().to_ascii_lowercase().as_str(),
                        "lax" | "strict" | "none"
                    )
            })
    })
}

/// The test's result id and pass, given the jar, the final response's raw `Set-Cookie` values
/// and whether the HSTS test passed.
pub fn test(cookies: &[Cookie], final_raw: &[String], hsts_pass: bool) -> (&'static str, bool) {
    let mut worst: Option<&'static str> = None;
    let mut worse = |r: &'static str| {
        let rank = |x: &str| ORDER.iter().position(|o| *o == x);
        if worst.is_none_or(|w| rank(r) > rank(w)) {
            worst = Some(r);
        }
    };
    if final_raw.iter().any(|r| invalid_same_site(r)) {
        worse("cookies-samesite-flag-invalid");
    }
    if cookies.is_empty() {
        return ("cookies-not-found", true);
    }
    let mut missing_same_site = false;
    for c in cookies {
        let name = c.name.to_lowercase();
        let session = name.contains("login") || name.contains("sess");
        let csrf = name.contains("csrf");
        if !c.secure && c.same_site.as_deref() == Some("none") {
            worse("cookies-samesite-flag-invalid");
        }
        if !c.secure {
            worse(if hsts_pass {
                "cookies-without-secure-flag-but-protected-by-hsts"
            } else {
                "cookies-without-secure-flag"
            });
        }
        if csrf && c.same_site.is_none() {
            worse("cookies-anticsrf-without-samesite-flag");
        }
        if session && !c.secure {
            worse(if hsts_pass {
                "cookies-session-without-secure-flag-but-protected-by-hsts"
            } else {
                "cookies-session-without-secure-flag"
            });
        }
        if session && !c.http_only {
            worse("cookies-session-without-httponly-flag");
        }
        missing_same_site |= c.same_site.is_none();
    }
    let result = worst.unwrap_or(if missing_same_site {
        "cookies-secure-with-httponly-sessions"
    } else {
        "cookies-secure-with-httponly-sessions-and-samesite"
    });
    let pass = matches!(
        result,
        "cookies-secure-with-httponly-sessions"
            | "cookies-secure-with-httponly-sessions-and-samesite"
    );
    (result, pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[&str], hsts: bool) -> &'static str {
        let url = Url::parse("https://a.test/").expect("url");
        let v: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        test(&jar([(&url, v.as_slice())]), &v, hsts).0
    }

    #[test]
    fn the_worst_cookie_decides() {
        assert_eq!(run(&[], true), "cookies-not-found");
        assert_eq!(
            run(&["a=1; Secure; SameSite=Lax"], true),
            "cookies-secure-with-httponly-sessions-and-samesite"
        );
        assert_eq!(
            run(&["a=1; Secure"], true),
            "cookies-secure-with-httponly-sessions"
        );
        assert_eq!(
            run(&["a=1"], true),
            "cookies-without-secure-flag-but-protected-by-hsts"
        );
        assert_eq!(
            run(&["sessionid=1; Secure"], true),
            "cookies-session-without-httponly-flag"
        );
        assert_eq!(
            run(&["sessionid=1; HttpOnly", "a=1"], false),
            "cookies-session-without-secure-flag"
        );
        assert_eq!(
            run(&["a=1; Secure; SameSite=bogus"], true),
            "cookies-samesite-flag-invalid"
        );
        assert_eq!(
            run(&["__Host-a=1; Path=/x; Secure"], true),
            "cookies-not-found"
        );
    }
}
