//! HTTP clients: one reqwest client per distinct (trust roots, insecure, connect address), so
//! a fleet behind one address shares one connection pool and TLS configuration. Each client
//! maps every host name of its sites to the address (`connect:`, like curl `--resolve`), so SNI
//! and `Host` stay those of the URL.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;

use crate::probe::tls::{self, RecordingVerifier, SeenChains, TlsSetupError};
use crate::spec::{ConnectTo, Site};

/// What distinguishes one client from another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    ca: Option<PathBuf>,
    insecure: bool,
    addr: Option<SocketAddr>,
}

/// A built client and the chains its verifier records.
#[derive(Debug, Clone)]
pub struct Built {
    pub client: reqwest::Client,
    pub seen: SeenChains,
    pub roots: Arc<RootCertStore>,
}

/// The two clients one site uses (https and plain http), and the addresses they connect to
/// (`connect`/`connect_http`; `None`: what DNS says).
#[derive(Debug, Clone)]
pub struct SiteClients {
    pub https: Built,
    pub http: Built,
    pub https_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    /// The host names (lowercased) that go to those addresses: the site's own.
    pub hosts: BTreeSet<String>,
}

/// Setting up a site's clients failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    #[error("cannot resolve `{addr}` from `connect`: {message}")]
    Connect { addr: String, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// One site's needs: trust, addresses and the host names its requests use.
struct Plan {
    ca: Option<PathBuf>,
    insecure: bool,
    https_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    https_hosts: BTreeSet<String>,
    http_hosts: BTreeSet<String>,
}

/// Builds the clients for `sites` (CA paths already resolved against the repo), in order.
pub async fn build(
    sites: &[(&Site, Option<PathBuf>)],
    timeout: Duration,
) -> Vec<Result<SiteClients, ClientError>> {
    let mut plans = Vec::new();
    for (site, ca) in sites {
        plans.push(plan(site, ca.clone()).await);
    }
    let mut hosts: HashMap<Key, BTreeSet<String>> = HashMap::new();
    for p in plans.iter().flatten() {
        for (addr, names) in [(p.https_addr, &p.https_hosts), (p.http_addr, &p.http_hosts)] {
            let key = Key {
                ca: p.ca.clone(),
                insecure: p.insecure,
                addr,
            };
            hosts.entry(key).or_default().extend(names.iter().cloned());
        }
    }
    let mut roots: HashMap<Option<PathBuf>, Result<Arc<RootCertStore>, String>> = HashMap::new();
    let mut built: HashMap<Key, Result<Built, String>> = HashMap::new();
    for (key, names) in &hosts {
        let r = roots
            .entry(key.ca.clone())
            .or_insert_with(|| tls::roots(key.ca.as_deref()).map_err(|e| e.to_string()))
            .clone();
        let b = r.and_then(|r| client(key, names, r, timeout).map_err(|e| e.to_string()));
        built.insert(key.clone(), b);
    }
    plans
        .into_iter()
        .map(|p| {
            let p = p?;
            let get = |addr| {
                let key = Key {
                    ca: p.ca.clone(),
                    insecure: p.insecure,
                    addr,
                };
                match built.get(&key) {
                    Some(Ok(b)) => Ok(b.clone()),
                    Some(Err(e)) => Err(ClientError::Build(e.clone())),
                    None => Err(ClientError::Build("no client was built".into())),
                }
            };
            Ok(SiteClients {
                https: get(p.https_addr)?,
                http: get(p.http_addr)?,
                https_addr: p.https_addr,
                http_addr: p.http_addr,
                hosts: p.https_hosts.union(&p.http_hosts).cloned().collect(),
            })
        })
        .collect()
}

async fn plan(site: &Site, ca: Option<PathBuf>) -> Result<Plan, ClientError> {
    let https_addr = match &site.connect {
        Some(c) => Some(addr(c, c.port).await?),
        None => None,
    };
    // Plain http goes to `connect_http`, else to `connect`'s address at the URL's own port
    // (port 0 tells reqwest to use the URL's port).
    let http_addr = match (&site.connect_http, &site.connect) {
        (Some(c), _) => Some(addr(c, c.port).await?),
        (None, Some(c)) => Some(addr(c, None).await?),
        (None, None) => None,
    };
    let mut https_hosts = BTreeSet::new();
    let mut http_hosts = BTreeSet::new();
    let urls = std::iter::once(&site.url).chain(site.redirects.iter().map(|r| &r.from));
    for u in urls {
        let host = u.host().to_ascii_lowercase();
        https_hosts.insert(host.clone());
        http_hosts.insert(host);
    }
    Ok(Plan {
        ca,
        insecure: site.insecure_skip_verify,
        https_addr,
        http_addr,
        https_hosts,
        http_hosts,
    })
}

/// The socket address of a `connect` value (a name is looked up once).
async fn addr(c: &ConnectTo, port: Option<u16>) -> Result<SocketAddr, ClientError> {
    let port = port.unwrap_or(0);
    if let Ok(ip) = c.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut found = tokio::net::lookup_host((c.host.as_str(), port))
        .await
        .map_err(|e| ClientError::Connect {
            addr: c.as_str().to_owned(),
            message: e.to_string(),
        })?;
    found.next().ok_or_else(|| ClientError::Connect {
        addr: c.as_str().to_owned(),
        message: "no address found".into(),
    })
}

fn client(
    key: &Key,
    names: &BTreeSet<String>,
    roots: Arc<RootCertStore>,
    timeout: Duration,
) -> Result<Built, ClientError> {
    let seen = SeenChains::default();
    let verifier = RecordingVerifier::new(roots.clone(), key.insecure, seen.clone())?;
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls::client_config(verifier)?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        // A site's requests (page, redirects, checks) follow each other closely; a connection
        // idle longer belongs to a site that is done. Keeping it would hold its TLS buffers
        // (tens of KB) for thousands of finished sites at once: at 10,000 sites, half a second
        // of idle connections was a fifth of the run's peak memory.
        .pool_idle_timeout(Duration::from_millis(100))
        .pool_max_idle_per_host(1)
        .user_agent(concat!("siteward/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if let Some(addr) = key.addr {
        for name in names {
            builder = builder.resolve(name, addr);
        }
    }
    let client = builder
        .build()
        .map_err(|e| ClientError::Build(e.to_string()))?;
    Ok(Built {
        client,
        seen,
        roots,
    })
}
