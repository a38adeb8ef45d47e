//! One HTTP GET without following redirects, with the per-host limit, at most one retry for
//! connection-level failures, and a bounded body read.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use url::Url;

use crate::observe::limits::HostLimits;
use crate::observe::live::Page;

/// Largest body read (checks, fingerprints); reading stops there.
pub const MAX_BODY: usize = 1024 * 1024;

/// Pause before the one retry of a connection-level failure.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);

/// Why a request got no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{url} did not answer within {secs:.1} s")]
    Timeout { url: String, secs: f64 },
    #[error("{url}: certificate refused: {message}")]
    Certificate { url: String, message: String },
    #[error("{url}: {message}")]
    Other { url: String, message: String },
}

impl FetchError {
    /// Whether the server did not answer at all (refused, unreachable, timed out).
    pub fn unreachable(&self) -> bool {
        matches!(
            self,
            FetchError::Connect { .. } | FetchError::Timeout { .. }
        )
    }
}

/// A response: status, headers, resolved `Location`, timing and (when asked) the body.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub page: Page,
    pub location: Option<String>,
    /// At most [`MAX_BODY`] bytes, when requested.
    pub body: Option<Vec<u8>>,
}

/// The HTTP side of observing one site: a client per scheme, the host limits, the timeout.
#[derive(Debug, Clone)]
pub struct Http {
    pub https: reqwest::Client,
    pub http: reqwest::Client,
    pub limits: HostLimits,
    pub timeout: Duration,
    /// Where https requests connect (`connect`), when not where DNS says.
    pub https_addr: Option<SocketAddr>,
    /// Where plain-http requests connect (`connect_http`, else `connect`'s address).
    pub http_addr: Option<SocketAddr>,
    /// The host names (lowercased) those addresses serve; other hosts go where DNS says.
    pub connect_hosts: BTreeSet<String>,
}

impl Http {
    /// GETs `url` (no redirects followed); reads the body when `body` is set.
    pub async fn get(&self, url: &Url, body: bool) -> Result<Fetched, FetchError> {
        self.send(reqwest::Method::GET, url, &[], body).await
    }

    /// Sends `method` to `url` with `extra` request headers (no redirects followed); reads the
    /// body when `body` is set. What [`Http::get`] does, for any method.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: bool,
    ) -> Result<Fetched, FetchError> {
        self.send_with(method, url, extra, body, 1).await
    }

    /// [`Http::send`] without the retry, for a request whose refusal is itself the answer: the
    /// web grade's plain-http front page, which many sites do not serve at all (a retry there
    /// cost every such site the backoff).
    pub async fn send_once(
        &self,
        method: reqwest::Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: bool,
    ) -> Result<Fetched, FetchError> {
        self.send_with(method, url, extra, body, 0).await
    }

    async fn send_with(
        &self,
        method: reqwest::Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: bool,
        retries: u32,
    ) -> Result<Fetched, FetchError> {
        let host = url.host_str().unwrap_or_default();
        let _permit = self.limits.acquire(host).await;
        let client = if url.scheme() == "http" {
            &self.http
        } else {
            &self.https
        };
        let mut attempt = 0;
        loop {
            match self.once(client, &method, url, extra, body).await {
                Err(FetchError::Connect { .. }) if attempt < retries => {
                    attempt += 1;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                other => return other,
            }
        }
    }

    /// The address requests for `url` connect to, when `connect` says so.
    fn via(&self, url: &Url) -> Option<SocketAddr> {
        let host = url.host_str()?.to_ascii_lowercase();
        if !self.connect_hosts.contains(&host) {
            return None;
        }
        if url.scheme() == "http" {
            self.http_addr
        } else {
            self.https_addr
        }
    }

    async fn once(
        &self,
        client: &reqwest::Client,
        method: &reqwest::Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: bool,
    ) -> Result<Fetched, FetchError> {
        let start = Instant::now();
        let mut req = request(client, method, url, self.via(url));
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        let mut resp = req.send().await.map_err(|e| self.classify(url, &e))?;
        let ms = start.elapsed().as_millis() as u64;
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in resp.headers() {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(name.as_str().to_owned())
                .or_default()
                .push(text);
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url.join(v).ok())
            .map(String::from);
        let page = Page {
            status: resp.status().as_u16(),
            headers,
            ms,
        };
        let body = if body {
            let mut buf = Vec::new();
            while buf.len() < MAX_BODY {
                match resp.chunk().await.map_err(|e| self.classify(url, &e))? {
                    Some(chunk) => buf.extend_from_slice(&chunk),
                    None => break,
                }
            }
            buf.truncate(MAX_BODY);
            Some(buf)
        } else {
            None
        };
        Ok(Fetched {
            page,
            location,
            body,
        })
    }

    fn classify(&self, url: &Url, e: &reqwest::Error) -> FetchError {
        let url = match self.via(url) {
            Some(addr) => format!("{url} (connecting to {})", connect_addr(url, addr)),
            None => url.to_string(),
        };
        if let Some(message) = certificate_error(e) {
            return FetchError::Certificate { url, message };
        }
        if e.is_timeout() {
            return FetchError::Timeout {
                url,
                secs: self.timeout.as_secs_f64(),
            };
        }
        let message = crate::error_text::chain(e);
        if e.is_connect() {
            FetchError::Connect { url, message }
        } else {
            FetchError::Other { url, message }
        }
    }
}

/// A `method` request for `url` sent to `via` when `connect` gives an address. reqwest's `resolve` keeps an
/// explicit URL port, so when `connect` names another port the request goes to that port and
/// carries the URL's own authority as `Host` (SNI is the host name either way), like curl's
/// `--connect-to`.
fn request(
    client: &reqwest::Client,
    method: &reqwest::Method,
    url: &Url,
    via: Option<SocketAddr>,
) -> reqwest::RequestBuilder {
    let port = via.map(|a| a.port()).filter(|p| *p != 0);
    match (port, url.port()) {
        (Some(port), Some(own)) if port != own => {
            let mut target = url.clone();
            let _ = target.set_port(Some(port));
            let authority = format!("{}:{own}", url.host_str().unwrap_or_default());
            client
                .request(method.clone(), target)
                .header(reqwest::header::HOST, authority)
        }
        _ => client.request(method.clone(), url.clone()),
    }
}

/// The address a request for `url` really goes to: `via`, at the URL's port when `via` has
/// none.
fn connect_addr(url: &Url, via: SocketAddr) -> SocketAddr {
    match (via.port(), url.port_or_known_default()) {
        (0, Some(p)) => SocketAddr::new(via.ip(), p),
        _ => via,
    }
}

/// The rustls certificate error somewhere in the error's source chain, if any (it arrives
/// wrapped in one or more `io::Error`s, whose `source()` skips the wrapped error).
fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let mut inner = err;
        loop {
            if let Some(rustls::Error::InvalidCertificate(c)) =
                inner.downcast_ref::<rustls::Error>()
            {
                return Some(format!("invalid peer certificate: {c}"));
            }
            match inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        cur = err.source();
    }
    None
}
