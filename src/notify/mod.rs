//! Notifications on transitions (`notify:` in `siteward.yaml`): webhook targets told when a
//! site's state changes, once per change.
//!
//! The runs that write a record (`apply`, `reconcile`, `plan --record`) compare each site's
//! state in this run's record with its newest earlier record on the audit branch
//! ([`baseline`]), find the transitions ([`events`], pure), render one payload per target in
//! its format ([`payload`]) and POST them concurrently with bounded retries ([`deliver`]).
//!
//! # Guarantees
//! - A scheduled run that finds the same state as the run before sends nothing.
//! - A target's URL is resolved only here, checked (https, or http to a loopback host) and never
//!   printed or recorded: targets are shown by `name`.
//! - Delivery never changes the run's outcome or exit code; every delivery's outcome is returned
//!   for the run record (`notifications`) and a failure is a warning.

pub mod baseline;
pub mod deliver;
pub mod events;
pub mod payload;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::RunRecord;
use crate::observe::live::LiveSite;
use crate::spec::SecretRef;
use crate::spec::values::{NotifyEvent, NotifyFormat};

pub use events::Event;

/// `days` of a target that does not say: tell when a certificate has two weeks left.
pub const DEFAULT_DAYS: u32 = 14;

/// One webhook target (`notify[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How the target is shown in output and records (never the URL).
    pub name: String,
    pub endpoint: Endpoint,
    pub format: NotifyFormat,
    /// The events it is told about.
    pub events: BTreeSet<NotifyEvent>,
    /// `certificate_expiring`: days left at or under which a certificate is reported.
    pub days: u32,
}

/// Where a target's payload is POSTed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A URL written in `siteward.yaml` (checked when loaded).
    Url(String),
    /// `env:NAME` or `file:PATH`: a URL holding a token, resolved at run time.
    Secret(SecretRef),
}

/// What became of one target's delivery, as the run record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The target's `name`.
    pub target: String,
    /// Events in the payload.
    pub events: usize,
    pub ok: bool,
    /// Requests made (retries included).
    pub attempts: u32,
    /// Why it failed; never the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks a target URL: `https`, or plain `http` only to a loopback host (`localhost`,
/// `127.0.0.0/8`, `::1`: a receiver on the same machine, where nothing crosses a network).
/// The message never repeats the URL, which may hold a token.
pub fn check_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a valid URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err("plain http is only allowed to a loopback host; use https".into()),
        _ => Err("must be an https URL".into()),
    }
}

/// Whether a target wants `grade_dropped`: then the recording runs also fetch what the web
/// grade looks at (otherwise only `check` pays for those requests).
pub fn wants_grades(targets: &[Target]) -> bool {
    targets
        .iter()
        .any(|t| t.events.contains(&NotifyEvent::GradeDropped))
}

/// The web grade of every site in `live` that was graded, by site name.
pub fn grades(live: &[LiveSite]) -> BTreeMap<String, String> {
    live.iter()
        .filter_map(|l| {
            let view = l.graded.as_ref()?;
            let graded = crate::policy::observatory::grade(view, Default::default());
            Some((l.site.clone(), graded.grade.as_str().to_owned()))
        })
        .collect()
}

/// Tells every target about this run's transitions: reads each site's baseline from `branch`,
/// detects the transitions against `record`, and delivers what each target asked for. Returns
/// one [`Delivery`] per target that had something to send; failures are also warnings. Called
/// outside any async runtime (it runs its own while delivering).
pub fn send(
    git: &crate::git::Repo,
    branch: &str,
    targets: &[Target],
    record: &RunRecord,
    repo: &Path,
    timeout: Duration,
) -> Vec<Delivery> {
    if targets.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = record.sites.iter().map(|s| s.site.clone()).collect();
    let baselines = baseline::read(git, branch, &names, &record.run.id);
    let found: Vec<Event> = record
        .sites
        .iter()
        .flat_map(|s| {
            events::detect(
                &s.site,
                baselines.get(&s.site),
                &events::Facts::of_record(s),
            )
        })
        .collect();
    let jobs: Vec<deliver::Job> = targets
        .iter()
        .filter_map(|t| {
            let mine: Vec<&Event> = found.iter().filter(|e| e.wanted_by(t)).collect();
            (!mine.is_empty()).then(|| deliver::Job {
                target: t,
                body: payload::render(t.format, &record.run, &mine),
                events: mine.len(),
            })
        })
        .collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    let done = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(deliver::all(jobs, repo, timeout)),
        Err(e) => jobs
            .iter()
            .map(|j| deliver::failed(j, format!("cannot start the HTTP runtime: {e}")))
            .collect(),
    };
    for d in done.iter().filter(|d| !d.ok) {
        tracing::warn!(
            "notification to `{}` failed: {}",
            crate::report::escape::text(&d.target),
            crate::report::escape::text(d.error.as_deref().unwrap_or("unknown error"))
        );
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("https://hooks.example.com/T0/B1").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://[::1]/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        let e = check_url("http://hooks.example.com/secret-token").unwrap_err();
        assert!(e.contains("loopback") && !e.contains("secret-token"), "{e}");
        assert!(check_url("ftp://example.com/x").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("http://127.0.0.1.example.com/").is_err());
    }
}
