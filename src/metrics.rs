//! `--metrics FILE` (`plan`, `reconcile`, `check`): the run's outcome as Prometheus text
//! exposition format, for node_exporter's textfile collector.
//!
//! Every sample carries the `command` label, so one file per command (say `siteward-plan.prom`
//! and `siteward-check.prom` in the collector's directory) never repeats a series. The file is
//! written atomically: a hidden temporary file in the same directory (the collector reads only
//! `*.prom`) renamed over FILE, readable by the collector's user (mode 0644). Samples carry no
//! timestamps, as the textfile collector requires.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::exit::Exit;
use crate::observe::live::LiveSite;
use crate::plan::{Health, Plan, SitePlan, SyncStatus};

/// A site's served certificate, as far as metrics tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    /// Whole days until it expires (negative once expired).
    pub days_left: i64,
    /// When it expires, in Unix seconds.
    pub not_after_unix: i64,
}

impl Certificate {
    /// The certificate `live` was served, if its TLS handshake got that far.
    pub fn of(live: &LiveSite) -> Option<Certificate> {
        live.tls.as_ref().map(|tls| Certificate {
            days_left: tls.days_left,
            not_after_unix: tls.leaf.not_after_unix,
        })
    }
}

/// The served certificate of every observed site in `live`, by site name.
pub fn certificates(live: &[LiveSite]) -> BTreeMap<String, Certificate> {
    live.iter()
        .filter_map(|l| Some((l.site.clone(), Certificate::of(l)?)))
        .collect()
}

/// Every site of `plan`, with its certificate from `certificates`.
pub fn plan_sites(plan: &Plan, certificates: &BTreeMap<String, Certificate>) -> Vec<SiteMetrics> {
    plan.sites
        .iter()
        .map(|p| SiteMetrics::from_plan(p, certificates.get(&p.site).copied()))
        .collect()
}

/// What the metrics say about one site; `None` fields are not written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteMetrics {
    pub site: String,
    pub sync: Option<SyncStatus>,
    pub health: Option<Health>,
    /// Changes between desired and live state after the run.
    pub changes_pending: Option<usize>,
    pub certificate: Option<Certificate>,
    /// The Observatory score (`check`).
    pub score: Option<u16>,
}

impl SiteMetrics {
    /// A site of a plan or a run: its sync state, health and pending changes, and its
    /// certificate when it was observed.
    pub fn from_plan(plan: &SitePlan, certificate: Option<Certificate>) -> SiteMetrics {
        SiteMetrics {
            site: plan.site.clone(),
            sync: Some(plan.sync),
            health: Some(plan.health),
            changes_pending: Some(plan.changes.len()),
            certificate,
            score: None,
        }
    }
}

/// One run, ready to be written.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    /// `plan`, `reconcile` or `check`.
    pub command: &'static str,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub exit: Exit,
    pub sites: Vec<SiteMetrics>,
}

impl RunMetrics {
    /// A run that stopped at invalid input: exit code 1 and no sites, so an alert on the exit
    /// code fires rather than the file going stale.
    pub fn invalid(command: &'static str, started: DateTime<Utc>) -> RunMetrics {
        RunMetrics {
            command,
            started,
            finished: Utc::now(),
            exit: Exit::Error,
            sites: Vec::new(),
        }
    }
}

/// `--metrics FILE` could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the metrics file `{path}`: {source}")]
pub struct MetricsError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

const SYNC_STATES: [(SyncStatus, &str); 3] = [
    (SyncStatus::InSync, "in_sync"),
    (SyncStatus::Drift, "drift"),
    (SyncStatus::Unknown, "unknown"),
];

const HEALTH_STATES: [(Health, &str); 4] = [
    (Health::Healthy, "healthy"),
    (Health::Degraded, "degraded"),
    (Health::Down, "down"),
    (Health::Unknown, "unknown"),
];

/// Renders `run` in the Prometheus text exposition format (version 0.0.4).
pub fn render(run: &RunMetrics) -> String {
    let mut out = String::new();
    let command = run.command;
    let run_label = format!("command=\"{}\"", escape(command));
    let duration = (run.finished - run.started).num_milliseconds().max(0) as f64 / 1000.0;
    let finished = run.finished.timestamp_millis() as f64 / 1000.0;
    family(
        &mut out,
        "siteward_last_run_timestamp_seconds",
        "When the last run of this command finished, in Unix seconds.",
        &[(run_label.clone(), finished.to_string())],
    );
    family(
        &mut out,
        "siteward_last_run_duration_seconds",
        "How long the last run of this command took.",
        &[(run_label.clone(), duration.to_string())],
    );
    family(
        &mut out,
        "siteward_last_run_exit_code",
        "The last run's exit code: 0 in sync or compliant, 2 drift or violations, 1 error.",
        &[(run_label.clone(), run.exit.code().to_string())],
    );
    family(
        &mut out,
        "siteward_last_run_sites",
        "Sites the last run of this command covered.",
        &[(run_label, run.sites.len().to_string())],
    );
    let label = |s: &SiteMetrics| {
        format!(
            "command=\"{}\",site=\"{}\"",
            escape(command),
            escape(&s.site)
        )
    };
    let states = |get: &dyn Fn(&SiteMetrics) -> Option<String>| -> Vec<(String, String)> {
        run.sites
            .iter()
            .filter_map(|s| get(s).map(|v| (label(s), v)))
            .collect()
    };
    let mut sync = Vec::new();
    let mut health = Vec::new();
    for s in &run.sites {
        if let Some(now) = s.sync {
            for (state, name) in SYNC_STATES {
                sync.push((
                    format!("{},state=\"{name}\"", label(s)),
                    u8::from(state == now).to_string(),
                ));
            }
        }
        if let Some(now) = s.health {
            for (state, name) in HEALTH_STATES {
                health.push((
                    format!("{},state=\"{name}\"", label(s)),
                    u8::from(state == now).to_string(),
                ));
            }
        }
    }
    family(
        &mut out,
        "siteward_site_sync",
        "1 for the site's sync state (in_sync, drift, unknown), 0 for the others.",
        &sync,
    );
    family(
        &mut out,
        "siteward_site_health",
        "1 for the site's health (healthy, degraded, down, unknown), 0 for the others.",
        &health,
    );
    family(
        &mut out,
        "siteward_site_changes_pending",
        "Changes between the site's desired and live state after the run.",
        &states(&|s| s.changes_pending.map(|n| n.to_string())),
    );
    family(
        &mut out,
        "siteward_site_certificate_days_left",
        "Whole days until the site's served certificate expires (negative once expired).",
        &states(&|s| s.certificate.map(|c| c.days_left.to_string())),
    );
    family(
        &mut out,
        "siteward_site_certificate_expiry_timestamp_seconds",
        "When the site's served certificate expires, in Unix seconds.",
        &states(&|s| s.certificate.map(|c| c.not_after_unix.to_string())),
    );
    family(
        &mut out,
        "siteward_site_grade_score",
        "The site's MDN HTTP Observatory score (`siteward check`).",
        &states(&|s| s.score.map(|n| n.to_string())),
    );
    out
}

/// One metric family: HELP, TYPE and its samples; nothing when it has no samples.
fn family(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    if samples.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `run` to `path` atomically: a hidden temporary file in the same directory, made
/// readable by everyone (mode 0644, for the collector's user), renamed over `path`.
pub fn write(path: &Path, run: &RunMetrics) -> Result<(), MetricsError> {
    let err = |source| MetricsError {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".siteward-metrics")
        .suffix(".tmp")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(render(run).as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunMetrics {
        let started = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
            .unwrap()
            .to_utc();
        RunMetrics {
            command: "plan",
            started,
            finished: started + chrono::Duration::milliseconds(2500),
            exit: Exit::Drift,
            sites: vec![
                SiteMetrics {
                    site: "shop.example.nl".into(),
                    sync: Some(SyncStatus::Drift),
                    health: Some(Health::Healthy),
                    changes_pending: Some(3),
                    certificate: Some(Certificate {
                        days_left: 12,
                        not_after_unix: 1_800_000_000,
                    }),
                    score: None,
                },
                SiteMetrics {
                    site: "odd\"name\\".into(),
                    sync: Some(SyncStatus::Unknown),
                    health: Some(Health::Unknown),
                    ..SiteMetrics::default()
                },
            ],
        }
    }

    #[test]
    fn renders_one_state_per_site_and_escapes_labels() {
        let text = render(&run());
        assert!(text.contains(
            "siteward_site_sync{command=\"plan\",site=\"shop.example.nl\",state=\"drift\"} 1\n"
        ));
        assert!(text.contains(
            "siteward_site_sync{command=\"plan\",site=\"shop.example.nl\",state=\"in_sync\"} 0\n"
        ));
        assert!(text.contains("site=\"odd\\\"name\\\\\""), "{text}");
        assert!(text.contains("siteward_last_run_duration_seconds{command=\"plan\"} 2.5\n"));
        assert!(text.contains("siteward_last_run_exit_code{command=\"plan\"} 2\n"));
        // A family without samples is left out, HELP and TYPE included.
        assert!(!text.contains("siteward_site_grade_score"));
        // Unobserved values are absent, not zero.
        assert_eq!(
            text.matches("siteward_site_certificate_days_left{").count(),
            1
        );
    }

    #[test]
    fn a_prometheus_parser_reads_the_values() {
        let text = render(&run());
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("valid text format");
        let value = |name: &str, site: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name && s.labels.get("site") == Some(site))
                .map(|s| match s.value {
                    prometheus_parse::Value::Gauge(v) => v,
                    ref other => panic!("{name} is not a gauge: {other:?}"),
                })
        };
        assert_eq!(
            value("siteward_site_changes_pending", "shop.example.nl"),
            Some(3.0)
        );
        assert_eq!(
            value("siteward_site_certificate_days_left", "shop.example.nl"),
            Some(12.0)
        );
        let sync = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "siteward_site_sync")
            .filter(|s| s.labels.get("site") == Some("shop.example.nl"))
            .map(|s| (s.labels.get("state").unwrap_or(""), s.value.clone()))
            .collect::<Vec<_>>();
        assert_eq!(sync.len(), 3);
        assert!(sync.contains(&("drift", prometheus_parse::Value::Gauge(1.0))));
        assert!(sync.contains(&("in_sync", prometheus_parse::Value::Gauge(0.0))));
    }

    #[test]
    fn writes_atomically_and_readable_by_the_collector() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("siteward.prom");
        std::fs::write(&path, "old").unwrap();
        write(&path, &run()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&run()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        // Only the file itself is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("no/such/dir/siteward.prom");
        let e = write(&missing, &run()).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/siteward.prom"), "{e}");
    }
}
