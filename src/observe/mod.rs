//! Observe: every selected site's live state, with bounded concurrency.
//!
//! Guarantees: at most `concurrency` sites and `per_host` requests per host name at once; each
//! request ends within `timeout`; a connection-level failure is retried once; a site never
//! takes longer than its own budget (so a dead site delays no other); the whole run ends by a
//! deadline, sites not finished by then are `unknown`. Observation never changes anything.

pub mod clients;
pub mod limits;
pub mod live;
pub mod managed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, future::join_all, stream};
use tracing::Instrument;

use crate::probe::http::{FetchError, Http};
use crate::probe::{checks, fingerprint, observatory, redirects, tls};
use crate::secret::RunSecrets;
use crate::spec::Site;
use clients::SiteClients;
use limits::HostLimits;
use live::{LiveSite, TlsObservation};

/// How a run observes.
#[derive(Debug, Clone, Copy)]
pub struct ObserveOpts {
    /// Sites observed at once.
    pub concurrency: usize,
    /// Requests at once to one host name.
    pub per_host: usize,
    /// Per request.
    pub timeout: Duration,
    /// Show progress on stderr ([`crate::progress`]): a long run, not a verification.
    pub progress: bool,
    /// When the whole run must end (`--deadline`): sites not observed by then are `unknown`.
    pub deadline: Option<std::time::Instant>,
    /// Also fetch what the web grade looks at (both front pages' redirect chains, cookies, a
    /// CORS preflight): `check` needs it; `plan` and the acting commands do not pay for it.
    pub grade: bool,
}

impl ObserveOpts {
    /// The longest one site may take: its page, then its other probes, plus a retry backoff.
    pub fn site_budget(&self) -> Duration {
        self.timeout
            .saturating_mul(3)
            .saturating_add(Duration::from_secs(1))
    }

    /// Deadlines for reading and changing files on a provider's target: connecting takes at
    /// most the request timeout (capped at 30 s), a command six times it (at least 60 s).
    pub fn transport_timeouts(&self) -> crate::transport::Timeouts {
        crate::transport::Timeouts {
            connect: self.timeout.min(Duration::from_secs(30)),
            command: self.timeout.saturating_mul(6).max(Duration::from_secs(60)),
        }
    }

    /// The whole-run deadline for `sites` sites: every wave of `concurrency` sites may use
    /// its full budget.
    pub fn run_deadline(&self, sites: usize) -> Duration {
        let waves = sites.div_ceil(self.concurrency.max(1)).max(1) as u32;
        self.site_budget().saturating_mul(waves)
    }
}

/// Whether the site is fingerprinted passively (WordPress without a software provider).
pub fn fingerprinted(site: &Site) -> bool {
    site.manage.software.is_none()
        && site
            .software
            .as_ref()
            .is_some_and(|s| s.platform.eq_ignore_ascii_case("wordpress"))
}

/// Observes `sites` (in order) of the state repo at `repo`; `secrets` holds what their software
/// providers log in with.
pub async fn observe_all(
    sites: &[&Site],
    repo: &Path,
    opts: ObserveOpts,
    secrets: &RunSecrets,
) -> Vec<LiveSite> {
    let with_ca: Vec<(&Site, Option<PathBuf>)> = sites
        .iter()
        .map(|s| {
            (
                *s,
                s.ca.as_deref().map(|p| crate::load::site::resolve(repo, p)),
            )
        })
        .collect();
    let clients = clients::build(&with_ca, opts.timeout).await;
    let limits = HostLimits::new(opts.per_host);
    let progress = crate::progress::Phase::start(
        "observe",
        crate::progress::Unit::Sites,
        sites.len(),
        opts.progress,
    );
    let mut results: Vec<Option<LiveSite>> = vec![None; sites.len()];
    let budget = opts.site_budget();
    let tasks = sites.iter().zip(clients).enumerate().map(|(i, (site, c))| {
        let limits = limits.clone();
        let span = tracing::info_span!("observe", site = %site.name);
        let progress = &progress;
        async move {
            let _running = progress.begin(site.name.as_str());
            let live = match c {
                Ok(c) => {
                    let work = observe_site(site, repo, c, limits, opts, secrets);
                    match tokio::time::timeout(budget, work).await {
                        Ok(live) => live,
                        Err(_) => failed(
                            site,
                            format!("observation took longer than {} s", budget.as_secs()),
                        ),
                    }
                }
                Err(e) => failed(site, e.to_string()),
            };
            (i, live)
        }
        .instrument(span)
    });
    let mut done = stream::iter(tasks).buffer_unordered(opts.concurrency.max(1));
    let mut deadline = tokio::time::Instant::now() + opts.run_deadline(sites.len());
    if let Some(run) = opts.deadline {
        deadline = deadline.min(tokio::time::Instant::from_std(run));
    }
    while let Ok(Some((i, live))) = tokio::time::timeout_at(deadline, done.next()).await {
        results[i] = Some(live);
    }
    drop(done);
    drop(progress);
    results
        .into_iter()
        .zip(sites)
        .map(|(r, s)| {
            r.unwrap_or_else(|| {
                failed(
                    s,
                    "the run deadline passed before this site was observed".into(),
                )
            })
        })
        .collect()
}

/// The HTTP side of one site: its clients, the run's host limits, the request timeout.
pub fn http(clients: &SiteClients, limits: HostLimits, timeout: Duration) -> Http {
    Http {
        https: clients.https.client.clone(),
        http: clients.http.client.clone(),
        limits,
        timeout,
        https_addr: clients.https_addr,
        http_addr: clients.http_addr,
        connect_hosts: clients.hosts.clone(),
    }
}

fn failed(site: &Site, error: String) -> LiveSite {
    LiveSite {
        site: site.name.to_string(),
        insecure_skip_verify: site.insecure_skip_verify,
        error: Some(error),
        ..LiveSite::default()
    }
}

/// Observes one site: 1. the page and the certificate chain it came with; 2. redirects,
/// checks, the fingerprint and what the web grade reads, at once.
async fn observe_site(
    site: &Site,
    repo: &Path,
    clients: SiteClients,
    limits: HostLimits,
    opts: ObserveOpts,
    secrets: &RunSecrets,
) -> LiveSite {
    let http = http(&clients, limits, opts.timeout);
    let mut live = LiveSite {
        site: site.name.to_string(),
        insecure_skip_verify: site.insecure_skip_verify,
        ..LiveSite::default()
    };
    let base = site.url.url();
    let fingerprint = fingerprinted(site);

    // 1. The page, and over https the chain the server sent with it.
    let page = http.get(base, fingerprint).await;
    if site.url.is_https() {
        let host = site.url.host().to_ascii_lowercase();
        let chain = clients
            .https
            .seen
            .lock()
            .ok()
            .and_then(|seen| seen.get(&host).cloned());
        if let Some(presented) = chain {
            let now = chrono::Utc::now().timestamp();
            match tls::analyse(&presented.chain, &clients.https.roots, &host, now) {
                Ok(t) => {
                    live.tls = Some(TlsObservation {
                        ocsp_stapled: Some(presented.ocsp.is_some()),
                        ocsp: presented.ocsp,
                        ..t
                    })
                }
                Err(e) => tracing::warn!("certificate not analysed: {e}"),
            }
        }
    }
    let home = match page {
        Ok(f) => {
            live.page = Some(f.page);
            f.body
        }
        Err(FetchError::Certificate { message, .. }) if live.tls.is_some() => {
            live.https_refused = Some(message);
            None
        }
        Err(e) => {
            live.unreachable = e.unreachable();
            live.error = Some(e.to_string());
            return live;
        }
    };

    // 2. Redirects, checks, the fingerprint and the graded requests, concurrently.
    let redirects = join_all(site.redirects.iter().map(|r| {
        let hosts = [r.from.host(), r.to.host(), site.url.host()];
        let http = &http;
        async move { redirects::follow(http, r.from.url(), &hosts).await }
    }));
    let refused = live.https_refused.clone();
    let checks = join_all(site.checks.iter().map(|c| {
        let refused = refused.clone();
        let http = &http;
        async move {
            match refused {
                Some(why) => crate::plan::CheckOutcome {
                    name: c.name.clone(),
                    ok: false,
                    status: None,
                    ms: None,
                    message: Some(format!("not run: certificate refused: {why}")),
                },
                None => checks::run(http, base, c).await,
            }
        }
    }));
    let software = async {
        let want = site.software.as_ref().filter(|_| fingerprint)?;
        let home = home.as_deref()?;
        let html = String::from_utf8_lossy(home);
        Some(fingerprint::observe(&http, base, &html, want).await)
    };
    let graded = async {
        match opts.grade {
            true => Some(observatory::observe(&http, base).await),
            false => None,
        }
    };
    let provider = crate::wordpress::observe(
        site,
        repo,
        opts.transport_timeouts(),
        opts.timeout,
        &http,
        secrets,
    );
    let (redirects, checks, software, graded, provider) =
        tokio::join!(redirects, checks, software, graded, provider);
    live.graded = graded.map(Box::new);
    live.redirects = redirects;
    live.checks = checks;
    live.software = software;
    // A site with a software provider is observed through it, never guessed.
    match provider {
        Some(Ok(found)) => {
            live.software = Some(found.inventory.observation(found.label));
            live.wordpress = Some(found);
        }
        Some(Err(e)) => live.error = Some(format!("WordPress inventory: {e}")),
        None => {}
    }
    live
}
