//! One handler per command: turns parsed arguments into work and an [`Exit`].

mod check;
mod log;
mod plan;
mod proposals;
mod report;
mod run;
mod validate;

use std::io::Write;

use crate::cli::{Cli, Command, ValidateFormat};
use crate::config::RunConfig;
use crate::exit::Exit;
use crate::reconcile::Mode;

/// Runs the command and returns how it ended. Errors that end the whole command (bad flags,
/// unreadable repo) come back as `Err`; per-site failures are part of the command's report.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate { format } => validate::run(&cli.repo, format),
        Command::Schema => {
            let schema = crate::schema::json_schema();
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &schema)?;
            writeln!(out)?;
            Ok(Exit::Ok)
        }
        Command::Plan {
            select,
            run,
            format,
            out,
            record,
            metrics,
        } => plan::run(
            &cli.repo,
            plan::PlanArgs {
                config: RunConfig::from_flags(&select, &run)?,
                format,
                out,
                record,
                metrics: crate::config::metrics_file(metrics)?,
            },
        ),
        Command::Apply {
            plan,
            select,
            run: opts,
            dry_run,
            force,
            fleet,
            ignore_windows,
            reason,
            push,
            format,
        } => run::run(
            &cli.repo,
            run::RunArgs {
                mode: Mode::Apply { dry_run },
                saved: plan,
                config: RunConfig::from_flags(&select, &opts)?,
                push,
                json: format == ValidateFormat::Json,
                quiet: cli.quiet,
                force,
                fleet,
                ignore_windows: crate::config::window_override(ignore_windows, reason.as_deref())?,
                metrics: None,
            },
        ),
        Command::Reconcile {
            select,
            run: opts,
            force,
            fleet,
            ignore_windows,
            reason,
            push,
            format,
            metrics,
        } => run::run(
            &cli.repo,
            run::RunArgs {
                mode: Mode::Reconcile,
                saved: None,
                config: RunConfig::from_flags(&select, &opts)?,
                push,
                json: format == ValidateFormat::Json,
                quiet: cli.quiet,
                force,
                fleet,
                ignore_windows: crate::config::window_override(ignore_windows, reason.as_deref())?,
                metrics: crate::config::metrics_file(metrics)?,
            },
        ),
        Command::Check {
            select,
            run,
            format,
            fail_on,
            grading,
            metrics,
        } => check::run(
            &cli.repo,
            check::CheckArgs {
                config: RunConfig::from_flags(&select, &run)?,
                format,
                fail_on: match fail_on {
                    crate::cli::FailOn::Low => crate::spec::Severity::Low,
                    crate::cli::FailOn::Medium => crate::spec::Severity::Medium,
                    crate::cli::FailOn::High => crate::spec::Severity::High,
                    crate::cli::FailOn::Critical => crate::spec::Severity::Critical,
                },
                grading: match grading {
                    crate::cli::Grading::Observatory => {
                        crate::policy::observatory::Grading::Observatory
                    }
                    crate::cli::Grading::Strict => crate::policy::observatory::Grading::Strict,
                },
                metrics: crate::config::metrics_file(metrics)?,
            },
        ),
        Command::Log {
            site,
            since,
            until,
            limit,
            diff,
            format,
            audit_branch,
        } => log::run(
            &cli.repo,
            log::LogArgs {
                sites: site,
                since,
                until,
                limit,
                diff,
                format,
                audit_branch,
            },
        ),
        Command::Report { select, run, out } => report::run(
            &cli.repo,
            report::ReportArgs {
                config: RunConfig::from_flags(&select, &run)?,
                out,
            },
        ),
        Command::Proposals { site, all, format } => proposals::run(&cli.repo, &site, all, format),
        Command::Demo { keep } => crate::demo::run(keep.as_deref()),
    }
}
