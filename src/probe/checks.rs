//! Availability checks (`checks:`): status, body text and response time, with a bounded body.
//!
//! A check only ever requests its own site: its `path` (and query) is set on the site's URL,
//! never joined as a reference (`//other.host/x` would leave the site), and the finished URL
//! must have the site's origin. The loader refuses such paths with [`path_problem`]; the
//! request is refused again here.

use std::time::Instant;

use url::Url;

use super::http::{Http, MAX_BODY};
use crate::plan::CheckOutcome;
use crate::spec::Check;

/// Runs one check against the site at `base`.
pub async fn run(http: &Http, base: &Url, check: &Check) -> CheckOutcome {
    let mut outcome = CheckOutcome {
        name: check.name.clone(),
        ok: false,
        status: None,
        ms: None,
        message: None,
    };
    let url = match on_site(base, &check.path) {
        Ok(u) => u,
        Err(why) => {
            outcome.message = Some(format!("not run: {why}"));
            return outcome;
        }
    };
    let start = Instant::now();
    let fetched = match http.get(&url, check.body_contains.is_some()).await {
        Ok(f) => f,
        Err(e) => {
            outcome.message = Some(e.to_string());
            return outcome;
        }
    };
    let ms = start.elapsed().as_millis() as u64;
    outcome.status = Some(fetched.page.status);
    outcome.ms = Some(ms);
    outcome.message = judge(check, fetched.page.status, ms, fetched.body.as_deref());
    outcome.ok = outcome.message.is_none();
    outcome
}

/// Why `path` is not a path on the site, or `None` when it is: it must start with one `/`, and
/// may not hold a backslash (browsers and some URL parsers read `/\host` as `//host`) or a
/// control character.
pub fn path_problem(path: &str) -> Option<String> {
    let shown = path.escape_debug();
    if !path.starts_with('/') {
        return Some(format!("`{shown}` must start with `/`"));
    }
    if path.starts_with("//") {
        return Some(format!(
            "`{shown}` starts with `//`, which names another host; a check requests a path on its own site"
        ));
    }
    if path.contains('\\') {
        return Some(format!(
            "`{shown}` contains a backslash, which some clients read as `/` (`/\\host` is `//host`); write `/` or `%5C`"
        ));
    }
    if path.chars().any(char::is_control) {
        return Some(format!("`{shown}` contains a control character"));
    }
    None
}

/// The URL a check with `path` requests: the site's URL with only its path and query replaced,
/// refused unless it has the site's origin (scheme, host and port).
pub fn on_site(base: &Url, path: &str) -> Result<Url, String> {
    if let Some(why) = path_problem(path) {
        return Err(format!("path {why}"));
    }
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let path_only = path_only.split('#').next().unwrap_or_default();
    let mut url = base.clone();
    url.set_path(path_only);
    url.set_query(query.map(|q| q.split('#').next().unwrap_or_default()));
    url.set_fragment(None);
    if url.origin() != base.origin() {
        return Err(format!(
            "path `{}` leads to `{url}`, not to the site `{}`",
            path.escape_debug(),
            base.origin().ascii_serialization()
        ));
    }
    Ok(url)
}

/// Why a response fails the check, or `None` when it passes.
pub fn judge(check: &Check, status: u16, ms: u64, body: Option<&[u8]>) -> Option<String> {
    if status != check.status {
        return Some(format!("status {status}, expected {}", check.status));
    }
    if let Some(needle) = &check.body_contains {
        let found = body.is_some_and(|b| {
            b.windows(needle.len().max(1))
                .any(|w| w == needle.as_bytes())
        });
        if !found {
            let within = if body.is_some_and(|b| b.len() >= MAX_BODY) {
                " within the first 1 MiB"
            } else {
                ""
            };
            return Some(format!("body does not contain `{needle}`{within}"));
        }
    }
    match check.max_response_ms {
        Some(max) if ms > max => Some(format!("took {ms} ms, more than {max} ms")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> Check {
        Check {
            name: "home".into(),
            path: "/".into(),
            status: 200,
            body_contains: Some("Welcome".into()),
            max_response_ms: Some(500),
        }
    }

    #[test]
    fn paths_stay_on_the_site() {
        let base = Url::parse("https://shop.example.nl:8443/shop/").expect("url");
        let on = |p: &str| on_site(&base, p).map(String::from);
        assert_eq!(
            on("/health?full=1#x").as_deref(),
            Ok("https://shop.example.nl:8443/health?full=1")
        );
        assert_eq!(
            on("/a/../b").as_deref(),
            Ok("https://shop.example.nl:8443/b")
        );
        assert_eq!(
            on("/%2F%2Fevil/x").as_deref(),
            Ok("https://shop.example.nl:8443/%2F%2Fevil/x")
        );
        // Issue #16: these connected to another host.
        for bad in [
            "//127.0.0.2:8080/c1",
            "/\\127.0.0.2:8080/c1",
            "/x\\y",
            "///evil",
            "http://evil/",
            "evil",
            "/a\nb",
        ] {
            assert!(on(bad).is_err(), "{bad:?}");
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn judges_status_body_and_time() {
        let c = check();
        assert_eq!(judge(&c, 200, 10, Some(b"<h1>Welcome</h1>")), None);
        assert!(
            judge(&c, 503, 10, Some(b"Welcome"))
                .unwrap()
                .contains("status 503")
        );
        assert!(
            judge(&c, 200, 10, Some(b"nothing"))
                .unwrap()
                .contains("`Welcome`")
        );
        assert!(
            judge(&c, 200, 900, Some(b"Welcome"))
                .unwrap()
                .contains("900 ms")
        );
    }
}
