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

use std::collections::BTreeMap;
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

/// Writes the report into `dir` (created if absent): `index.html` and `sites/<site>.html`.
/// Pages of sites no longer in the fleet are left as they are.
pub fn write(dir: &Path, fleet: &Fleet) -> Result<(), WriteError> {
    let sites_dir = dir.join("sites");
    std::fs::create_dir_all(&sites_dir).map_err(|source| WriteError {
        path: sites_dir.clone(),
        source,
    })?;
    for s in &fleet.sites {
        save(
            &sites_dir.join(page::site_file(&s.name)),
            &site::render(fleet, s),
        )?;
    }
    save(&dir.join("index.html"), &overview::render(fleet))
}

fn save(path: &Path, text: &str) -> Result<(), WriteError> {
    std::fs::write(path, text).map_err(|source| WriteError {
        path: path.to_owned(),
        source,
    })
}
