//! Checks over HTTP that a change is being served: the site's URL answers with the desired
//! headers, and each managed redirect answers with its status and `Location`. Requests honour
//! `connect`/`connect_http` (like curl `--resolve`), `ca` and `insecure_skip_verify`, never
//! follow redirects, and are retried with backoff until a deadline, because a reloaded server
//! keeps answering from old workers for a moment.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::desired::DesiredHeader;
use crate::spec::{ConnectTo, Redirect, Site, WebUrl};

/// What must be served after an apply.
#[derive(Debug, Default)]
pub struct Expect {
    pub headers: Vec<DesiredHeader>,
    pub redirects: Vec<Redirect>,
}

/// Consecutive successful rounds (each on a fresh connection) that count as "served": right
/// after a reload, old workers may still accept a connection or two with the old config.
const STABLE_ROUNDS: u32 = 3;

/// Retries until everything in `expect` is served [`STABLE_ROUNDS`] times in a row or `budget`
/// is spent; the error says what was served last (secret values as digests).
pub async fn until_served(
    site: &Site,
    repo: &Path,
    expect: &Expect,
    budget: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + budget;
    let mut pause = Duration::from_millis(100);
    let mut streak = 0;
    loop {
        match check(site, repo, expect).await {
            Ok(()) => {
                streak += 1;
                if streak == STABLE_ROUNDS {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if Instant::now() + pause >= deadline => {
                return Err(format!("not served within {} s: {e}", budget.as_secs()));
            }
            Err(_) => {
                streak = 0;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// One round of requests.
async fn check(site: &Site, repo: &Path, expect: &Expect) -> Result<(), String> {
    if !expect.headers.is_empty() {
        let url = &site.url;
        let client = client_for(site, repo, url, site.connect.as_ref(), false).await?;
        let resp = client
            .get(url.as_str())
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", crate::error_text::chain(&e)))?;
        for h in &expect.headers {
            let served: Vec<String> = resp
                .headers()
                .get_all(h.name.as_str())
                .iter()
                .map(|v| normalise(&String::from_utf8_lossy(v.as_bytes())))
                .collect();
            // Like the diff: every value sent counts (a second copy from another layer is drift).
            if normalise(&served.join(", ")) != normalise(&h.value) {
                let shown = if served.is_empty() {
                    "not sent".to_owned()
                } else if h.secret {
                    "sent with another value".to_owned()
                } else {
                    format!("`{}`", served.join(", "))
                };
                return Err(format!(
                    "GET {url}: header `{}` is {shown}, expected `{}`",
                    h.name,
                    h.shown()
                ));
            }
        }
    }
    for r in &expect.redirects {
        let connect = site.connect_http.as_ref().or(site.connect.as_ref());
        let port_from_url = site.connect_http.is_none();
        let client = client_for(site, repo, &r.from, connect, port_from_url).await?;
        let resp = client
            .get(r.from.as_str())
            .send()
            .await
            .map_err(|e| format!("GET {}: {}", r.from, crate::error_text::chain(&e)))?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| r.from.url().join(l).ok());
        let ok = resp.status().as_u16() == r.status && location.as_ref() == Some(r.to.url());
        if !ok {
            return Err(format!(
                "GET {}: answered {} to {}, expected {} to {}",
                r.from,
                resp.status().as_u16(),
                location.map_or_else(|| "nowhere".to_owned(), |l| l.to_string()),
                r.status,
                r.to
            ));
        }
    }
    Ok(())
}

/// A client for `url`, sending it to `connect` when given; with `port_from_url` the connect
/// port is ignored (a `connect` meant for https reused for an http redirect source).
async fn client_for(
    site: &Site,
    repo: &Path,
    url: &WebUrl,
    connect: Option<&ConnectTo>,
    port_from_url: bool,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if let Some(c) = connect {
        let port = match c.port {
            Some(p) if !port_from_url => p,
            _ => url.port(),
        };
        let addr = lookup(&c.host, port).await?;
        b = b.resolve(url.host(), addr);
    }
    if let Some(ca) = &site.ca {
        let path = crate::load::site::resolve(repo, ca);
        let pem = crate::load::file::read(
            &path,
            crate::load::file::MAX_PEM_BYTES,
            crate::load::file::Links::Follow,
        )
        .map_err(|e| {
            let why = crate::error_text::chain(&e);
            format!("cannot read `ca` file `{}`: {why}", path.display())
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("`ca` file `{}` is not PEM: {e}", path.display()))?;
        b = b.tls_certs_merge(certs);
    }
    if site.insecure_skip_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| {
        format!(
            "cannot build an HTTP client: {}",
            crate::error_text::chain(&e)
        )
    })
}

async fn lookup(host: &str, port: u16) -> Result<SocketAddr, String> {
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("`connect` address `{host}` does not resolve"))
}

/// Whitespace runs collapsed, ends trimmed: header values compare like this (SPEC).
fn normalise(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}
