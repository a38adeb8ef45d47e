//! The desired state as it was at a git revision, read from Git objects (not the working
//! tree): what `plan --changed-since REV` compares with to show changes to how a site is
//! managed. Files with problems at that revision are left out (their sites count as new).

use crate::git::{GitError, Repo};
use crate::spec::DesiredState;

use super::{Source, load_sources};

/// Largest file read from a revision, as for files on disk.
const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Loads `sites/`, `policies/` and `siteward.yaml` as they were at `rev`.
pub fn load_at(repo: &Repo, rev: &str) -> Result<DesiredState, GitError> {
    let commit = repo.resolve(rev)?;
    let mut sources = Vec::new();
    for dir in ["sites", "policies"] {
        for (path, blob) in repo.files_under(commit, dir)? {
            if !path.ends_with(".yaml") {
                continue;
            }
            let bytes = repo.read_blob(blob)?;
            if let Some(text) = text(bytes) {
                sources.push(Source { path, text });
            }
        }
    }
    if let Some(text) = repo
        .read_file_at(commit, super::SETTINGS_FILE)?
        .and_then(text)
    {
        sources.push(Source {
            path: super::SETTINGS_FILE.to_owned(),
            text,
        });
    }
    Ok(load_sources(&sources).0)
}

fn text(bytes: Vec<u8>) -> Option<String> {
    (bytes.len() <= MAX_FILE_BYTES)
        .then(|| String::from_utf8(bytes).ok())
        .flatten()
}
