//! Availability checks (`checks:`): status, body text and response time, with a bounded body.

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
    let url = match base.join(&check.path) {
        Ok(u) => u,
        Err(e) => {
            outcome.message = Some(format!(
                "path `{}` is not a valid URL path: {e}",
                check.path
            ));
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
