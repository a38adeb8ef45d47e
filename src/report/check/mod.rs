//! Renderers of a check report: text for people, JSON (SPEC's check shape, `"version": 1`)
//! and Markdown for pull-request comments. Each takes the finished [`CheckReport`].

pub mod markdown;
pub mod text;

use crate::policy::{CheckReport, SiteCheck};

/// The report as pretty JSON with a trailing newline.
pub fn json(report: &CheckReport) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}

/// The headline of one site: `shop.example.nl  grade B (78)  tls A  3 findings (1 excepted)`.
pub fn headline(site: &SiteCheck) -> String {
    if let Some(e) = &site.error {
        return format!("{}  error: {e}", site.site);
    }
    let grade = site.grade.map_or("-", |g| g.as_str());
    let score = site.score.map_or_else(|| "-".to_owned(), |s| s.to_string());
    let tls = site.tls_grade.map_or("-", |g| g.as_str());
    format!(
        "{}  grade {grade} ({score})  tls {tls}  {}",
        site.site,
        count(site)
    )
}

/// `3 findings (1 excepted)`, `1 finding`, `no findings`.
pub fn count(site: &SiteCheck) -> String {
    let n = site.findings.len();
    let excepted = site.findings.iter().filter(|f| f.excepted).count();
    let noun = match n {
        0 => return "no findings".to_owned(),
        1 => "finding",
        _ => "findings",
    };
    if excepted > 0 {
        format!("{n} {noun} ({excepted} excepted)")
    } else {
        format!("{n} {noun}")
    }
}

/// `2 critical, 1 low` over the non-zero severities, or `none`.
pub fn severities(report: &CheckReport) -> String {
    let parts: Vec<String> = crate::spec::Severity::ALL
        .iter()
        .rev()
        .filter_map(|s| {
            let n = report.summary.findings_by_severity.get(s).copied()?;
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `A+ 1, B 2, unknown 1` over the non-zero grades; `none` for a report without sites.
pub fn grades(report: &CheckReport) -> String {
    if report.sites.is_empty() {
        return "none".to_owned();
    }
    let order = crate::policy::Grade::ALL
        .iter()
        .map(|g| g.as_str())
        .chain(["unknown"]);
    order
        .filter_map(|g| {
            let n = report.summary.by_grade.get(g).copied()?;
            (n > 0).then(|| format!("{g} {n}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Finding, Grade};
    use crate::spec::Severity;

    pub(super) fn sample() -> CheckReport {
        let finding = |rule: &str, severity, excepted| Finding {
            rule: rule.into(),
            severity,
            message: format!("{rule} | failed"),
            advice: format!("fix {rule}"),
            excepted,
            also: None,
        };
        CheckReport::new(vec![
            SiteCheck {
                site: "shop.example.nl".into(),
                grade: Some(Grade::B),
                score: Some(78),
                tls_grade: Some(Grade::A),
                tests: std::collections::BTreeMap::new(),
                findings: vec![
                    finding("hsts", Severity::High, false),
                    finding("csp", Severity::Medium, true),
                    finding("referrer-policy", Severity::Low, false),
                ],
                exceptions: Vec::new(),
                error: None,
            },
            SiteCheck {
                site: "down.example.nl".into(),
                grade: None,
                score: None,
                tls_grade: None,
                tests: std::collections::BTreeMap::new(),
                findings: Vec::new(),
                exceptions: Vec::new(),
                error: Some("connection refused".into()),
            },
        ])
    }

    #[test]
    fn headline_reads_as_one_line() {
        let r = sample();
        assert_eq!(
            headline(&r.sites[0]),
            "shop.example.nl  grade B (78)  tls A  3 findings (1 excepted)"
        );
        assert_eq!(
            headline(&r.sites[1]),
            "down.example.nl  error: connection refused"
        );
        assert_eq!(severities(&r), "1 high, 1 low");
        assert_eq!(grades(&r), "B 1, unknown 1");
    }
}
