//! What the MDN HTTP Observatory's grader looks at, requested the way its retriever requests
//! it: the `http://` and the `https://` front page, each with its redirect chain followed by
//! hand (every response's `Set-Cookie` kept), the final page's body (for `<meta http-equiv>`
//! CSP, the referrer meta tag and scripts for SRI), and a CORS preflight of the final URL.
//!
//! Requests stay on the site: a hop to another host is recorded (its URL) but not requested,
//! as for redirects ([`super::redirects`]). `connect`/`connect_http` apply as everywhere,
//! through [`Http`].

use url::Url;

use super::http::{FetchError, Http};
use crate::observe::live::Page;

/// Redirects followed at most, as the Observatory's retriever does.
pub const MAX_REDIRECTS: usize = 10;
/// The statuses that are followed (the Observatory's list; 300 and 304 are final).
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];
/// The `Origin` of the CORS preflight: the Observatory's own default.
pub const CORS_ORIGIN: &str = "https://http-observatory.security.mozilla.org";
const ACCEPT: (&str, &str) = (
    "accept",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
);

/// Everything the grader reads, for one site.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The host name graded (the site URL's).
    pub host: String,
    /// The chain from `http://host/`; `None` when it got no response at all.
    pub http: Option<Chain>,
    /// The chain from `https://host/`; `None` when it got no response at all.
    pub https: Option<Chain>,
    /// The answer to the CORS preflight of the final URL, when it was a success (2xx): the
    /// Observatory's client treats any other status as no answer.
    pub cors: Option<Page>,
}

impl View {
    /// The chain whose final page is graded: the https one when it answered, else the http one
    /// (as the Observatory picks its "auto" response).
    pub fn auto(&self) -> Option<&Chain> {
        self.https.as_ref().or(self.http.as_ref())
    }
}

/// One front-page request and the redirects it led to.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Every URL of the chain in order, the first requested one first, the final one last.
    pub visits: Vec<Visit>,
    /// Every certificate on the way was accepted.
    pub verified: bool,
    /// The final response (absent when the chain ended at a refused certificate or at a hop
    /// to another host).
    pub last: Option<Page>,
    /// The final response's body as text (at most [`super::http::MAX_BODY`] bytes).
    pub body: Option<String>,
}

/// One URL of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub url: Url,
    /// 0 when the URL was not requested (another host, a refused certificate).
    pub status: u16,
    /// Every `Set-Cookie` value of the response, in order.
    pub set_cookie: Vec<String>,
}

/// Requests what the grader needs for the site at `url` (its origin is graded).
pub async fn observe(http: &Http, url: &Url) -> View {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let mut view = View {
        host: host.clone(),
        ..View::default()
    };
    let mut https_url = url.clone();
    if https_url.scheme() == "http" {
        // An `allow_http` site: its https front page is still asked for, on the default port.
        let _ = https_url.set_scheme("https");
        let _ = https_url.set_port(None);
    }
    https_url.set_path("/");
    https_url.set_query(None);
    https_url.set_fragment(None);
    let mut http_url = https_url.clone();
    // `set_scheme` refuses nothing between http and https; the port is the scheme's default,
    // `connect_http` supplies another.
    let _ = http_url.set_scheme("http");
    let _ = http_url.set_port(None);
    let (plain, secure) = tokio::join!(chain(http, http_url, &host), chain(http, https_url, &host));
    view.http = plain;
    view.https = secure;
    let last_url = view
        .auto()
        .and_then(|c| c.visits.last())
        .filter(|v| v.status != 0)
        .map(|v| v.url.clone());
    if let Some(target) = last_url {
        let preflight = [
            ("access-control-request-method", "GET"),
            ("origin", CORS_ORIGIN),
        ];
        view.cors = http
            .send(reqwest::Method::OPTIONS, &target, &preflight, false)
            .await
            .ok()
            .map(|f| f.page)
            .filter(|p| (200..300).contains(&p.status));
    }
    view
}

/// Follows `start`'s redirects on `host`; `None` when a request got no response at all.
async fn chain(http: &Http, start: Url, host: &str) -> Option<Chain> {
    let mut out = Chain {
        verified: true,
        ..Chain::default()
    };
    let mut url = start;
    loop {
        if !url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)) {
            out.visits.push(Visit {
                url,
                status: 0,
                set_cookie: Vec::new(),
            });
            return Some(out);
        }
        let sent = if url.scheme() == "http" {
            http.send_once(reqwest::Method::GET, &url, &[ACCEPT], true)
                .await
        } else {
            http.send(reqwest::Method::GET, &url, &[ACCEPT], true).await
        };
        match sent {
            Ok(f) => {
                let status = f.page.status;
                out.visits.push(Visit {
                    url: url.clone(),
                    status,
                    set_cookie: f
                        .page
                        .headers
                        .get("set-cookie")
                        .cloned()
                        .unwrap_or_default(),
                });
                let follow =
                    REDIRECT_STATUSES.contains(&status) && out.visits.len() <= MAX_REDIRECTS;
                if follow {
                    // A redirect without a usable `Location` fails the whole request there.
                    url = Url::parse(f.location.as_deref()?).ok()?;
                    continue;
                }
                out.body = f.body.map(|b| String::from_utf8_lossy(&b).into_owned());
                out.last = Some(f.page);
                return Some(out);
            }
            Err(FetchError::Certificate { .. }) => {
                out.verified = false;
                out.visits.push(Visit {
                    url,
                    status: 0,
                    set_cookie: Vec::new(),
                });
                return Some(out);
            }
            Err(_) => return None,
        }
    }
}
