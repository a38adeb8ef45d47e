//! Reading OSV JSON: one record, or an array of records, per file. Real OSV records parse
//! unchanged (unknown fields are ignored); records of other ecosystems are skipped and withdrawn
//! records are dropped. Every problem names the file, line and column.

use serde::Deserialize;

use super::range::{Event, Range};
use super::{Advisory, Affected, Kind};
use crate::problem::Problem;
use crate::spec::{Severity, Version};

#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Many(Vec<Record>),
    One(Box<Record>),
}

#[derive(Deserialize)]
struct Record {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    affected: Vec<RawAffected>,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(default)]
    database_specific: Option<Specific>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize, Default)]
struct Specific {
    #[serde(default)]
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    url: String,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<Package>,
    #[serde(default)]
    ranges: Vec<RawRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    ecosystem_specific: Option<Specific>,
    #[serde(default)]
    database_specific: Option<Specific>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<std::collections::BTreeMap<String, String>>,
}

/// Parses one OSV file's text. `path` is how the file is shown in problems.
pub fn parse(path: &str, text: &str) -> Result<Vec<Advisory>, Vec<Problem>> {
    let at = |line: usize, column: usize, message: String| Problem {
        path: path.to_owned(),
        line: line.max(1),
        column: column.max(1),
        message,
    };
    let doc: Document = serde_json::from_str(text).map_err(|e| {
        vec![at(
            e.line(),
            e.column(),
            format!("not an OSV record or a list of them: {e}"),
        )]
    })?;
    let records = match doc {
        Document::Many(r) => r,
        Document::One(r) => vec![*r],
    };
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for r in records.into_iter().filter(|r| r.withdrawn.is_none()) {
        let mut affected = Vec::new();
        for a in &r.affected {
            let Some(kind) = a
                .package
                .as_ref()
                .and_then(|p| Kind::from_ecosystem(&p.ecosystem))
            else {
                continue;
            };
            let slug = a
                .package
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default();
            let version =
                |problems: &mut Vec<Problem>, s: &str, what: &str| match s.parse::<Version>() {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let (line, column) = locate(text, s);
                        problems.push(at(line, column, format!("{}: {what}: {e}", r.id)));
                        None
                    }
                };
            let mut ranges = Vec::new();
            for raw in a.ranges.iter().filter(|g| g.kind != "GIT") {
                let mut events = Vec::new();
                for e in &raw.events {
                    for (k, val) in e {
                        let ev = match k.as_str() {
                            "introduced" if val == "0" => Some(Event::Introduced(None)),
                            "introduced" => {
                                version(&mut problems, val, k).map(|v| Event::Introduced(Some(v)))
                            }
                            "fixed" => version(&mut problems, val, k).map(Event::Fixed),
                            "last_affected" => {
                                version(&mut problems, val, k).map(Event::LastAffected)
                            }
                            "limit" if val == "*" => None,
                            "limit" => version(&mut problems, val, k).map(Event::Limit),
                            other => {
                                let (line, column) = locate(text, other);
                                problems.push(at(line, column, format!(
                                    "{}: unknown range event `{other}` (introduced, fixed, last_affected or limit)",
                                    r.id
                                )));
                                None
                            }
                        };
                        events.extend(ev);
                    }
                }
                ranges.push(Range::new(events));
            }
            let versions = a
                .versions
                .iter()
                .filter_map(|s| version(&mut problems, s, "versions"))
                .collect();
            let severity = severity_of(&a.severity, a.ecosystem_specific.as_ref())
                .or_else(|| severity_of(&[], a.database_specific.as_ref()));
            affected.push(Affected {
                kind,
                slug,
                ranges,
                versions,
                severity,
            });
        }
        if affected.is_empty() {
            continue;
        }
        let (severity, score) = severity_and_score(&r.severity, r.database_specific.as_ref());
        out.push(Advisory {
            id: r.id,
            aliases: r.aliases,
            summary: r.summary,
            published: r.published,
            severity,
            score,
            references: r.references.into_iter().map(|x| x.url).collect(),
            affected,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Line and column (1-based) of the first `"needle"` in `text`, for problems serde cannot place.
fn locate(text: &str, needle: &str) -> (usize, usize) {
    let quoted = format!("\"{needle}\"");
    let Some(at) = text.find(&quoted) else {
        return (1, 1);
    };
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The record's severity: from a CVSS v3 vector or numeric score, else the database's word
/// (`LOW`, `MODERATE`, `HIGH`, `CRITICAL`); `None` when the record says nothing.
fn severity_and_score(
    list: &[RawSeverity],
    specific: Option<&Specific>,
) -> (Option<Severity>, Option<f32>) {
    let score = list.iter().find_map(score_of);
    match score {
        Some(x) => (Some(from_score(x)), Some(x)),
        None => (severity_of(&[], specific), None),
    }
}

fn severity_of(list: &[RawSeverity], specific: Option<&Specific>) -> Option<Severity> {
    if let Some(x) = list.iter().find_map(score_of) {
        return Some(from_score(x));
    }
    match specific?.severity.as_deref()?.to_ascii_lowercase().as_str() {
        "low" => Some(Severity::Low),
        "moderate" | "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

fn score_of(s: &RawSeverity) -> Option<f32> {
    if let Ok(x) = s.score.trim().parse::<f32>() {
        return (0.0..=10.0).contains(&x).then_some(x);
    }
    (s.kind == "CVSS_V3").then(|| cvss3(&s.score)).flatten()
}

/// CVSS v3 qualitative rating of a base score.
fn from_score(x: f32) -> Severity {
    match x {
        x if x >= 9.0 => Severity::Critical,
        x if x >= 7.0 => Severity::High,
        x if x >= 4.0 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The base score of a CVSS v3.0/v3.1 vector (`CVSS:3.1/AV:N/AC:L/...`), per the spec's formula.
pub fn cvss3(vector: &str) -> Option<f32> {
    let mut m = std::collections::BTreeMap::new();
    for part in vector.split('/').skip(1) {
        let (k, v) = part.split_once(':')?;
        m.insert(k, v);
    }
    let changed = match *m.get("S")? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| match *m.get(k)? {
        "H" => Some(0.56),
        "L" => Some(0.22),
        "N" => Some(0.0),
        _ => None,
    };
    let iss: f64 = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploit = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let base = if changed {
        (1.08 * (impact + exploit)).min(10.0)
    } else {
        (impact + exploit).min(10.0)
    };
    // CVSS 3.1 "Roundup": the smallest one-decimal number at or above, robust to float noise.
    let int = (base * 100_000.0).round() as i64;
    let up = if int % 10_000 == 0 {
        int / 10_000
    } else {
        int / 10_000 + 1
    };
    Some(up as f32 / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_vectors_score_like_the_calculator() {
        assert_eq!(
            cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss3("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(6.5)
        );
        assert_eq!(
            cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss3("CVSS:3.1/AV:X"), None);
    }

    #[test]
    fn other_ecosystems_are_skipped_and_bad_versions_are_located() {
        let text = r#"[{"id": "PYSEC-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "x"},
  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.0.0.0"}]}]}]}]"#;
        assert!(parse("f.json", text).unwrap().is_empty());
        let text = "{\"id\": \"X-1\", \"affected\": [{\"package\": {\"ecosystem\": \"wordpress-plugin\", \"name\": \"x\"},\n  \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"one\"}]}]}]}";
        let p = parse("f.json", text).unwrap_err();
        assert_eq!((p[0].line, p[0].column), (2, 78), "{p:?}");
        assert!(p[0].message.contains("X-1: fixed"), "{}", p[0].message);
        let p = parse("f.json", "{\"id\": 3}").unwrap_err();
        assert_eq!(p[0].line, 1);
        assert!(p[0].message.contains("not an OSV record"));
    }
}
