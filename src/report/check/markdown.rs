//! Markdown of `siteward check` for pull-request comments: a table of every site (worst
//! first), then a section per site with findings or an error. Stays under [`MAX_CHARS`] like
//! the plan's Markdown: large fleets are summarised, and the output says what was left out.

use std::fmt::Write;

use super::{count, grades, severities};
use crate::policy::{CheckReport, SiteCheck};
use crate::report::escape::{code_span, markdown, table_code};

/// Upper bound of the output length, in characters.
pub const MAX_CHARS: usize = crate::report::markdown::MAX_CHARS;
/// Longest message or advice shown in one cell.
const CELL_CHARS: usize = 400;

/// Renders the report as Markdown.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::from("## siteward check\n\n");
    let _ = writeln!(
        out,
        "**{} site(s)**: {}; open findings: {}.\n",
        report.summary.sites,
        grades(report),
        severities(report)
    );
    let mut ordered: Vec<&SiteCheck> = report.sites.iter().collect();
    // Not observed first, then lowest score; by name within each.
    ordered.sort_by_key(|s| (s.error.is_none(), s.score, s.site.clone()));

    out.push_str("| site | grade | score | TLS | findings |\n| --- | --- | --- | --- | --- |\n");
    let rows = ordered.iter().map(|site| match &site.error {
        Some(_) => format!("| {} | ❌ not observed | | | |\n", table_code(&site.site)),
        None => format!(
            "| {} | {} | {} | {} | {} |\n",
            table_code(&site.site),
            site.grade.map_or("", |g| g.as_str()),
            site.score.map_or_else(String::new, |s| s.to_string()),
            site.tls_grade.map_or("", |g| g.as_str()),
            count(site)
        ),
    });
    let unlisted = crate::report::markdown::table_rows(&mut out, rows, 5);

    let needs: Vec<&&SiteCheck> = ordered
        .iter()
        .filter(|s| s.error.is_some() || !s.findings.is_empty())
        .collect();
    let shown =
        crate::report::markdown::append_within(&mut out, needs.iter().map(|site| section(site)));
    let left = needs.len() - shown;
    if left > 0 || unlisted > 0 {
        let _ = writeln!(
            out,
            "\n> Summarised to stay under {MAX_CHARS} characters: {unlisted} site(s) not in the \
             table, details of {left} site(s) left out. Run `siteward check --format json` for \
             every finding."
        );
    }
    out
}

/// Text safe inside a table cell: at most [`CELL_CHARS`] of `s`, escaped (one line, no HTML,
/// no Markdown, pipes escaped).
fn cell(s: &str) -> String {
    let cut: String = s.chars().take(CELL_CHARS).collect();
    let more = if cut.len() < s.len() { "…" } else { "" };
    format!("{}{more}", markdown(&cut))
}

fn section(site: &SiteCheck) -> String {
    let mut d = format!("### {}", code_span(&site.site));
    if let Some(e) = &site.error {
        let _ = writeln!(d, ": not observed\n\n**error:** {}\n", cell(e));
        return d;
    }
    let _ = writeln!(
        d,
        ": grade {} ({}), TLS {}\n",
        site.grade.map_or("-", |g| g.as_str()),
        site.score.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        site.tls_grade.map_or("-", |g| g.as_str())
    );
    d.push_str("| severity | rule | finding | advice |\n| --- | --- | --- | --- |\n");
    for f in &site.findings {
        let mut rule = table_code(&f.rule);
        if let Some(t) = &f.also {
            rule = format!("{rule} (also {})", table_code(t));
        }
        if f.excepted {
            rule.push_str(" (excepted)");
        }
        let _ = writeln!(
            d,
            "| {} | {rule} | {} | {} |",
            f.severity,
            cell(&f.message),
            cell(&f.advice)
        );
    }
    for e in &site.exceptions {
        let state = if e.expired {
            "expired"
        } else {
            "in force until"
        };
        let _ = writeln!(
            d,
            "\n- exception for {} {state} {}: {}",
            code_span(&e.rule),
            markdown(&e.expires.to_string()),
            cell(&e.reason)
        );
    }
    d.push('\n');
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_then_sections_with_escaped_cells() {
        let md = render(&super::super::tests::sample());
        assert!(md.starts_with("## siteward check\n\n**2 site(s)**: B 1, unknown 1;"));
        let down = md
            .find("| `down.example.nl` | ❌ not observed")
            .expect("row");
        let shop = md.find("| `shop.example.nl` | B | 78 | A |").expect("row");
        assert!(down < shop, "not observed first:\n{md}");
        assert!(md.contains("| high | `hsts` | hsts \\| failed | fix hsts |"));
        assert!(md.contains("| `csp` (excepted) |"));
        assert!(md.contains("### `down.example.nl`: not observed"));
    }

    #[test]
    fn server_text_in_findings_stays_text() {
        let mut r = super::super::tests::sample();
        r.sites[0].findings[0].message =
            "`X-Frame-Options` is `</details><h1>x</h1>` | \x1b[2J".into();
        r.sites[0].findings[0].rule = "a`|b".into();
        let md = render(&r);
        assert!(!md.contains("<h1>") && !md.contains('\x1b'), "{md}");
        assert!(
            md.contains(
                "| ``a`\\|b`` | \\`X-Frame-Options\\` is \\`&lt;/details&gt;&lt;h1&gt;x&lt;/h1&gt;\\` \\| \\\\x1b\\[2J |"
            ),
            "{md}"
        );
    }

    #[test]
    fn a_large_fleet_stays_under_the_limit() {
        let one = super::super::tests::sample().sites[0].clone();
        let sites = (0..3000)
            .map(|i| SiteCheck {
                site: format!("site-{i}.example.nl"),
                ..one.clone()
            })
            .collect();
        let md = render(&CheckReport::new(sites));
        assert!(md.len() <= MAX_CHARS, "{}", md.len());
        assert!(md.contains("Summarised to stay under"));
    }
}
