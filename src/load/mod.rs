//! Load: the state repository → a validated [`DesiredState`], or every problem in every file.
//!
//! Steps: read `siteward.yaml`, `policies/*.yaml` and `sites/**/*.yaml` (each at most 1 MiB);
//! parse each into a located tree; read policies; merge each site's policies' defaults under it
//! (in the listed order) and read the merged tree as a typed site; check names across files.
//! Secret references are kept as references: nothing is resolved here.

pub mod keys;
mod merge;
mod policy;
mod settings;
pub mod site;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::problem::{Problem, sort_and_dedup};
use crate::spec::{DesiredState, PolicyName, SiteName};
use crate::yaml::node::{Loc, Node, parse};
use crate::yaml::{Reader, read::suggest};

/// Largest file the loader reads.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One file of the state repository, with its path relative to the repo root.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// Loading failed: either the repo could not be read at all, or files had problems.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read state repo `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in the state repo", .0.len())]
    Invalid(Vec<Problem>),
}

/// Reads and validates the state repository at `root`.
pub fn load_repo(root: &Path) -> Result<DesiredState, LoadError> {
    let (sources, mut problems) = read_sources(root)?;
    let (state, more) = load_sources(&sources);
    problems.extend(more);
    sort_and_dedup(&mut problems);
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Reads every state file under `root`; files that cannot be read become problems.
fn read_sources(root: &Path) -> Result<(Vec<Source>, Vec<Problem>), LoadError> {
    if !root.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
        return Err(LoadError::Io {
            path: root.display().to_string(),
            source,
        });
    }
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    if root.join("siteward.yaml").exists() {
        files.push("siteward.yaml".to_owned());
    }
    for dir in ["policies", "sites"] {
        collect_yaml(root, dir, dir == "sites", &mut files, &mut problems);
    }
    for rel in files {
        let path = root.join(&rel);
        let at_file = |message: String| Problem {
            path: rel.clone(),
            line: 1,
            column: 1,
            message,
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                problems.push(at_file(format!(
                    "file is {} bytes; the limit is 1 MiB",
                    m.len()
                )));
                continue;
            }
            Err(e) => {
                problems.push(at_file(format!("cannot read file: {e}")));
                continue;
            }
            Ok(_) => {}
        }
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => sources.push(Source { path: rel, text }),
                Err(_) => problems.push(at_file("file is not valid UTF-8".into())),
            },
            Err(e) => problems.push(at_file(format!("cannot read file: {e}"))),
        }
    }
    Ok((sources, problems))
}

/// Lists `*.yaml` files under `root/dir` (recursively for sites), as repo-relative paths.
fn collect_yaml(
    root: &Path,
    dir: &str,
    recursive: bool,
    out: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("{dir}/{name}");
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && recursive && !name.starts_with('.') {
            collect_yaml(root, &rel, true, out, problems);
        } else if kind.is_file() && name.ends_with(".yaml") {
            out.push(rel);
        } else if kind.is_file() && name.ends_with(".yml") {
            problems.push(Problem {
                path: rel,
                line: 1,
                column: 1,
                message: "use the `.yaml` extension; `.yml` files are not read".into(),
            });
        }
    }
}

/// Validates already-read sources (from disk or from a git revision). Returns the state built
/// from the valid parts and every problem found.
pub fn load_sources(sources: &[Source]) -> (DesiredState, Vec<Problem>) {
    let mut r = Reader::default();
    let mut state = DesiredState::default();
    let mut trees: Vec<(&Source, Node)> = Vec::new();
    for s in sources {
        let path: Arc<str> = Arc::from(s.path.as_str());
        match parse(&path, &s.text) {
            Ok(node) => trees.push((s, node)),
            Err(p) => r.problems.extend(p),
        }
    }

    // 1. Settings.
    if let Some((_, node)) = trees.iter().find(|(s, _)| s.path == "siteward.yaml") {
        state.settings = settings::read_settings(&mut r, node);
    }

    // 2. Policies, keeping their defaults trees for merging.
    let mut defaults: BTreeMap<PolicyName, Option<&Node>> = BTreeMap::new();
    for (s, node) in trees
        .iter()
        .filter(|(s, _)| s.path.starts_with("policies/"))
    {
        let Some(p) = policy::read_policy(&mut r, node) else {
            continue;
        };
        check_stem(&mut r, s, node, p.name.as_str());
        defaults.insert(
            p.name.clone(),
            node.get("defaults").filter(|d| !d.is_null()),
        );
        state.policies.insert(p.name.clone(), p);
    }
    let policy_names: Vec<&str> = defaults.keys().map(PolicyName::as_str).collect();

    // 3. Sites: merge listed policies' defaults in order, then read the merged tree.
    let mut seen: BTreeMap<SiteName, String> = BTreeMap::new();
    for (s, node) in trees.iter().filter(|(s, _)| s.path.starts_with("sites/")) {
        let mut merged: Option<Node> = None;
        if let Some(list) = node.get("policies").and_then(|n| match &n.kind {
            crate::yaml::Kind::Seq(items) => Some(items),
            _ => None,
        }) {
            for item in list {
                let crate::yaml::Kind::Scalar { text, .. } = &item.kind else {
                    continue;
                };
                match text
                    .parse::<PolicyName>()
                    .ok()
                    .and_then(|n| defaults.get(&n))
                {
                    Some(Some(d)) => {
                        merged = Some(match merged.take() {
                            Some(m) => merge::overlay(&m, d),
                            None => (*d).clone(),
                        });
                    }
                    Some(None) => {}
                    None => {
                        let hint = suggest(text, &policy_names)
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        r.report(&item.loc, format!("unknown policy `{text}`{hint}"));
                    }
                }
            }
        }
        let merged = match merged {
            Some(base) => merge::overlay(&base, node),
            None => node.clone(),
        };
        let Some(site) = site::read_site(&mut r, &merged, site::SiteShape::Whole) else {
            continue;
        };
        check_stem(&mut r, s, node, site.name.as_str());
        if let Some(first) = seen.get(&site.name) {
            let loc = node
                .get("name")
                .map_or_else(|| Loc::file(&Arc::from(s.path.as_str())), |n| n.loc.clone());
            r.report(
                &loc,
                format!(
                    "duplicate site name `{}` (also defined in {first})",
                    site.name
                ),
            );
            continue;
        }
        seen.insert(site.name.clone(), s.path.clone());
        state.sites.insert(site.name.clone(), site);
    }

    // 4. Exceptions must name a known site and a known rule.
    check_exceptions(&mut r, &trees, &state);
    (state, r.problems)
}

/// The file stem must equal the `name` inside the file.
fn check_stem(r: &mut Reader, source: &Source, node: &Node, name: &str) {
    let stem = source
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".yaml");
    if stem != name {
        if let Some(n) = node.get("name") {
            r.report(
                &n.loc,
                format!(
                    "name `{name}` differs from the file name `{stem}.yaml`; they must be equal"
                ),
            );
        }
    }
}

fn check_exceptions(r: &mut Reader, trees: &[(&Source, Node)], state: &DesiredState) {
    let mut rule_ids: Vec<&str> = keys::BUILTIN_TESTS.to_vec();
    rule_ids.extend(
        state
            .policies
            .values()
            .flat_map(|p| p.rules.iter().map(|x| x.id.as_str())),
    );
    let site_stems: Vec<&str> = trees
        .iter()
        .filter(|(s, _)| s.path.starts_with("sites/"))
        .filter_map(|(s, _)| s.path.rsplit('/').next()?.strip_suffix(".yaml"))
        .collect();
    for (_, node) in trees
        .iter()
        .filter(|(s, _)| s.path.starts_with("policies/"))
    {
        let Some(crate::yaml::Kind::Seq(items)) = node.get("exceptions").map(|n| &n.kind) else {
            continue;
        };
        for item in items {
            if let Some(site) = item.get("site") {
                if let crate::yaml::Kind::Scalar { text, .. } = &site.kind {
                    if !site_stems.contains(&text.as_str()) {
                        r.report(&site.loc, format!("exception names unknown site `{text}`"));
                    }
                }
            }
            if let Some(rule) = item.get("rule") {
                if let crate::yaml::Kind::Scalar { text, .. } = &rule.kind {
                    if !rule_ids.contains(&text.as_str()) {
                        let hint = suggest(text, &rule_ids)
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        r.report(
                            &rule.loc,
                            format!("exception names unknown rule `{text}`{hint}"),
                        );
                    }
                }
            }
        }
    }
}
