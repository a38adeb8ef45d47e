//! Reading proposals back for `siteward proposals`: every branch under the proposals prefix,
//! with its drift proposal (`PROPOSAL.md`) and its update proposal (`UPDATES.md`), open or
//! resolved.

use serde::Serialize;

use super::updates::{UPDATES_FILE, UPDATES_JSON, UpdateFile};
use super::{PROPOSAL_FILE, ProposalError, is_open};
use crate::git::Repo;
use crate::spec::BranchName;

/// One proposal on one branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub site: String,
    pub branch: String,
    /// `changes` (a drift change request) or `updates` (version bumps).
    pub kind: &'static str,
    /// `open` or `resolved`.
    pub status: &'static str,
    /// The first line of the Markdown, without `# `.
    pub title: String,
    /// The tip commit (full hex) and its time, RFC 3339 UTC.
    pub commit: String,
    pub updated: String,
    /// The version bumps, for `updates`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bumps: Vec<crate::updates::Bump>,
    /// The whole Markdown (a pull-request description).
    #[serde(skip)]
    pub markdown: String,
}

/// Every proposal under `prefix`, by branch, drift proposal before update proposal.
pub fn list(repo: &Repo, prefix: &BranchName) -> Result<Vec<Listed>, ProposalError> {
    let mut out = Vec::new();
    for (branch, tip) in repo.branches_under(prefix.as_str())? {
        let site = branch
            .strip_prefix(prefix.as_str())
            .map_or(branch.as_str(), |s| s.trim_start_matches('/'))
            .to_owned();
        let info = repo.commit_info(tip)?;
        for (kind, file) in [("changes", PROPOSAL_FILE), ("updates", UPDATES_FILE)] {
            let Some(bytes) = repo.read_file_at(tip, file)? else {
                continue;
            };
            let markdown = String::from_utf8_lossy(&bytes).into_owned();
            let bumps = if kind == "updates" {
                repo.read_file_at(tip, UPDATES_JSON)?
                    .and_then(|b| serde_json::from_slice::<UpdateFile>(&b).ok())
                    .map(|u| u.bumps)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            out.push(Listed {
                site: site.clone(),
                branch: branch.clone(),
                kind,
                status: if is_open(&markdown) {
                    "open"
                } else {
                    "resolved"
                },
                title: markdown
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches('#')
                    .trim()
                    .to_owned(),
                commit: tip.to_string(),
                updated: info
                    .committed
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                bumps,
                markdown,
            });
        }
    }
    Ok(out)
}
