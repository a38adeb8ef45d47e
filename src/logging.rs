//! Diagnostics on stderr through `tracing`: every warning and error a command reports goes
//! here, as `warning: …` / `error: …` lines (with the span, e.g. the site, in front), coloured
//! only when stderr is a terminal and `NO_COLOR` is unset. `-q` keeps errors only, `-v`/`-vv`
//! add progress and debug lines; `RUST_LOG` overrides both.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the stderr subscriber.
pub fn init(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .event_format(Plain { ansi })
        .try_init();
}

/// `warning: observe{site=shop}: message` — the words a person reads, no timestamps.
struct Plain {
    ansi: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let (label, colour) = match *event.metadata().level() {
            Level::ERROR => ("error", "\x1b[31m"),
            Level::WARN => ("warning", "\x1b[33m"),
            Level::INFO => ("info", ""),
            Level::DEBUG => ("debug", ""),
            Level::TRACE => ("trace", ""),
        };
        if self.ansi && !colour.is_empty() {
            write!(writer, "{colour}{label}:\x1b[0m ")?;
        } else {
            write!(writer, "{label}: ")?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                write!(writer, ": ")?;
            }
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
