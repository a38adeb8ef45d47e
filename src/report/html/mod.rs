//! `siteward report --out DIR`: the static HTML fleet report. [`Fleet`] is everything the
//! report shows, gathered by the command ([`crate::cmd`]'s `report`); [`write`] renders it as
//! `DIR/index.html` (the overview: summary, charts, the sortable and filterable table) and
//! `DIR/sites/<site>.html` (a site's state, current diff, proposals and history).
//!
//! # Guarantees
//! - Every value from YAML, a server or the audit branch is HTML-escaped
//!   ([`crate::report::escape::html`]) where it is written; no page loads anything from the
//!   network (style, script and charts are inline), so the report works offline.
//! - Site page names come from [`page::site_file`], which cannot leave `sites/`.
//! - Rendering is pure: the same [`Fleet`] gives the same bytes.

pub mod history;
mod overview;
pub mod page;
mod site;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::plan::SitePlan;
use crate::policy::SiteCheck;
use crate::proposal::list::Listed;

pub use history::SiteHistory;

/// The whole report's content.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    /// When the observation was made (RFC 3339, UTC).
    pub generated: String,
    /// The state repo's commit the desired state was read at.
    pub desired_commit: Option<String>,
    /// Sites, in the order of the overview table before any sorting (by name).
    pub sites: Vec<SiteReport>,
}

/// One site: what its file says, what was observed now, and what the audit branch remembers.
#[derive(Debug, Clone)]
pub struct SiteReport {
    pub name: String,
    pub url: String,
    pub owner: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `observe`, `propose` or `auto`.
    pub sync_mode: &'static str,
    /// The observation diffed and staged as `apply` would.
    pub plan: SitePlan,
    /// Grades and findings as `siteward check` reports them.
    pub check: SiteCheck,
    /// Days left on the served certificate (`None`: none observed).
    pub days_left: Option<i64>,
    /// `certificate.min_days_left`, or its default.
    pub min_days_left: u32,
    /// The unified diff from live to desired (`None`: none, or not observed).
    pub diff: Option<String>,
    pub history: SiteHistory,
    /// The site's proposals, open and resolved.
    pub proposals: Vec<Listed>,
}

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report file `{path}`: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The list of the site pages the last report wrote, in `DIR`: what the next one may remove.
const PAGES_LIST: &str = ".siteward-report-pages";

/// Writes the report into `dir` (created if absent): `index.html` and `sites/<site>.html`.
/// Pages the previous report in `dir` wrote for sites no longer in the fleet are removed; no
/// other file is touched.
pub fn write(dir: &Path, fleet: &Fleet) -> Result<(), WriteError> {
    let sites_dir = dir.join("sites");
    std::fs::create_dir_all(&sites_dir).map_err(|source| WriteError {
        path: sites_dir.clone(),
        source,
    })?;
    let mut pages = BTreeSet::new();
    for s in &fleet.sites {
        let file = page::site_file(&s.name);
        save(&sites_dir.join(&file), &site::render(fleet, s))?;
        pages.insert(file);
    }
    remove_stale_pages(dir, &sites_dir, &pages)?;
    save(&dir.join("index.html"), &overview::render(fleet))?;
    let list: String = pages.iter().map(|p| format!("{p}\n")).collect();
    save(&dir.join(PAGES_LIST), &list)
}

/// Removes the pages the previous report listed in [`PAGES_LIST`] that are not in `pages`:
/// only names a site page can have, only regular files (never a link), only in `sites/`.
fn remove_stale_pages(
    dir: &Path,
    sites_dir: &Path,
    pages: &BTreeSet<String>,
) -> Result<(), WriteError> {
    let listed = std::fs::read_to_string(dir.join(PAGES_LIST)).unwrap_or_default();
    for name in listed.lines() {
        if pages.contains(name) || !page::is_site_file(name) {
            continue;
        }
        let path = sites_dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&path).map_err(|source| WriteError { path, source })?;
        }
    }
    Ok(())
}

fn save(path: &Path, text: &str) -> Result<(), WriteError> {
    std::fs::write(path, text).map_err(|source| WriteError {
        path: path.to_owned(),
        source,
    })
}
