//! The validated run configuration of `plan`, `apply`, `reconcile` and `check`: every flag is
//! checked and typed here, before the state repo is read (clap's types stay in `cli.rs`);
//! `siteward.yaml` settings fill in what the flags leave open once the repo is loaded.

use std::io::IsTerminal;
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
    #[error("`--lock-timeout {0}` must be at most {MAX_LOCK_TIMEOUT} seconds (a day)")]
    LockTimeout(u64),
    #[error("`--audit-branch`: {0}")]
    AuditBranch(String),
    #[error(transparent)]
    Select(#[from] crate::select::SelectError),
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
}

impl RunConfig {
    /// Checks the flags of a run.
    pub fn from_flags(
        select: &crate::cli::Select,
        run: &crate::cli::RunOpts,
    ) -> Result<RunConfig, ConfigError> {
        let shard = select.shard.clone().or_else(ci_shard);
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
        })
    }

    /// How to observe `sites` sites: the flags, else `siteward.yaml`, else the defaults.
    pub fn observe(&self, settings: &Settings, sites: usize) -> ObserveOpts {
        ObserveOpts {
            concurrency: self.concurrency.unwrap_or(settings.concurrency),
            per_host: self.per_host.unwrap_or(settings.per_host),
            timeout: self.timeout.unwrap_or(settings.timeout.0),
            progress: sites > 20 && std::io::stderr().is_terminal(),
        }
    }

    /// The audit branch: `--audit-branch`, else `audit.branch` in `siteward.yaml`.
    pub fn audit_branch(&self, settings: &Settings) -> BranchName {
        self.audit_branch
            .clone()
            .unwrap_or_else(|| settings.audit_branch.clone())
    }
}

/// GitLab's parallel jobs (`CI_NODE_INDEX`, 1-based, of `CI_NODE_TOTAL`) choose the shard when
/// `--shard` is not given, so a `parallel: N` job splits the fleet without extra flags.
fn ci_shard() -> Option<String> {
    let index = std::env::var("CI_NODE_INDEX").ok()?;
    let total = std::env::var("CI_NODE_TOTAL").ok()?;
    if total.trim().parse::<u64>().ok()? < 2 {
        return None;
    }
    let shard = format!("{}/{}", index.trim(), total.trim());
    tracing::warn!("no `--shard` given: using shard {shard} from CI_NODE_INDEX/CI_NODE_TOTAL");
    Some(shard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{RunOpts, Select};

    fn config(run: RunOpts) -> Result<RunConfig, ConfigError> {
        RunConfig::from_flags(&Select::default(), &run)
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
