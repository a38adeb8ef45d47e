//! Text output of `siteward check` for people: per site its headline, its findings (most severe
//! first) with advice, and its exceptions; a summary line last.

use std::fmt::Write;

use super::{grades, headline, severities};
use crate::policy::{CheckReport, Finding};
use crate::report::escape::text;
use crate::spec::Severity;

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Renders the report; `color` adds ANSI colours.
pub fn render(report: &CheckReport, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color && !code.is_empty() {
            format!("{code}{s}{RESET}")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    for site in &report.sites {
        let code = if site.error.is_some() { RED } else { "" };
        let _ = writeln!(out, "{}", paint(code, &text(&headline(site))));
        for f in &site.findings {
            let _ = writeln!(out, "  {}", paint(colour(f), &text(&line(f))));
            let _ = writeln!(out, "  {:9} fix: {}", "", text(&f.advice));
        }
        for e in &site.exceptions {
            let state = if e.expired {
                "expired"
            } else {
                "in force until"
            };
            let line = format!(
                "exception for `{}` {state} {}: {}",
                e.rule, e.expires, e.reason
            );
            let _ = writeln!(out, "  {}", paint(DIM, &text(&line)));
        }
    }
    let _ = writeln!(
        out,
        "{} site(s): {}; open findings: {}",
        report.summary.sites,
        grades(report),
        severities(report)
    );
    out
}

/// `high      hsts-one-year (also strict-transport-security): message`, with `(excepted)`
/// after the rule when an exception covers it.
fn line(f: &Finding) -> String {
    let excepted = if f.excepted { " (excepted)" } else { "" };
    let also = f
        .also
        .as_deref()
        .map_or_else(String::new, |t| format!(" (also {t})"));
    format!(
        "{:9} {}{also}{excepted}: {}",
        f.severity.as_str(),
        f.rule,
        f.message
    )
}

fn colour(f: &Finding) -> &'static str {
    match (f.excepted, f.severity) {
        (true, _) | (false, Severity::Low) => DIM,
        (false, Severity::Medium) => YELLOW,
        (false, _) => RED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_follow_their_site_with_advice() {
        let text = render(&super::super::tests::sample(), false);
        let expected = "\
shop.example.nl  grade B (78)  tls A  3 findings (1 excepted)
  high      hsts: hsts | failed
            fix: fix hsts
  medium    csp (excepted): csp | failed
            fix: fix csp
  low       referrer-policy: referrer-policy | failed
            fix: fix referrer-policy
down.example.nl  error: connection refused
2 site(s): B 1, unknown 1; open findings: 1 high, 1 low
";
        assert_eq!(text, expected);
        assert!(render(&super::super::tests::sample(), true).contains(RED));
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let mut r = super::super::tests::sample();
        r.sites[0].findings[0].message = "sent `\x1b]0;pwned\x07`\nforged line".into();
        r.sites[1].error = Some("refused\x1b[2J".into());
        let text = render(&r, false);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(
            text.contains("hsts: sent `\\x1b]0;pwned\\x07`\\nforged line"),
            "{text}"
        );
        assert!(text.contains("error: refused\\x1b[2J"), "{text}");
    }
}
