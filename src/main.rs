//! The `siteward` binary: parse arguments, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use siteward::{cli::Cli, cmd, exit::Exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    siteward::logging::init(cli.quiet, cli.verbose);
    match cmd::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(Exit::Error.code())
        }
    }
}
