//! The validated run configuration of `plan`, `apply`, `reconcile` and `check`: every flag is
//! checked and typed here, before the state repo is read (clap's types stay in `cli.rs`);
//! `siteward.yaml` settings fill in what the flags leave open once the repo is loaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::observe::ObserveOpts;
use crate::select::Selection;
use crate::spec::{BranchName, Settings};

/// The largest `--timeout`, as for `timeout` in `siteward.yaml`.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest `--concurrency`, as for `concurrency` in `siteward.yaml`.
const MAX_CONCURRENCY: usize = 4096;
/// The largest `--per-host`, as for `per_host` in `siteward.yaml`.
const MAX_PER_HOST: usize = 256;
/// The longest `--deadline`: a day.
const MAX_DEADLINE: Duration = Duration::from_secs(86_400);
/// The longest `--lock-timeout`: a day.
const MAX_LOCK_TIMEOUT: u64 = 86_400;

/// A flag with a value siteward refuses; nothing has been read or changed yet.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("`--timeout {0}` must be a number of seconds above 0 and at most 3600")]
    Timeout(f64),
    #[error("`--{flag} {value}` must be between 1 and {max}")]
    Range {
        flag: &'static str,
        value: usize,
        max: usize,
    },
    #[error("`--deadline {0}` must be a number of seconds above 0 and at most 86400 (a day)")]
    Deadline(f64),
    #[error("`--lock-timeout {0}` must be at most {MAX_LOCK_TIMEOUT} seconds (a day)")]
    LockTimeout(u64),
    #[error("`--audit-branch`: {0}")]
    AuditBranch(String),
    #[error(
        "`--shard auto`: no shard variables found (CI_NODE_INDEX/CI_NODE_TOTAL, \
         BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT, JOB_COMPLETION_INDEX or \
         SITEWARD_SHARD_INDEX with SITEWARD_SHARD_COUNT); pass `--shard I/N`"
    )]
    NoShard,
    #[error("`--metrics {0}`: {1}")]
    Metrics(String, &'static str),
    #[error("`--reason`: {0}")]
    Reason(&'static str),
    #[error(transparent)]
    Select(#[from] crate::select::SelectError),
}

/// The longest `--reason`.
const MAX_REASON: usize = 500;

/// Checks `--ignore-windows --reason TEXT` (clap makes each need the other): the reason is
/// one line of text, recorded in the run record. `None` when the windows are respected.
pub fn window_override(ignore: bool, reason: Option<&str>) -> Result<Option<String>, ConfigError> {
    let (true, Some(reason)) = (ignore, reason) else {
        return Ok(None);
    };
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ConfigError::Reason(
            "say why the change windows are overridden",
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(ConfigError::Reason(
            "must be one line without control characters",
        ));
    }
    if reason.len() > MAX_REASON {
        return Err(ConfigError::Reason("must be at most 500 bytes"));
    }
    Ok(Some(reason.to_owned()))
}

/// Checks `--metrics FILE` before anything runs: FILE names a file (not a directory) in a
/// directory that exists, so a long run does not end unable to write it.
pub fn metrics_file(flag: Option<PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = flag else {
        return Ok(None);
    };
    let refuse = |why| Err(ConfigError::Metrics(path.display().to_string(), why));
    if path.as_os_str().is_empty() || path.is_dir() || path.file_name().is_none() {
        return refuse("must name a file, not a directory");
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return refuse("its directory does not exist");
    }
    Ok(Some(path))
}

/// Which sites a command acts on, validated.
#[derive(Debug, Clone)]
pub struct SelectConfig {
    pub selection: Selection,
    /// `--changed-since REV` (resolved against the repo once it is read).
    pub changed_since: Option<String>,
}

/// How a run observes, acts and records, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub select: SelectConfig,
    timeout: Option<Duration>,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    /// Why this run happens (`--trigger`).
    pub trigger: Option<String>,
    audit_branch: Option<BranchName>,
    /// How long to wait for another run's repo lock.
    pub lock_timeout: Duration,
    /// When the whole run must end (`--deadline`).
    pub deadline: Option<std::time::Instant>,
}

impl RunConfig {
    /// Checks the flags of a run.
    pub fn from_flags(
        select: &crate::cli::Select,
        run: &crate::cli::RunOpts,
    ) -> Result<RunConfig, ConfigError> {
        let shard = shard(select.shard.as_deref(), |k| std::env::var(k).ok())?;
        let selection = Selection::parse(&select.site, &select.selector, shard.as_deref())?;
        let timeout = match run.timeout {
            Some(t) if t.is_finite() && t > 0.0 && t <= MAX_TIMEOUT.as_secs_f64() => {
                Some(Duration::from_secs_f64(t))
            }
            Some(t) => return Err(ConfigError::Timeout(t)),
            None => None,
        };
        let bounded = |v: Option<usize>, flag: &'static str, max: usize| match v {
            Some(n) if n == 0 || n > max => Err(ConfigError::Range {
                flag,
                value: n,
                max,
            }),
            other => Ok(other),
        };
        let deadline = match run.deadline {
            Some(d) if d.is_finite() && d > 0.0 && d <= MAX_DEADLINE.as_secs_f64() => {
                Some(std::time::Instant::now() + Duration::from_secs_f64(d))
            }
            Some(d) => return Err(ConfigError::Deadline(d)),
            None => None,
        };
        if run.lock_timeout > MAX_LOCK_TIMEOUT {
            return Err(ConfigError::LockTimeout(run.lock_timeout));
        }
        let audit_branch = run
            .audit_branch
            .as_deref()
            .map(|b| b.parse().map_err(ConfigError::AuditBranch))
            .transpose()?;
        Ok(RunConfig {
            select: SelectConfig {
                selection,
                changed_since: select.changed_since.clone(),
            },
            timeout,
            concurrency: bounded(run.concurrency, "concurrency", MAX_CONCURRENCY)?,
            per_host: bounded(run.per_host, "per-host", MAX_PER_HOST)?,
            trigger: run.trigger.clone(),
            audit_branch,
            lock_timeout: Duration::from_secs(run.lock_timeout),
            deadline,
        })
    }

    /// How to observe `sites` sites: the flags, else `siteward.yaml`, else the defaults.
    pub fn observe(&self, settings: &Settings, sites: usize) -> ObserveOpts {
        ObserveOpts {
            concurrency: self.concurrency.unwrap_or(settings.concurrency),
            per_host: self.per_host.unwrap_or(settings.per_host),
            timeout: self.timeout.unwrap_or(settings.timeout.0),
            progress: sites > 20,
            deadline: self.deadline,
            grade: false,
        }
    }

    /// The audit branch: `--audit-branch`, else `audit.branch` in `siteward.yaml`.
    pub fn audit_branch(&self, settings: &Settings) -> BranchName {
        self.audit_branch
            .clone()
            .unwrap_or_else(|| settings.audit_branch.clone())
    }
}

/// The shard `I/N` of this run: `--shard I/N` as given; `--shard auto` from the engine's own
/// variables ([`engine_shard`], an error when none is set); no flag: GitLab's `parallel:`
/// variables when present (so such a job splits the fleet without flags), else every site.
fn shard(
    flag: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    match flag {
        Some("auto") => match engine_shard(&env) {
            Some((shard, from)) => {
                tracing::info!("shard {shard} from {from}");
                Ok(Some(shard))
            }
            None => Err(ConfigError::NoShard),
        },
        Some(given) => Ok(Some(given.to_owned())),
        None => Ok(engine_shard(&env)
            .filter(|(_, from)| from.starts_with("CI_NODE"))
            .map(|(shard, from)| {
                tracing::warn!("no `--shard` given: using shard {shard} from {from}");
                shard
            })),
    }
}

/// The shard the CI or job engine assigns, and the variables it came from (1-based `I/N`):
/// GitLab `CI_NODE_INDEX`/`CI_NODE_TOTAL` (1-based), Buildkite `BUILDKITE_PARALLEL_JOB`/
/// `BUILDKITE_PARALLEL_JOB_COUNT` (0-based), a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`
/// (0-based) with the count in `SITEWARD_SHARD_COUNT`, and `SITEWARD_SHARD_INDEX` (0-based, e.g.
/// GitHub Actions' `${{ strategy.job-index }}`) with `SITEWARD_SHARD_COUNT`
/// (`${{ strategy.job-total }}`). A count below 2 means no sharding.
fn engine_shard(env: &impl Fn(&str) -> Option<String>) -> Option<(String, &'static str)> {
    const ENGINES: [(&str, &str, u64, &str); 4] = [
        (
            "CI_NODE_INDEX",
            "CI_NODE_TOTAL",
            0,
            "CI_NODE_INDEX/CI_NODE_TOTAL",
        ),
        (
            "BUILDKITE_PARALLEL_JOB",
            "BUILDKITE_PARALLEL_JOB_COUNT",
            1,
            "BUILDKITE_PARALLEL_JOB/BUILDKITE_PARALLEL_JOB_COUNT",
        ),
        (
            "JOB_COMPLETION_INDEX",
            "SITEWARD_SHARD_COUNT",
            1,
            "JOB_COMPLETION_INDEX/SITEWARD_SHARD_COUNT",
        ),
        (
            "SITEWARD_SHARD_INDEX",
            "SITEWARD_SHARD_COUNT",
            1,
            "SITEWARD_SHARD_INDEX/SITEWARD_SHARD_COUNT",
        ),
    ];
    ENGINES.iter().find_map(|(index, count, add, from)| {
        let i: u64 = env(index)?.trim().parse().ok()?;
        let n: u64 = env(count)?.trim().parse().ok()?;
        (n >= 2).then(|| (format!("{}/{n}", i + add), *from))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{RunOpts, Select};

    fn config(run: RunOpts) -> Result<RunConfig, ConfigError> {
        RunConfig::from_flags(&Select::default(), &run)
    }

    #[test]
    fn shard_auto_reads_each_engine() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let auto = |vars| shard(Some("auto"), env(vars)).map_err(|e| e.to_string());
        assert_eq!(
            auto(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")]).unwrap(),
            Some("2/4".into())
        );
        assert_eq!(
            auto(&[
                ("BUILDKITE_PARALLEL_JOB", "0"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "3")
            ])
            .unwrap(),
            Some("1/3".into())
        );
        assert_eq!(
            auto(&[("JOB_COMPLETION_INDEX", "4"), ("SITEWARD_SHARD_COUNT", "5")]).unwrap(),
            Some("5/5".into())
        );
        assert_eq!(
            auto(&[("SITEWARD_SHARD_INDEX", "0"), ("SITEWARD_SHARD_COUNT", "2")]).unwrap(),
            Some("1/2".into())
        );
        assert!(auto(&[]).unwrap_err().contains("no shard variables found"));
        // Without a flag only GitLab's `parallel:` variables choose a shard.
        let none = shard(
            None,
            env(&[("JOB_COMPLETION_INDEX", "1"), ("SITEWARD_SHARD_COUNT", "2")]),
        );
        assert_eq!(none.unwrap(), None);
        assert_eq!(shard(Some("1/2"), env(&[])).unwrap(), Some("1/2".into()));
    }

    #[test]
    fn out_of_range_flags_are_refused_before_anything_is_read() {
        let e = config(RunOpts {
            timeout: Some(1e20),
            ..RunOpts::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("`--timeout 100000000000000000000`"),
            "{e}"
        );
        let e = config(RunOpts {
            concurrency: Some(0),
            ..RunOpts::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`--concurrency 0` must be between 1 and 4096"
        );
        let e = config(RunOpts {
            per_host: Some(100_000),
            ..RunOpts::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`--per-host 100000` must be between 1 and 256"
        );
        assert!(
            config(RunOpts {
                audit_branch: Some("bad name".into()),
                ..RunOpts::default()
            })
            .is_err()
        );
        let e = metrics_file(Some("/no/such/dir/siteward.prom".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`--metrics /no/such/dir/siteward.prom`: its directory does not exist"
        );
        assert!(metrics_file(Some(std::env::temp_dir())).is_err());
        let file = std::env::temp_dir().join("siteward.prom");
        assert_eq!(metrics_file(Some(file.clone())).unwrap(), Some(file));
        assert_eq!(metrics_file(None).unwrap(), None);
        assert!(window_override(true, Some("  ")).is_err());
        assert!(window_override(true, Some("a\nb")).is_err());
        assert_eq!(
            window_override(true, Some(" hotfix OPS-1 ")).unwrap(),
            Some("hotfix OPS-1".into())
        );
        assert_eq!(window_override(false, None).unwrap(), None);
        let ok = config(RunOpts {
            timeout: Some(2.5),
            ..RunOpts::default()
        })
        .unwrap();
        assert_eq!(
            ok.observe(&Settings::default(), 1).timeout,
            Duration::from_millis(2500)
        );
    }
}
