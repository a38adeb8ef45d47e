//! `siteward log`: the audit history from the audit branch, newest first, one line per run and
//! site (`--diff` adds each change), or SPEC.md's log JSON.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::{ActionResult, Entry, History, HistoryFilter};
use crate::cli::ValidateFormat;
use crate::exit::Exit;
use crate::git::Repo;
use crate::load::{load_sources, settings_source};
use crate::plan::{Action, Change, SyncStatus};

/// Parsed `siteward log` flags.
#[derive(Debug)]
pub struct LogArgs {
    pub sites: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<usize>,
    pub diff: bool,
    pub format: ValidateFormat,
    pub audit_branch: Option<String>,
}

/// Prints the audit history of the state repo at `repo`.
pub fn run(repo: &Path, args: LogArgs) -> anyhow::Result<Exit> {
    let filter = HistoryFilter {
        sites: args.sites,
        since: args
            .since
            .as_deref()
            .map(|d| parse_date("since", d))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| parse_date("until", d))
            .transpose()?,
        limit: args.limit,
    };
    let explicit = args.audit_branch.is_some();
    let branch = match args.audit_branch {
        Some(b) => b,
        None => configured_branch(repo)?,
    };
    // Only reads: fast on long histories of loose objects.
    crate::git::skip_hash_checks();
    let git = Repo::open(repo)?;
    let history = History::open(&git, &branch)?;
    if history.is_none() {
        if explicit {
            anyhow::bail!(
                "no branch `{branch}` (local or remote-tracking) in {}; check the name, or \
`git fetch` the remote first",
                repo.display()
            );
        }
        tracing::warn!(
            "no run recorded yet: branch `{branch}` does not exist (apply, reconcile and `plan --record` create it)"
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.format {
        ValidateFormat::Json => write_json(&mut out, history.as_ref(), &filter),
        ValidateFormat::Text => history.as_ref().map_or(Ok(()), |h| {
            h.visit(&filter, |e| -> anyhow::Result<()> {
                Ok(write_text(&mut out, &e, args.diff)?)
            })
        }),
    }
    .and_then(|()| Ok(out.flush()?));
    finish(written)
}

/// SPEC.md's log JSON, streamed entry by entry.
fn write_json(
    out: &mut impl Write,
    history: Option<&History<'_>>,
    filter: &HistoryFilter,
) -> anyhow::Result<()> {
    out.write_all(br#"{"version":1,"entries":["#)?;
    let mut first = true;
    if let Some(history) = history {
        history.visit(filter, |e| -> anyhow::Result<()> {
            if !std::mem::take(&mut first) {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &e).map_err(std::io::Error::from)?;
            Ok(())
        })?;
    }
    out.write_all(b"]}\n")?;
    Ok(())
}

/// Success, also when the reader went away (`siteward log | head`).
fn finish(written: anyhow::Result<()>) -> anyhow::Result<Exit> {
    match written {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(Exit::Ok)
        }
        other => other.map(|()| Exit::Ok).context("cannot write the log"),
    }
}

/// `audit.branch` from `siteward.yaml`, read alone (the sites need not be valid to read logs).
fn configured_branch(repo: &Path) -> anyhow::Result<String> {
    let source = match settings_source(repo) {
        Ok(Some(source)) => source,
        Ok(None) => return Ok(crate::spec::Settings::default().audit_branch.to_string()),
        Err(p) => anyhow::bail!("{p}; fix siteward.yaml or pass `--audit-branch BRANCH`"),
    };
    let (state, problems) = load_sources(&[source]);
    if let Some(p) = problems.first() {
        anyhow::bail!("{p}; fix siteward.yaml or pass `--audit-branch BRANCH`");
    }
    Ok(state.settings.audit_branch.to_string())
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_date(flag: &str, s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            anyhow::anyhow!("`--{flag} {s}` is not a date; write YYYY-MM-DD or an RFC 3339 time")
        })
}

/// One entry as a line (and with `diff`, its changes and actions below it).
fn write_text(out: &mut impl Write, e: &Entry, diff: bool) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {}  {}  {}  {}  {}",
        e.time,
        e.run,
        e.command.as_str(),
        e.site,
        sync_word(e.sync),
        outcome(e)
    )?;
    if diff {
        for c in &e.changes {
            writeln!(out, "    {}", change_line(c))?;
        }
        for a in &e.actions {
            let message = a
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            writeln!(
                out,
                "    = {} {} {}{message}",
                result_word(a.result),
                serde_plain(&a.resource),
                a.key
            )?;
        }
    }
    Ok(())
}

/// `2 changes, 1 applied, 1 proposed` (plus the site's error, if any).
fn outcome(e: &Entry) -> String {
    let n = e.changes.len();
    let mut parts = vec![format!("{n} change{}", if n == 1 { "" } else { "s" })];
    for r in [
        ActionResult::Applied,
        ActionResult::Failed,
        ActionResult::Proposed,
        ActionResult::Skipped,
    ] {
        let k = e.actions.iter().filter(|a| a.result == r).count();
        if k > 0 {
            parts.push(format!("{k} {}", result_word(r)));
        }
    }
    if let Some(err) = &e.error {
        parts.push(format!("error: {err}"));
    }
    parts.join(", ")
}

/// `~ header x-frame-options: "SAMEORIGIN" -> "DENY"`.
fn change_line(c: &Change) -> String {
    let q = |v: &Option<String>| match v {
        Some(v) => format!("{v:?}"),
        None => "absent".to_owned(),
    };
    let what = format!("{} {}", serde_plain(&c.resource), c.key);
    match c.action {
        Action::Add => format!("+ {what}: {}", q(&c.desired)),
        Action::Remove => format!("- {what}: {}", q(&c.live)),
        Action::Change => format!("~ {what}: {} -> {}", q(&c.live), q(&c.desired)),
    }
}

fn sync_word(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::InSync => "in_sync",
        SyncStatus::Drift => "drift",
        SyncStatus::Unknown => "unknown",
    }
}

fn result_word(r: ActionResult) -> &'static str {
    match r {
        ActionResult::Applied => "applied",
        ActionResult::Failed => "failed",
        ActionResult::Proposed => "proposed",
        ActionResult::Skipped => "skipped",
        ActionResult::Held => "held",
    }
}

/// A unit enum's serde name (`header`, `plugin`, ...).
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Resource;

    #[test]
    fn change_lines() {
        let c = Change {
            resource: Resource::Header,
            key: "x-frame-options".into(),
            action: Action::Change,
            live: Some("SAMEORIGIN".into()),
            desired: Some("DENY".into()),
            provider: None,
            applicable: false,
            step: crate::plan::Step::Propose,
            reason: Some("no provider".into()),
        };
        assert_eq!(
            change_line(&c),
            r#"~ header x-frame-options: "SAMEORIGIN" -> "DENY""#
        );
    }

    #[test]
    fn dates() {
        let d = parse_date("since", "2026-11-29").unwrap();
        assert_eq!(d.to_rfc3339(), "2026-11-29T00:00:00+00:00");
        assert!(parse_date("since", "2026-11-29T10:00:00Z").is_ok());
        let e = parse_date("since", "29-11-2026").unwrap_err().to_string();
        assert!(e.contains("`--since 29-11-2026` is not a date"), "{e}");
    }
}
