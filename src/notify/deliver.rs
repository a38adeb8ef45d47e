//! Delivery: each target's payload POSTed as JSON, all targets at once, each request bounded by
//! the run's `--timeout`, retried up to [`ATTEMPTS`] times in all when the receiver could not be
//! reached or answered 429 or 5xx (another 4xx is final). Redirects are not followed, TLS is
//! verified against the Web PKI roots, and no error text carries the URL.

use std::path::Path;
use std::time::Duration;

use super::{Delivery, Endpoint, Target, check_url};

/// Requests per delivery at most (the first and two retries).
pub const ATTEMPTS: u32 = 3;

/// Pause before the first retry; it doubles before each next one.
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// One target's payload, ready to send.
pub struct Job<'a> {
    pub target: &'a Target,
    pub body: Vec<u8>,
    /// Events in `body`.
    pub events: usize,
}

/// Sends every job concurrently; `file:` URLs are relative to the state repo `repo`.
pub async fn all(jobs: Vec<Job<'_>>, repo: &Path, timeout: Duration) -> Vec<Delivery> {
    let client = match client(timeout) {
        Ok(c) => c,
        Err(e) => return jobs.iter().map(|j| failed(j, e.clone())).collect(),
    };
    futures_util::future::join_all(jobs.iter().map(|j| one(&client, j, repo))).await
}

async fn one(client: &reqwest::Client, job: &Job<'_>, repo: &Path) -> Delivery {
    let url = match url(&job.target.endpoint, repo) {
        Ok(u) => u,
        Err(e) => return failed(job, format!("url: {e}")),
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(job.body.clone())
            .send()
            .await;
        let (error, again) = match sent {
            Ok(r) if r.status().is_success() => return outcome(job, attempts, Ok(())),
            Ok(r) => {
                let status = r.status();
                let again = status.is_server_error() || status.as_u16() == 429;
                (format!("the receiver answered {status}"), again)
            }
            Err(e) => (
                scrub(&crate::error_text::chain(&e.without_url()), &url),
                true,
            ),
        };
        if !again || attempts >= ATTEMPTS {
            return outcome(job, attempts, Err(error));
        }
        tokio::time::sleep(FIRST_PAUSE * 2u32.pow(attempts - 1)).await;
    }
}

/// The target's URL: as written, or resolved from its secret reference; checked either way.
fn url(endpoint: &Endpoint, repo: &Path) -> Result<url::Url, String> {
    match endpoint {
        Endpoint::Url(text) => check_url(text),
        Endpoint::Secret(reference) => {
            let value = crate::secret::resolve(reference, repo)
                .map(crate::secret::Secret::new)
                .map_err(|e| crate::error_text::chain(&e))?;
            check_url(value.expose()).map_err(|why| format!("`{reference}`: {why}"))
        }
    }
}

/// `text` with the URL (and its path, which usually holds the token) taken out, should a lower
/// layer ever have put it in.
fn scrub(text: &str, url: &url::Url) -> String {
    let mut out = text.replace(url.as_str(), "<url>");
    if url.path().len() > 1 {
        out = out.replace(url.path(), "<path>");
    }
    out
}

/// A delivery that could not even start.
pub fn failed(job: &Job<'_>, error: String) -> Delivery {
    outcome(job, 0, Err(error))
}

fn outcome(job: &Job<'_>, attempts: u32, result: Result<(), String>) -> Delivery {
    Delivery {
        target: job.target.name.clone(),
        events: job.events,
        ok: result.is_ok(),
        attempts,
        error: result.err(),
    }
}

/// One client for every delivery of the run.
fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(crate::probe::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("siteward/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            format!(
                "cannot build the HTTP client: {}",
                crate::error_text::chain(&e)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_takes_out_url_and_path() {
        let url = url::Url::parse("https://hooks.example.com/services/T0/SECRET").unwrap();
        let text = "error sending request for url (https://hooks.example.com/services/T0/SECRET): /services/T0/SECRET";
        let out = scrub(text, &url);
        assert!(!out.contains("SECRET"), "{out}");
    }
}
