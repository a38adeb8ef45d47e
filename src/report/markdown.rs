//! Markdown for pull-request comments: a summary table, then a `<details>` section per site
//! that needs attention. Stays under [`MAX_CHARS`] (GitHub rejects comments over 65,536): large
//! fleets are summarised, and the output says what was left out.

use std::fmt::Write;

use super::escape::{code_span, fenced, html, markdown, table_code};
use super::{Report, describe, unified};
use crate::plan::{SitePlan, SyncStatus};

/// Upper bound of the output length, in characters.
pub const MAX_CHARS: usize = 60_000;
/// Share of [`MAX_CHARS`] the summary table may take.
const TABLE_CHARS: usize = 20_000;
/// Longest diff shown for one site.
const SITE_DIFF_CHARS: usize = 6_000;
/// Room kept for the closing note.
const NOTE_CHARS: usize = 600;

/// Renders the report as Markdown.
pub fn render(r: Report<'_>) -> String {
    let p = r.plan;
    let s = &p.summary;
    let mut out = String::from("## siteward plan\n\n");
    let _ = writeln!(
        out,
        "**{} site(s)**: {} in sync, {} drift, {} unknown; {} change(s).  \nRun `{}`{}.\n",
        s.sites,
        s.in_sync,
        s.drift,
        s.unknown,
        s.changes,
        p.run.id,
        p.run
            .desired_commit
            .as_deref()
            .map(|c| format!(", desired commit `{}`", &c[..c.len().min(12)]))
            .unwrap_or_default()
    );
    let mut ordered: Vec<&SitePlan> = p.sites.iter().collect();
    ordered.sort_by_key(|site| rank(site));

    out.push_str("| site | sync | health | changes |\n| --- | --- | --- | --- |\n");
    let rows = ordered.iter().map(|site| {
        format!(
            "| {} | {} | {} | {} |\n",
            table_code(&site.site),
            sync_word(site.sync),
            json_word(&site.health),
            site.changes.len()
        )
    });
    let unlisted = table_rows(&mut out, rows, 4);

    // What `siteward check` would report, compactly.
    let findings: Vec<(&str, &crate::plan::PlanFinding)> = ordered
        .iter()
        .flat_map(|site| site.findings.iter().map(|f| (site.site.as_str(), f)))
        .collect();
    if !findings.is_empty() {
        out.push_str(
            "### Findings (`siteward check`, medium and above)\n\n\
             | site | severity | rule | finding |\n| --- | --- | --- | --- |\n",
        );
        let rows = findings.iter().map(|(site, f)| {
            format!(
                "| {} | {} | {} | {} |\n",
                table_code(site),
                markdown(&f.severity),
                table_code(&f.rule),
                markdown(&f.message)
            )
        });
        table_rows(&mut out, rows, 4);
    }

    // Changes to how sites are managed change nothing live, so they get their own section
    // where reviewers cannot miss them.
    let managed: Vec<(&str, &crate::diff::ManageChange)> = ordered
        .iter()
        .flat_map(|site| site.manage_changes.iter().map(|c| (site.site.as_str(), c)))
        .collect();
    if !managed.is_empty() {
        out.push_str(
            "### Changes to how sites are managed

Nothing live changes, but these decide what \
             siteward runs and where: review them like code.

\
             | site | field | before | after |\n| --- | --- | --- | --- |\n",
        );
        let cell = |v: &Option<String>| v.as_deref().map_or_else(|| "—".to_owned(), table_code);
        let rows = managed.iter().map(|(site, c)| {
            format!(
                "| {} | {} | {} | {} |\n",
                table_code(site),
                table_code(&c.field),
                cell(&c.before),
                cell(&c.after)
            )
        });
        table_rows(&mut out, rows, 4);
    }

    let needs: Vec<&&SitePlan> = ordered.iter().filter(|s| attention(s)).collect();
    let shown = append_within(&mut out, needs.iter().map(|site| details(site, r)));
    let left = needs.len() - shown;
    if left > 0 || unlisted > 0 {
        let _ = writeln!(
            out,
            "\n> Summarised to stay under {MAX_CHARS} characters: {unlisted} site(s) not in the \
             table, details of {left} site(s) left out. Run `siteward plan --format json` for \
             the full plan."
        );
    }
    out
}

/// Appends table `rows` (of `columns` cells) while the table stays within [`TABLE_CHARS`], then a
/// `… N more site(s)` row for the rest and a blank line; returns how many were left out.
pub fn table_rows(
    out: &mut String,
    rows: impl ExactSizeIterator<Item = String>,
    columns: usize,
) -> usize {
    let total = rows.len();
    let table_end = out.len() + TABLE_CHARS;
    let mut listed = 0;
    for row in rows {
        if out.len() + row.len() > table_end {
            break;
        }
        out.push_str(&row);
        listed += 1;
    }
    let unlisted = total - listed;
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "| … {unlisted} more site(s) |{}",
            " |".repeat(columns - 1)
        );
    }
    out.push('\n');
    unlisted
}

/// Appends `sections` in order while the whole stays under [`MAX_CHARS`], keeping room for the
/// closing note; returns how many were appended.
pub fn append_within(out: &mut String, sections: impl Iterator<Item = String>) -> usize {
    let mut shown = 0;
    for section in sections {
        if out.len() + section.len() + NOTE_CHARS > MAX_CHARS {
            break;
        }
        out.push_str(&section);
        shown += 1;
    }
    shown
}

/// Unknown first, then drift, then the rest; by name within each.
fn rank(site: &SitePlan) -> (u8, String) {
    let r = match site.sync {
        SyncStatus::Unknown => 0,
        SyncStatus::Drift => 1,
        SyncStatus::InSync => 2,
    };
    (r, site.site.clone())
}

fn attention(site: &SitePlan) -> bool {
    site.sync != SyncStatus::InSync
        || !site.warnings.is_empty()
        || !site.manage_changes.is_empty()
        || site.checks.iter().any(|c| !c.ok)
        || !site.vulnerabilities.is_empty()
}

fn sync_word(s: SyncStatus) -> &'static str {
    match s {
        SyncStatus::InSync => "✅ in sync",
        SyncStatus::Drift => "⚠️ drift",
        SyncStatus::Unknown => "❌ unknown",
    }
}

fn json_word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn details(site: &SitePlan, r: Report<'_>) -> String {
    let mut d = format!(
        "<details><summary><code>{}</code>: {}, {} change(s)</summary>\n\n",
        html(&site.site),
        json_word(&site.sync),
        site.changes.len()
    );
    if let Some(e) = &site.error {
        let _ = writeln!(d, "**error:** {}\n", markdown(e));
    }
    for w in &site.warnings {
        let _ = writeln!(d, "**warning:** {}\n", markdown(w));
    }
    for c in &site.changes {
        let _ = writeln!(d, "- {}", code_span(&describe(c)));
    }
    for v in &site.vulnerabilities {
        let _ = writeln!(d, "- 🛡️ {}", markdown(&crate::vuln::describe(v)));
    }
    for c in site.checks.iter().filter(|c| !c.ok) {
        let why = c.message.as_deref().unwrap_or("failed");
        let _ = writeln!(
            d,
            "- check {} failed: {}",
            code_span(&c.name),
            markdown(why)
        );
    }
    if let Some(mut diff) = r.yaml.get(&site.site).and_then(unified) {
        if diff.len() > SITE_DIFF_CHARS {
            let cut = (0..=SITE_DIFF_CHARS)
                .rev()
                .find(|i| diff.is_char_boundary(*i))
                .unwrap_or(0);
            diff.truncate(cut);
            diff.push_str("\n… (diff truncated)\n");
        }
        let _ = write!(d, "\n{}", fenced(&diff, "diff"));
    }
    d.push_str("\n</details>\n");
    d
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::{Action, Change, Health, Plan, Resource, RunInfo};
    use crate::report::SiteYaml;

    fn plan(n: usize) -> (Plan, BTreeMap<String, SiteYaml>) {
        let mut yaml = BTreeMap::new();
        let sites = (0..n)
            .map(|i| {
                let name = format!("site-{i:05}.example.com");
                yaml.insert(
                    name.clone(),
                    SiteYaml {
                        desired: "headers:\n  x-frame-options: DENY\n".into(),
                        live: Some("headers:\n  x-frame-options: absent\n".into()),
                    },
                );
                SitePlan {
                    site: name,
                    sync: SyncStatus::Drift,
                    health: Health::Healthy,
                    observed_sha256: None,
                    desired_sha256: String::new(),
                    changes: vec![Change {
                        resource: Resource::Header,
                        key: "x-frame-options".into(),
                        action: Action::Add,
                        live: None,
                        desired: Some("DENY | x".into()),
                        provider: None,
                        applicable: false,
                        step: crate::plan::Step::Propose,
                        reason: Some("no provider".into()),
                    }],
                    checks: vec![],
                    error: None,
                    warnings: vec![],
                    unobserved: vec![],
                    vulnerabilities: vec![],
                    software_source: None,
                    manage_changes: vec![],
                    findings: vec![],
                }
            })
            .collect();
        let run = RunInfo {
            id: "r1".into(),
            started: "t".into(),
            desired_commit: None,
        };
        (Plan::new(run, sites), yaml)
    }

    #[test]
    fn small_plans_are_complete() {
        let (p, y) = plan(3);
        let md = render(Report { plan: &p, yaml: &y });
        assert_eq!(md.matches("<details>").count(), 3);
        // The change is shown verbatim in a code span (a list item, not a table cell: a `\|`
        // there would show its backslash).
        assert!(
            md.contains("- `+ header x-frame-options: DENY | x [propose: no provider]`"),
            "{md}"
        );
        assert!(md.contains("```diff\n--- live\n+++ desired\n"));
        assert!(!md.contains("Summarised"));
    }

    #[test]
    fn large_fleets_are_summarised_under_the_limit() {
        let (p, y) = plan(5_000);
        let md = render(Report { plan: &p, yaml: &y });
        assert!(md.chars().count() <= MAX_CHARS, "{} chars", md.len());
        assert!(md.contains("Summarised to stay under 60000 characters"));
        assert!(md.contains("more site(s)"));
        assert!(md.contains("**5000 site(s)**"));
    }
}
