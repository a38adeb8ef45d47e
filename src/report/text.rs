//! Text output for people: per site a status line, its changes, warnings and failed checks,
//! then a unified diff (live → desired) of the canonical YAML; a summary line last.

use std::fmt::Write;

use super::escape::text;
use super::{Report, describe, unified};
use crate::plan::{SitePlan, SyncStatus};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Renders the report; `color` adds ANSI colours.
pub fn render(r: Report<'_>, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    for site in &r.plan.sites {
        let _ = writeln!(out, "{}", status_line(site, &paint));
        if let Some(source) = &site.software_source {
            let _ = writeln!(out, "  software as listed by {}", text(source));
        }
        for w in &site.warnings {
            let _ = writeln!(out, "  {}", paint(YELLOW, &format!("warning: {}", text(w))));
        }
        if let Some(e) = &site.error {
            let _ = writeln!(out, "  error: {}", text(e));
        }
        for c in &site.manage_changes {
            let shown = |v: &Option<String>| v.as_deref().map_or("(not set)", |v| v).to_owned();
            let line = format!(
                "how it is managed: {}: {} → {}",
                c.field,
                shown(&c.before),
                shown(&c.after)
            );
            let _ = writeln!(out, "  {}", paint(YELLOW, &text(&line)));
        }
        for c in &site.changes {
            let _ = writeln!(out, "  {}", text(&describe(c)));
        }
        for f in &site.findings {
            let line = format!("finding {} {}: {}", f.severity, f.rule, f.message);
            let _ = writeln!(out, "  {}", text(&line));
        }
        for v in &site.vulnerabilities {
            let _ = writeln!(out, "  {}", paint(RED, &text(&crate::vuln::describe(v))));
        }
        for c in site.checks.iter().filter(|c| !c.ok) {
            let why = c.message.as_deref().unwrap_or("failed");
            let _ = writeln!(out, "  check `{}` failed: {}", text(&c.name), text(why));
        }
        if let Some(diff) = r.yaml.get(&site.site).and_then(unified) {
            for line in diff.lines() {
                let code = match line.as_bytes().first() {
                    _ if line.starts_with("---") || line.starts_with("+++") => BOLD,
                    Some(b'+') => GREEN,
                    Some(b'-') => RED,
                    Some(b'@') => CYAN,
                    _ => "",
                };
                let line = text(line);
                let shown = if code.is_empty() {
                    line.into_owned()
                } else {
                    paint(code, &line)
                };
                let _ = writeln!(out, "    {shown}");
            }
        }
    }
    let s = &r.plan.summary;
    let _ = writeln!(
        out,
        "{} site(s): {} in sync, {} drift, {} unknown; {} change(s)",
        s.sites, s.in_sync, s.drift, s.unknown, s.changes
    );
    out
}

fn status_line(site: &SitePlan, paint: &dyn Fn(&str, &str) -> String) -> String {
    let (word, code) = match site.sync {
        SyncStatus::InSync => ("in sync", GREEN),
        SyncStatus::Drift => ("drift", YELLOW),
        SyncStatus::Unknown => ("unknown", RED),
    };
    let health = serde_json::to_value(site.health)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let n = site.changes.len();
    let changes = if n > 0 {
        format!(", {n} change(s)")
    } else {
        String::new()
    };
    format!(
        "{}: {}, health {health}{changes}",
        paint(BOLD, &text(&site.site)),
        paint(code, word)
    )
}
