//! Markdown for pull-request comments: a summary table, then a `<details>` section per site
//! that needs attention. Stays under [`MAX_CHARS`] (GitHub rejects comments over 65,536): large
//! fleets are summarised, and the output says what was left out.

use std::fmt::Write;

use super::escape::{code_span, fenced, html, markdown, table_code};
use super::{Report, describe, unified};
use crate::plan::{Health, SitePlan, SyncStatus};

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
    ordered.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.site.cmp(&b.site)));
    // Sites with nothing to report come last; at fleet scale they are one row with a count.
    let (noted, quiet) = ordered.split_at(ordered.partition_point(|s| attention(s)));

    out.push_str("| site | sync | health | changes |\n| --- | --- | --- | --- |\n");
    let table_end = out.len() + TABLE_CHARS;
    let unlisted = table_rows_within(&mut out, noted.iter().map(|s| row(s)), 4, TABLE_CHARS);
    // The in-sync sites are listed when all of them fit in what is left of the table, else
    // they are one row with their count.
    out.pop(); // the blank line that ended the table
    let quiet_rows: String = quiet.iter().map(|s| row(s)).collect();
    let collapsed = if unlisted == 0 && out.len() + quiet_rows.len() <= table_end {
        out.push_str(&quiet_rows);
        0
    } else {
        if !quiet.is_empty() {
            let _ = writeln!(out, "| ✅ {} site(s) in sync |  |  |  |", quiet.len());
        }
        quiet.len()
    };
    out.push('\n');

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

    let shown = append_within(&mut out, noted.iter().map(|site| details(site, r)));
    let left = &noted[shown..];
    let mut omitted = Vec::new();
    if collapsed > 0 {
        omitted.push(format!("{collapsed} site(s) in sync are shown as a count"));
    }
    if unlisted > 0 {
        omitted.push(format!(
            "{unlisted} site(s) needing attention are not in the table"
        ));
    }
    let changed = left.iter().filter(|s| !s.changes.is_empty()).count();
    if changed > 0 {
        omitted.push(format!("{changed} more site(s) with changes are not shown"));
    }
    if left.len() > changed {
        omitted.push(format!(
            "details of {} other site(s) needing attention are left out",
            left.len() - changed
        ));
    }
    if !omitted.is_empty() {
        let _ = writeln!(
            out,
            "\n> Summarised to stay under {MAX_CHARS} characters: {}. See the JSON plan \
             (`siteward plan --format json`) for every site.",
            omitted.join("; ")
        );
    }
    out
}

/// One row of the sites table.
fn row(site: &SitePlan) -> String {
    format!(
        "| {} | {} | {} | {} |\n",
        table_code(&site.site),
        sync_word(site.sync),
        json_word(&site.health),
        site.changes.len()
    )
}

/// Appends table `rows` (of `columns` cells) while the table stays within [`TABLE_CHARS`], then a
/// `… N more site(s)` row for the rest and a blank line; returns how many were left out.
pub fn table_rows(
    out: &mut String,
    rows: impl ExactSizeIterator<Item = String>,
    columns: usize,
) -> usize {
    table_rows_within(out, rows, columns, TABLE_CHARS)
}

/// [`table_rows`] with a budget of `chars` for the rows, never past [`MAX_CHARS`] less the room
/// kept for the closing note.
fn table_rows_within(
    out: &mut String,
    rows: impl ExactSizeIterator<Item = String>,
    columns: usize,
    chars: usize,
) -> usize {
    let total = rows.len();
    let table_end = (out.len() + chars).min(MAX_CHARS - 2 * NOTE_CHARS);
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

/// Unknown sites first, then failing ones (checks, unobserved resources), then drift with the
/// most changes first, then in-sync sites needing attention, then the rest. Every site that
/// needs attention ranks before every site that does not.
fn rank(site: &SitePlan) -> (u8, std::cmp::Reverse<usize>) {
    let failing = matches!(site.health, Health::Down | Health::Degraded)
        || site.checks.iter().any(|c| !c.ok)
        || !site.unobserved.is_empty();
    let r = match site.sync {
        SyncStatus::Unknown => 0,
        _ if failing => 1,
        SyncStatus::Drift => 2,
        SyncStatus::InSync if attention(site) => 3,
        SyncStatus::InSync => 4,
    };
    (r, std::cmp::Reverse(site.changes.len()))
}

fn attention(site: &SitePlan) -> bool {
    site.sync != SyncStatus::InSync
        || site.health != Health::Healthy
        || !site.unobserved.is_empty()
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

    #[test]
    fn fleets_collapse_in_sync_sites_and_show_unknown_then_largest_changes_first() {
        let (mut p, y) = plan(10_000);
        for (i, site) in p.sites.iter_mut().enumerate() {
            match i % 1000 {
                // Ten unknown sites, spread over the fleet.
                7 => {
                    site.sync = SyncStatus::Unknown;
                    site.health = Health::Unknown;
                    site.error = Some("connection refused".into());
                    site.changes.clear();
                }
                // Every fiftieth site drifts, with more changes the later it comes.
                n if n % 50 == 3 => {
                    let one = site.changes[0].clone();
                    site.changes = vec![one; 1 + i / 500];
                }
                _ => {
                    site.sync = SyncStatus::InSync;
                    site.changes.clear();
                }
            }
        }
        let p = Plan::new(p.run.clone(), p.sites);
        let md = render(Report { plan: &p, yaml: &y });
        assert!(md.chars().count() <= MAX_CHARS, "{} chars", md.len());
        let unknown: Vec<&str> = p
            .sites
            .iter()
            .filter(|s| s.sync == SyncStatus::Unknown)
            .map(|s| s.site.as_str())
            .collect();
        assert_eq!(unknown.len(), 10);
        let first_drift = md.find("⚠️ drift").expect("drift rows");
        for name in &unknown {
            let at = md.find(name).unwrap_or_else(|| panic!("{name} not named"));
            assert!(at < first_drift, "{name} comes after a drift row");
        }
        assert!(md.contains("| ✅ 9790 site(s) in sync |"), "{md}");
        assert!(
            !md.contains("| `site-00000.example.com` |"),
            "in-sync sites are a count"
        );
        // The drift sites with the most changes (20, from site 9500 on) are detailed first.
        let details = &md[md.find("<details>").expect("details")..];
        assert!(
            details.starts_with("<details><summary><code>site-0"),
            "{details}"
        );
        let first_drift_details = details
            .split("<details>")
            .find(|d| d.contains(": drift"))
            .expect("drift details");
        assert!(
            first_drift_details.contains("site-09503.example.com"),
            "{first_drift_details}"
        );
        assert!(
            md.contains("9790 site(s) in sync are shown as a count"),
            "{md}"
        );
        assert!(
            md.contains("more site(s) with changes are not shown"),
            "{md}"
        );
        assert!(md.contains("See the JSON plan (`siteward plan --format json`)"));
    }
}
