//! Step 3 of loading: every site file read, parsed, merged over its policies' defaults and
//! read as a typed [`Site`], in parallel.
//!
//! Files are handed out one at a time to a worker per core (up to 8), so that a slow file or a
//! busy core does not hold back a whole share; the results are put back in file order, which
//! keeps "first defined in" messages and the state independent of scheduling. A file's text and
//! located tree live only while that file is loaded: memory stays proportional to the typed
//! state.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::disk::Disk;
use super::{Source, check_stem, merge, parse_source, read_source, site};
use crate::problem::Problem;
use crate::spec::{PolicyName, Site};
use crate::yaml::node::{Loc, Node};
use crate::yaml::{Reader, read::suggest};

/// A site file waiting to be loaded: already read, or to be read from the repo on disk.
pub(super) enum SiteFile<'a> {
    Read(Source),
    OnDisk { root: &'a Path, rel: String },
}

impl SiteFile<'_> {
    pub(super) fn path(&self) -> &str {
        match self {
            SiteFile::Read(s) => &s.path,
            SiteFile::OnDisk { rel, .. } => rel,
        }
    }

    fn read(self) -> Result<Source, Problem> {
        match self {
            SiteFile::Read(s) => Ok(s),
            SiteFile::OnDisk { root, rel } => read_source(root, rel),
        }
    }
}

/// What one worker loaded: sites with their index in file order (increasing), and problems.
#[derive(Default)]
struct Share {
    sites: Vec<(usize, LoadedSite)>,
    problems: Vec<Problem>,
}

/// Loads every site file: the loaded sites in file order, and every problem found.
pub(super) fn load_all(
    files: Vec<SiteFile<'_>>,
    defaults: &BTreeMap<PolicyName, Option<&Node>>,
    policy_names: &[&str],
    disk: Option<&Disk>,
) -> (Vec<LoadedSite>, Vec<Problem>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(files.len().max(1));
    let count = files.len();
    let queue = Mutex::new(files.into_iter().enumerate());
    let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
    let work = || {
        let mut r = Reader::default();
        let mut share = Share::default();
        while let Some((index, file)) = next() {
            match file.read() {
                Ok(source) => share.sites.extend(
                    load_site(&mut r, source, defaults, policy_names, disk).map(|s| (index, s)),
                ),
                Err(problem) => r.problems.push(problem),
            }
        }
        share.problems = r.problems;
        share
    };
    let shares: Vec<Share> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut problems = Vec::new();
    let mut parts = Vec::with_capacity(shares.len());
    for share in shares {
        problems.extend(share.problems);
        parts.push(share.sites.into_iter().peekable());
    }
    // Each worker took files in increasing order: merging the shares restores file order.
    let mut sites = Vec::with_capacity(count);
    while let Some(next) = parts
        .iter_mut()
        .filter_map(|part| Some((part.peek()?.0, part)))
        .min_by_key(|(index, _)| *index)
        .and_then(|(_, part)| part.next())
    {
        sites.push(next.1);
    }
    (sites, problems)
}

/// A site read from its source, with the location of its `name` (whose path is the file's).
pub(super) type LoadedSite = (Loc, Site);

/// Parses one site file, merges its policies' defaults under it and reads it as a typed site.
/// The file's text is dropped once parsed. Returns the site with the location of its `name`
/// (for cross-file problems).
fn load_site(
    r: &mut Reader,
    s: Source,
    defaults: &BTreeMap<PolicyName, Option<&Node>>,
    policy_names: &[&str],
    disk: Option<&Disk>,
) -> Option<LoadedSite> {
    let node = parse_source(r, &s)?;
    let Source { path, text } = s;
    drop(text);
    let own_name = node.get("name").map(|n| n.loc.clone());
    // The first policy's defaults are borrowed, not copied: most sites list one.
    let mut merged: Option<Cow<'_, Node>> = None;
    if let Some(crate::yaml::Kind::Seq(list)) = node.get("policies").map(|n| &n.kind) {
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
                        Some(m) => Cow::Owned(merge::overlay(&m, (*d).clone())),
                        None => Cow::Borrowed(*d),
                    });
                }
                Some(None) => {}
                None => {
                    let hint = suggest(text, policy_names)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    r.report(&item.loc, format!("unknown policy `{text}`{hint}"));
                }
            }
        }
    }
    let merged = match merged {
        Some(base) => merge::overlay(&base, node),
        None => node,
    };
    if let Some(disk) = disk {
        disk.check_site_files(r, &merged);
    }
    let site = site::read_site(r, &merged, site::SiteShape::Whole)?;
    check_stem(r, &path, own_name.as_ref(), site.name.as_str());
    let name_loc = own_name.unwrap_or_else(|| Loc::file(&Arc::from(path.as_str())));
    Some((name_loc, site))
}
