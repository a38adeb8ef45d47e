//! The demo's embedded HTTPS server: one loopback port, one certificate for every demo host
//! (signed by an in-memory CA), and per host a web root whose `_headers` file (Netlify /
//! Cloudflare Pages format) decides the response headers. The file is read on every request, so
//! a change written by the headers-file provider is served at once — like a static host that
//! deploys such files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::pki::Issued;

/// A running demo server; stops when dropped.
pub struct DemoServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts serving `roots` (host name → web root) over TLS with `cert` on 127.0.0.1.
pub async fn start(cert: &Issued, roots: BTreeMap<String, PathBuf>) -> anyhow::Result<DemoServer> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes()).collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let roots = Arc::new(roots);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let roots = roots.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let roots = roots.clone();
                    async move { Ok::<_, std::convert::Infallible>(respond(&roots, &req)) }
                });
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(DemoServer { addr, task })
}

fn respond(roots: &BTreeMap<String, PathBuf>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let host = req
        .uri()
        .host()
        .or_else(|| {
            req.headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let Some(root) = roots.get(host) else {
        return plain(StatusCode::NOT_FOUND, "unknown host\n");
    };
    let path = req.uri().path();
    let (status, body) = match page(root, path) {
        Some(body) => (StatusCode::OK, body),
        None => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = plain(status, &body);
    let rules = std::fs::read_to_string(root.join("_headers")).unwrap_or_default();
    for (name, value) in headers_for(&rules, path) {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::try_from(name),
            hyper::header::HeaderValue::try_from(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

/// The page for `path`: `index.html` for `/`, otherwise a file under the root (no `..`).
fn page(root: &Path, path: &str) -> Option<String> {
    let rel = path.trim_start_matches('/');
    if rel
        .split('/')
        .any(|part| part == ".." || part.starts_with('.'))
    {
        return None;
    }
    let file = if rel.is_empty() || rel.ends_with('/') {
        root.join(rel).join("index.html")
    } else {
        root.join(rel)
    };
    std::fs::read_to_string(file).ok()
}

fn plain(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The headers a `_headers` file assigns to `path`: rules are a path pattern line (exact, or
/// ending in `*` for a prefix) followed by indented `Name: value` lines; `#` starts a comment.
pub fn headers_for(rules: &str, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut matching = false;
    for line in rules.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            matching = match trimmed.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => trimmed == path,
            };
        } else if matching && let Some((name, value)) = trimmed.split_once(':') {
            out.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_file_rules_match_by_path() {
        let rules = "# comment\n/*\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n/admin/*\n  Cache-Control: no-store\n/exact\n  X-A: b: c\n";
        assert_eq!(headers_for(rules, "/").len(), 2);
        let admin = headers_for(rules, "/admin/x");
        assert!(admin.contains(&("Cache-Control".into(), "no-store".into())));
        assert_eq!(
            headers_for(rules, "/exact").last(),
            Some(&("X-A".into(), "b: c".into()))
        );
    }

    #[test]
    fn pages_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "hi").unwrap();
        assert_eq!(page(dir.path(), "/").as_deref(), Some("hi"));
        assert_eq!(page(dir.path(), "/../etc/passwd"), None);
        assert_eq!(page(dir.path(), "/.git/config"), None);
    }
}
