//! Load: the state repository → a validated [`DesiredState`], or every problem in every file.
//!
//! Steps: read `siteward.yaml`, `policies/*.yaml` and `sites/**/*.yaml` (each at most 1 MiB);
//! parse each into a located tree; read policies; merge each site's policies' defaults under it
//! (in the listed order) and read the merged tree as a typed site; check names across files.
//! Secret references are kept as references: nothing is resolved here. With the repo on disk,
//! [`disk`] also checks the local files sites name and the branches siteward commits to.

mod disk;
pub mod file;
pub mod keys;
mod merge;
mod notify;
mod policy;
#[cfg(test)]
mod properties;
pub mod revision;
mod settings;
pub mod site;
mod site_files;
mod windows;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use self::disk::Disk;
use self::file::Links;
use self::site_files::SiteFile;
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
    #[error("cannot read state repo `{path}`")]
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
    let (files, mut problems) = list_files(root)?;
    let (site_files, other_files): (Vec<String>, Vec<String>) =
        files.into_iter().partition(|f| f.starts_with("sites/"));
    let mut sources = Vec::with_capacity(other_files.len());
    for rel in other_files {
        match read_source(root, rel) {
            Ok(source) => sources.push(source),
            Err(problem) => problems.push(problem),
        }
    }
    // Site files are read by the workers that parse them.
    let sites = site_files
        .into_iter()
        .map(|rel| SiteFile::OnDisk { root, rel })
        .collect();
    let (state, more) = load(sources, sites, Some(&Disk::new(root)));
    problems.extend(more);
    sort_and_dedup(&mut problems);
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Lists every state file under `root` (repo-relative); what cannot be listed becomes a problem.
fn list_files(root: &Path) -> Result<(Vec<String>, Vec<Problem>), LoadError> {
    if !root.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory");
        return Err(LoadError::Io {
            path: root.display().to_string(),
            source,
        });
    }
    let mut problems = Vec::new();
    let mut files = Vec::new();
    if has_settings(root) {
        files.push(SETTINGS_FILE.to_owned());
    }
    for dir in ["policies", "sites"] {
        if let Err(problem) = check_top_dir(root, dir) {
            problems.push(problem);
            continue;
        }
        collect_yaml(root, dir, dir == "sites", &mut files, &mut problems);
    }
    Ok((files, problems))
}

/// The repo-wide settings file.
const SETTINGS_FILE: &str = "siteward.yaml";

/// Whether the repo has a `siteward.yaml`, whatever it is (a link, a FIFO): it is then read by
/// [`read_source`], which says what is wrong with it.
fn has_settings(root: &Path) -> bool {
    std::fs::symlink_metadata(root.join(SETTINGS_FILE)).is_ok()
}

/// `siteward.yaml` alone, read by the loader's rules; `None` when the repo has none. For
/// commands that need only the settings (`log` reads the audit branch from it).
pub fn settings_source(root: &Path) -> Result<Option<Source>, Problem> {
    if !has_settings(root) {
        return Ok(None);
    }
    read_source(root, SETTINGS_FILE.to_owned()).map(Some)
}

/// Reads one state file (`rel`, relative to `root`): a regular file, not a link, at most 1 MiB
/// of UTF-8. A file that cannot be read is a problem at 1:1.
pub(super) fn read_source(root: &Path, rel: String) -> Result<Source, Problem> {
    match file::read_text(&root.join(&rel), MAX_FILE_BYTES, Links::Refuse) {
        Ok(text) => Ok(Source { path: rel, text }),
        Err(e) => Err(Problem {
            path: rel,
            line: 1,
            column: 1,
            message: crate::error_text::chain(&e),
        }),
    }
}

/// `sites/` or `policies/` may be a symbolic link only to a directory inside the repo.
fn check_top_dir(root: &Path, dir: &str) -> Result<(), Problem> {
    let path = root.join(dir);
    let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    let inside = match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(target)) => target.starts_with(&root) && target != root,
        _ => false,
    };
    if inside {
        return Ok(());
    }
    Err(Problem {
        path: dir.to_owned(),
        line: 1,
        column: 1,
        message: format!(
            "`{dir}` is a symbolic link that does not lead to a directory inside the state repo; \
             keep the directory itself in the repo"
        ),
    })
}

/// Lists `*.yaml` files under `root/dir` (recursively for sites), as repo-relative paths.
/// Anything named `*.yaml` that is not a directory is listed, so that reading it reports a link,
/// a FIFO or a device instead of skipping it in silence.
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
    // Each entry's name is read once: `DirEntry::file_name` allocates.
    let mut entries: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name(), e))
        .collect();
    entries.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
    for (name, e) in entries {
        let name = name.to_string_lossy().into_owned();
        let rel = format!("{dir}/{name}");
        let Ok(kind) = e.file_type() else { continue };
        let at_file = |message: &str| Problem {
            path: rel.clone(),
            line: 1,
            column: 1,
            message: message.to_owned(),
        };
        let linked_dir = kind.is_symlink() && root.join(&rel).is_dir();
        if name.ends_with(".yaml") && !kind.is_dir() {
            out.push(rel);
        } else if kind.is_dir() || linked_dir {
            if !recursive || name.starts_with('.') {
                continue;
            }
            if linked_dir {
                problems.push(at_file(
                    "symbolic links are not followed; keep the directory itself in the state repo",
                ));
            } else {
                collect_yaml(root, &rel, true, out, problems);
            }
        } else if name.ends_with(".yml") {
            problems.push(at_file(
                "use the `.yaml` extension; `.yml` files are not read",
            ));
        }
    }
}

/// Validates already-read sources (from a git revision, or tests). Returns the state built from
/// the valid parts and every problem found. The checks that need the repo on disk
/// ([`disk`]) are left to [`load_repo`].
pub fn load_sources(sources: &[Source]) -> (DesiredState, Vec<Problem>) {
    let (sites, others): (Vec<Source>, Vec<Source>) = sources
        .iter()
        .cloned()
        .partition(|s| s.path.starts_with("sites/"));
    load(
        others,
        sites.into_iter().map(SiteFile::Read).collect(),
        None,
    )
}

/// Loads the settings and policy `sources`, then the `sites`.
fn load(
    sources: Vec<Source>,
    sites: Vec<SiteFile>,
    disk: Option<&Disk>,
) -> (DesiredState, Vec<Problem>) {
    let mut r = Reader::default();
    let mut state = DesiredState::default();
    // Site files are read and parsed one at a time in step 3, and their text and located tree
    // dropped after use: memory stays proportional to the typed state, not to every file's
    // text and tree.
    let site_stems: BTreeSet<String> = sites
        .iter()
        .filter_map(|s| s.path().rsplit('/').next()?.strip_suffix(".yaml"))
        .map(str::to_owned)
        .collect();
    let mut trees: Vec<(&Source, Node)> = Vec::new();
    for s in &sources {
        if let Some(node) = parse_source(&mut r, s) {
            trees.push((s, node));
        }
    }

    // 1. Settings.
    if let Some((_, node)) = trees.iter().find(|(s, _)| s.path == SETTINGS_FILE) {
        state.settings = settings::read_settings(&mut r, node);
        if let Some(disk) = disk {
            disk.check_branches(&mut r, node);
        }
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
        check_stem(
            &mut r,
            &s.path,
            node.get("name").map(|n| &n.loc),
            p.name.as_str(),
        );
        defaults.insert(
            p.name.clone(),
            node.get("defaults").filter(|d| !d.is_null()),
        );
        state.policies.insert(p.name.clone(), p);
    }
    let policy_names: Vec<&str> = defaults.keys().map(PolicyName::as_str).collect();

    // 3. Sites: merge listed policies' defaults in order, then read the merged tree. Files are
    //    independent, so they are read in parallel; names are checked across files afterwards.
    let (sites, problems) = site_files::load_all(sites, &defaults, &policy_names, disk);
    r.problems.extend(problems);
    let mut seen: HashMap<SiteName, Arc<str>> = HashMap::with_capacity(sites.len());
    let mut loaded = Vec::with_capacity(sites.len());
    for (name_loc, site) in sites {
        match seen.entry(site.name.clone()) {
            Entry::Occupied(first) => {
                let msg = format!(
                    "duplicate site name `{}` (also defined in {})",
                    site.name,
                    first.get()
                );
                r.report(&name_loc, msg);
            }
            Entry::Vacant(slot) => {
                slot.insert(name_loc.path.clone());
                loaded.push((site.name.clone(), site));
            }
        }
    }
    // Built at once, the map's nodes are full; inserted one by one, about half of every node
    // (room for 11 sites of several hundred bytes each) stays empty.
    state.sites = loaded.into_iter().collect();

    // 3b. The repo-wide package source (`packages`) for sites whose `software` names none.
    if let Some(packages) = &state.settings.packages {
        for sw in state.sites.values_mut().filter_map(|s| s.software.as_mut()) {
            sw.packages.get_or_insert_with(|| packages.clone());
        }
    }

    // 4. Exceptions must name a known site and a known rule.
    check_exceptions(&mut r, &trees, &site_stems, &state);
    (state, r.problems)
}

pub(super) fn parse_source(r: &mut Reader, source: &Source) -> Option<Node> {
    let path: Arc<str> = Arc::from(source.path.as_str());
    match parse(&path, &source.text) {
        Ok(node) => Some(node),
        Err(problems) => {
            r.problems.extend(problems);
            None
        }
    }
}

/// The file stem of `path` must equal the `name` inside the file (at `name_loc`).
pub(super) fn check_stem(r: &mut Reader, path: &str, name_loc: Option<&Loc>, name: &str) {
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".yaml");
    if stem != name
        && let Some(loc) = name_loc
    {
        r.report(
            loc,
            format!("name `{name}` differs from the file name `{stem}.yaml`; they must be equal"),
        );
    }
}

fn check_exceptions(
    r: &mut Reader,
    trees: &[(&Source, Node)],
    site_stems: &BTreeSet<String>,
    state: &DesiredState,
) {
    let mut rule_ids: Vec<&str> = keys::BUILTIN_TESTS.to_vec();
    rule_ids.extend(
        state
            .policies
            .values()
            .flat_map(|p| p.rules.iter().map(|x| x.id.as_str())),
    );
    for (_, node) in trees
        .iter()
        .filter(|(s, _)| s.path.starts_with("policies/"))
    {
        let Some(crate::yaml::Kind::Seq(items)) = node.get("exceptions").map(|n| &n.kind) else {
            continue;
        };
        for item in items {
            if let Some(site) = item.get("site")
                && let crate::yaml::Kind::Scalar { text, .. } = &site.kind
                && !site_stems.contains(text.as_str())
            {
                r.report(&site.loc, format!("exception names unknown site `{text}`"));
            }
            if let Some(rule) = item.get("rule")
                && let crate::yaml::Kind::Scalar { text, .. } = &rule.kind
                && !rule_ids.contains(&text.as_str())
            {
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
