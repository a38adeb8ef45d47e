//! Command-line interface: clap types only. [`crate::cmd`] turns them into work; nothing below
//! it sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Declarative reconciler for websites and webshops: desired state in Git, drift observed on the
/// live sites, changes applied or proposed, and every run recorded in Git.
#[derive(Debug, Parser)]
#[command(
    name = "siteward",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 in sync / valid, 2 drift or violations remain, 1 error.\n\
Start with `siteward demo` to see the whole loop, or `siteward validate` in a state repo."
)]
pub struct Cli {
    /// State repository root (holds `sites/`, `policies/`, optional `siteward.yaml`).
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
    /// Print less (errors only).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more; repeat for debug output (`-vv`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of SPEC.md.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and check every site, policy and settings file; print all problems.
    #[command(
        after_help = "Examples:\n  siteward validate\n  siteward validate --repo ../state --format json\n\n\
Every problem in every file is printed as `path:line:col: message`, sorted by path and line.\n\
Exit code: 0 when valid, 1 otherwise."
    )]
    Validate {
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// Observe live sites, diff them against desired state, print the plan.
    #[command(
        after_help = "Examples:\n  siteward plan\n  siteward plan --site shop.example.nl --format json\n  \
siteward plan --changed-since origin/main --format markdown --out plan.md\n  \
siteward plan --out plan.json && siteward apply plan.json\n\n\
Each change shows its step: what `apply` will do with it (`apply via PROVIDER`,\n\
`propose: why`, `skip: why`).\n\
Exit code: 0 in sync, 2 drift, 1 error (a site could not be observed, or invalid input)."
    )]
    Plan {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: RunOpts,
        /// Output format [default: text; with `--out`: json, or markdown/text for a FILE
        /// ending in `.md`/`.txt`].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write the plan to FILE instead of standard output; a JSON plan is a saved plan that
        /// `siteward apply FILE` applies.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also commit a run record to the audit branch.
        #[arg(long)]
        record: bool,
        /// Also write Prometheus text-format metrics to FILE, atomically (for node_exporter's
        /// textfile collector: a FILE ending in `.prom` in its directory).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
    },
    /// Apply planned changes to every selected site that has a provider.
    #[command(
        after_help = "Examples:\n  siteward apply --dry-run\n  siteward apply --changed-since HEAD~1\n  \
siteward apply plan.json   # refuses sites whose live or desired state changed since the plan\n\n\
Sites with `sync: observe` are reported as skipped. Exit code: 0 applied, 2 changes remain, 1 error."
    )]
    Apply {
        /// A saved plan (`siteward plan --out plan.json`).
        plan: Option<PathBuf>,
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: RunOpts,
        /// Print what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply certificate changes even while their site backs off after ACME errors.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fleet: Fleet,
        /// Act on sites inside a change window (`windows:`) anyway; needs `--reason`, and the
        /// run record says who overrode them and why.
        #[arg(long, requires = "reason")]
        ignore_windows: bool,
        /// Why `--ignore-windows` is needed (recorded), e.g. `hotfix OPS-1234`.
        #[arg(long, value_name = "TEXT", requires = "ignore_windows")]
        reason: Option<String>,
        /// Push the audit branch to REMOTE after recording (never a force push).
        #[arg(long, value_name = "REMOTE", conflicts_with = "dry_run")]
        push: Option<String>,
        /// `text`: a line per site; `json`: the run record (also for a dry run, not committed).
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// The scheduled run: observe all, act per site according to `sync`, record the run.
    #[command(
        after_help = "Examples:\n  siteward reconcile\n  siteward reconcile --push origin --shard 1/4\n  \
siteward reconcile --metrics /var/lib/node_exporter/textfile/siteward-reconcile.prom\n  \
siteward reconcile --site shop.example.nl --ignore-windows --reason 'hotfix OPS-1234'\n\n\
`sync: auto` applies, `propose` writes a change request, `observe` only reports; a site that\n\
cannot be observed is never changed. Exit code: 0 in sync, 2 drift remains, 1 error."
    )]
    Reconcile {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: RunOpts,
        /// Apply certificate changes even while their site backs off after ACME errors.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fleet: Fleet,
        /// Act on sites inside a change window (`windows:`) anyway; needs `--reason`, and the
        /// run record says who overrode them and why.
        #[arg(long, requires = "reason")]
        ignore_windows: bool,
        /// Why `--ignore-windows` is needed (recorded), e.g. `hotfix OPS-1234`.
        #[arg(long, value_name = "TEXT", requires = "ignore_windows")]
        reason: Option<String>,
        /// Push the audit branch to REMOTE after recording (never a force push).
        #[arg(long, value_name = "REMOTE")]
        push: Option<String>,
        /// `text`: a line per site; `json`: the run record.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
        /// Also write Prometheus text-format metrics to FILE, atomically (for node_exporter's
        /// textfile collector: a FILE ending in `.prom` in its directory).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
    },
    /// Evaluate policy rules: per-site score, grade and findings with advice.
    #[command(
        after_help = "Examples:\n  siteward check\n  siteward check --site portal.example.com --format json\n  \
siteward check --fail-on medium\n  siteward check --grading strict\n\n\
Exit code: 0 compliant, 2 an active finding at or above --fail-on, 1 error."
    )]
    Check {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: RunOpts,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 2 when an active (not excepted) finding is at or above this severity.
        #[arg(long, value_enum, default_value_t = FailOn::High)]
        fail_on: FailOn,
        /// `observatory`: grade exactly as the MDN HTTP Observatory does (comparable figures);
        /// `strict`: with its known quirks corrected (see the README, "How siteward grades").
        #[arg(long, value_enum, default_value_t = Grading::Observatory)]
        grading: Grading,
        /// Also write Prometheus text-format metrics to FILE, atomically (for node_exporter's
        /// textfile collector: a FILE ending in `.prom` in its directory).
        #[arg(long, value_name = "FILE")]
        metrics: Option<PathBuf>,
    },
    /// Show the audit history from Git.
    #[command(
        after_help = "Examples:\n  siteward log --site shop.example.nl\n  siteward log --since 2026-01-01 --format json\n  \
siteward log --diff --limit 5\n  siteward log --audit-branch origin/siteward-audit"
    )]
    Log {
        /// Only entries for this site (repeatable).
        #[arg(long, value_name = "NAME")]
        site: Vec<String>,
        /// Entries at or after this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Entries before this date (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// At most N entries.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Show each entry's changes.
        #[arg(long)]
        diff: bool,
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
        /// Audit branch to read: a local branch, or REMOTE/BRANCH such as
        /// `origin/siteward-audit` (default `siteward-audit`, or `audit.branch` in siteward.yaml).
        #[arg(long, value_name = "BRANCH")]
        audit_branch: Option<String>,
    },
    /// Write a static HTML fleet report: overview, charts and a page per site with its history.
    #[command(after_help = "Examples:\n  siteward report --out report\n  \
siteward report --out /var/www/fleet --selector env=prod\n  \
siteward report --out report --audit-branch origin/siteward-audit\n\n\
Observes the selected sites now, as `plan` and `check` do (read-only: nothing is changed or\n\
recorded), and reads their history from the audit branch and their proposals from the\n\
proposal branches. Writes DIR/index.html (sortable, filterable table; certificate-expiry\n\
timeline; grade distribution) and DIR/sites/<site>.html (state, current diff, findings,\n\
proposals, drift periods, changes with run and commit). Open DIR/index.html in a browser:\n\
the pages need no server and load nothing from the network.\n\
Exit code: 0 written (drifted or unknown sites are shown in it), 1 invalid input or error.")]
    Report {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: RunOpts,
        /// Folder to write the report into (created if absent; its pages are overwritten).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// List open proposals (change requests and version bumps) across the fleet.
    #[command(
        after_help = "Examples:\n  siteward proposals\n  siteward proposals --site shop.example.nl --format markdown\n  \
siteward proposals --all --format json\n\n\
Reads the `siteward-proposals/<site>` branches (`proposals.branch_prefix`); `--format markdown`\n\
prints each proposal's Markdown, ready as a pull-request description."
    )]
    Proposals {
        /// Only proposals of this site (repeatable).
        #[arg(long, value_name = "NAME")]
        site: Vec<String>,
        /// Resolved proposals too.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the JSON Schema (draft 2020-12) of site and policy files, for editors.
    #[command(after_help = "Examples:\n  siteward schema > siteward.schema.json\n\n\
Then start a site file with\n  # yaml-language-server: $schema=../siteward.schema.json\n\
to get completion and checks in editors that use the YAML language server.")]
    Schema,
    /// Run the whole loop on an embedded sandbox: no network, no setup.
    #[command(after_help = "Examples:\n  siteward demo\n  siteward demo --keep /tmp/siteward-demo")]
    Demo {
        /// Keep the demo state repo in DIR instead of deleting it.
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
}

/// Which sites a command acts on.
#[derive(Debug, Clone, Args, Default)]
pub struct Select {
    /// Only this site (repeatable).
    #[arg(long, value_name = "NAME")]
    pub site: Vec<String>,
    /// Only sites whose label KEY equals VALUE (repeatable; all must match).
    #[arg(long, value_name = "KEY=VALUE")]
    pub selector: Vec<String>,
    /// Only sites whose file, or a policy they use, changed since the git revision REV. `plan`
    /// also compares how each site is managed with REV, and sends a site's application
    /// password only where REV sends it (a pull request cannot redirect a credential).
    #[arg(long, value_name = "REV")]
    pub changed_since: Option<String>,
    /// Only shard I of N (1-based), split deterministically by site name.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

/// How a run observes and acts.
#[derive(Debug, Clone, Args, Default)]
pub struct RunOpts {
    /// Sites observed at once (default 32, or `concurrency` in siteward.yaml).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Requests at once to one host name (default 4, or `per_host` in siteward.yaml).
    #[arg(long, value_name = "N")]
    pub per_host: Option<usize>,
    /// Per-request timeout in seconds (default 10, or `timeout` in siteward.yaml).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Why this run happens (recorded in the audit log), e.g. `schedule`, `pr`, `manual`.
    #[arg(long, value_name = "TEXT")]
    pub trigger: Option<String>,
    /// Audit branch (default `siteward-audit`, or `audit.branch` in siteward.yaml).
    #[arg(long, value_name = "BRANCH")]
    pub audit_branch: Option<String>,
    /// End the whole run after SECS: sites not observed by then are `unknown`, sites not yet
    /// applied are skipped; the run is still recorded.
    #[arg(long, value_name = "SECS")]
    pub deadline: Option<f64>,
    /// Wait at most this many seconds for another run's repo lock.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub lock_timeout: u64,
}

/// Fleet safety for software changes (`apply`, `reconcile`).
#[derive(Debug, Clone, Args, Default)]
pub struct Fleet {
    /// At most N sites change software (plugins, themes) at once.
    #[arg(long, value_name = "N")]
    pub max_parallel_sites: Option<std::num::NonZeroUsize>,
    /// After N failed software applies (a failed verification rolled back, say), hold every
    /// further site's software changes: the first sites are the canary of the wave.
    #[arg(long, value_name = "N")]
    pub stop_after_failures: Option<std::num::NonZeroUsize>,
}

/// Output formats of `plan` and `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// `check --grading`: the Observatory's exact algorithm, or with its quirks corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Grading {
    Observatory,
    Strict,
}

/// `check --fail-on`: the least severity that fails a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

/// Output formats of `validate` and `log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
}
