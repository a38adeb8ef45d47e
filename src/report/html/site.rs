//! `sites/<site>.html`: one site — what it is and how it is now (sync, health, grades,
//! certificate), the current diff with each change's step, availability checks and findings,
//! its proposals, and its history from the audit branch (drift periods, the changes acted on
//! with run and commit, the latest runs).

use std::fmt::Write as _;

use super::history::{ActionLine, DriftPeriod, RunLine};
use super::overview::short;
use super::page::{self, or_dash, state, when};
use super::{Fleet, SiteReport};
use crate::policy::Grade;
use crate::report::escape::html;

/// The page of site `s`.
pub fn render(fleet: &Fleet, s: &SiteReport) -> String {
    let mut body = String::new();
    facts(&mut body, s);
    changes(&mut body, s);
    checks(&mut body, s);
    proposals(&mut body, s);
    history(&mut body, s);
    page::page(&s.name, &fleet.generated, "../", &body, None)
}

/// Opens a section with heading `title` and a table with these column headers, or writes
/// `empty` instead when there are no rows.
fn open_table(out: &mut String, id: &str, title: &str, columns: &[&str], rows: usize, empty: &str) {
    let _ = writeln!(
        out,
        "<section aria-labelledby=\"{id}-h\"><h2 id=\"{id}-h\">{title}</h2>"
    );
    if rows == 0 {
        let _ = writeln!(out, "<p class=\"muted\">{empty}</p></section>");
        return;
    }
    out.push_str("<table><thead><tr>");
    for c in columns {
        let _ = write!(out, "<th scope=\"col\">{c}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

/// Closes what [`open_table`] opened when it had rows.
fn close_table(out: &mut String, rows: usize) {
    if rows > 0 {
        out.push_str("</tbody></table></section>\n");
    }
}

/// A row: the first cell a row header, the rest data cells (all already HTML).
fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        if i == 0 {
            let _ = write!(out, "<th scope=\"row\">{c}</th>");
        } else {
            let _ = write!(out, "<td>{c}</td>");
        }
    }
    out.push_str("</tr>\n");
}

fn facts(out: &mut String, s: &SiteReport) {
    let grade = match (s.check.grade, s.check.score) {
        (Some(g), Some(score)) => format!("{} (score {score})", g.as_str()),
        (Some(g), None) => g.as_str().to_owned(),
        (None, _) => "\u{2014}".to_owned(),
    };
    let days = match s.days_left {
        Some(d) if d < i64::from(s.min_days_left) => format!(
            "<span class=\"below\">{d} \u{2014} below the minimum of {}</span>",
            s.min_days_left
        ),
        Some(d) => format!("{d} (minimum {})", s.min_days_left),
        None => "\u{2014} (no certificate observed)".to_owned(),
    };
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|(k, v)| format!("<span class=\"label\">{}</span>", html(&format!("{k}={v}"))))
        .collect();
    let mut rows = vec![
        ("URL", html(&s.url)),
        ("Owner", or_dash(s.owner.as_deref())),
        ("Labels", labels.join(" ")),
        ("Sync mode", html(s.sync_mode)),
        ("Sync", state(s.plan.sync.as_str())),
        ("Health", state(s.plan.health.as_str())),
        ("Web grade", grade),
        ("TLS grade", or_dash(s.check.tls_grade.map(Grade::as_str))),
        ("Certificate days left", days),
        ("Last change", when(s.history.last_change.as_deref())),
        ("Last run", when(s.history.last_run())),
        ("Runs recorded", s.history.runs.to_string()),
    ];
    if let Some(e) = &s.plan.error {
        rows.push((
            "Error",
            format!("<span class=\"failed\">{}</span>", html(e)),
        ));
    }
    for w in &s.plan.warnings {
        rows.push(("Warning", html(w)));
    }
    out.push_str(
        "<section aria-labelledby=\"now-h\"><h2 id=\"now-h\">Now</h2>\n<table class=\"facts\">\
<tbody>\n",
    );
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>");
    }
    out.push_str("</tbody></table></section>\n");
}

fn changes(out: &mut String, s: &SiteReport) {
    let n = s.plan.changes.len();
    open_table(
        out,
        "diff",
        "Current diff",
        &["Change", "Action", "Live", "Desired", "Step"],
        n,
        "No changes: the live site matches its desired state, or it was not observed.",
    );
    for c in &s.plan.changes {
        row(
            out,
            &[
                html(&format!("{} {}", c.resource.as_str(), c.key)),
                html(c.action.as_str()),
                or_dash(c.live.as_deref()),
                or_dash(c.desired.as_deref()),
                html(&crate::report::verdict(c)),
            ],
        );
    }
    close_table(out, n);
    if let Some(diff) = &s.diff {
        out.push_str(
            "<details open><summary>Unified diff, live \u{2192} desired</summary>\
<pre class=\"diff\">",
        );
        for line in diff.lines() {
            let class = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => " class=\"add\"",
                Some(b'-') if !line.starts_with("---") => " class=\"del\"",
                _ => "",
            };
            let _ = writeln!(out, "<span{class}>{}</span>", html(line));
        }
        out.push_str("</pre></details>\n");
    }
}

fn checks(out: &mut String, s: &SiteReport) {
    let n = s.plan.checks.len();
    open_table(
        out,
        "checks",
        "Availability checks",
        &["Check", "Result", "Status", "Time (ms)", "Message"],
        n,
        "No availability checks configured or run.",
    );
    for c in &s.plan.checks {
        row(
            out,
            &[
                html(&c.name),
                state(if c.ok { "ok" } else { "failed" }),
                or_dash(c.status.map(|s| s.to_string()).as_deref()),
                or_dash(c.ms.map(|s| s.to_string()).as_deref()),
                or_dash(c.message.as_deref()),
            ],
        );
    }
    close_table(out, n);
    let n = s.check.findings.len();
    open_table(
        out,
        "findings",
        "Findings",
        &["Rule", "Severity", "Message", "Advice", "Status"],
        n,
        "No findings.",
    );
    for f in &s.check.findings {
        row(
            out,
            &[
                html(&f.rule),
                html(f.severity.as_str()),
                html(&f.message),
                html(&f.advice),
                html(if f.excepted { "excepted" } else { "active" }),
            ],
        );
    }
    close_table(out, n);
}

fn proposals(out: &mut String, s: &SiteReport) {
    let n = s.proposals.len();
    open_table(
        out,
        "proposals",
        "Proposals",
        &["Title", "Kind", "State", "Updated", "Branch", "Commit"],
        n,
        "No proposals.",
    );
    for p in &s.proposals {
        row(
            out,
            &[
                html(&p.title),
                html(p.kind),
                state(p.status),
                when(Some(&p.updated)),
                format!("<code>{}</code>", html(&p.branch)),
                format!("<code>{}</code>", html(short(&p.commit))),
            ],
        );
    }
    close_table(out, n);
}

fn history(out: &mut String, s: &SiteReport) {
    let h = &s.history;
    let n = h.drift.len();
    open_table(
        out,
        "drift",
        "Drift periods",
        &["From", "Resolved", "Runs that saw it"],
        n,
        "No drift recorded.",
    );
    for DriftPeriod {
        from,
        resolved,
        runs,
    } in &h.drift
    {
        let resolved = match resolved {
            Some(t) => when(Some(t)),
            None => state("ongoing"),
        };
        row(out, &[when(Some(from)), resolved, runs.to_string()]);
    }
    close_table(out, n);
    let n = h.actions.len();
    open_table(
        out,
        "actions",
        "Changes acted on",
        &[
            "Time", "Change", "Action", "Result", "Message", "Run", "Commit",
        ],
        n,
        "No change was applied, proposed or held.",
    );
    for a in &h.actions {
        let ActionLine {
            time,
            run,
            commit,
            resource,
            key,
            action,
            result,
            message,
        } = a;
        row(
            out,
            &[
                when(Some(time)),
                html(&format!("{} {key}", resource.as_str())),
                html(action.as_str()),
                state(result.as_str()),
                or_dash(message.as_deref()),
                format!("<code>{}</code>", html(run)),
                format!("<code>{}</code>", html(short(commit))),
            ],
        );
    }
    close_table(out, n);
    let n = h.recent.len();
    open_table(
        out,
        "runs",
        "Latest runs",
        &[
            "Time", "Command", "Sync", "Health", "Changes", "Error", "Run", "Commit",
        ],
        n,
        "No run recorded for this site yet.",
    );
    for r in &h.recent {
        let RunLine {
            time,
            run,
            commit,
            command,
            sync,
            health,
            changes,
            error,
        } = r;
        row(
            out,
            &[
                when(Some(time)),
                html(command),
                state(sync.as_str()),
                state(health.as_str()),
                changes.to_string(),
                or_dash(error.as_deref()),
                format!("<code>{}</code>", html(run)),
                format!("<code>{}</code>", html(short(commit))),
            ],
        );
    }
    close_table(out, n);
}
