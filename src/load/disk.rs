//! Checks that need the state repo on disk, run by [`super::load_repo`] only: sources read from a
//! git revision, and the unit tests' sources, have no working tree to look at.
//!
//! - Local files a site names inside the repo (`ca`, `directory_ca`, and the SSH transport's
//!   `identity` and `known_hosts`, when written as repo-relative paths) exist and are regular
//!   files. Absolute paths name files of the machine that runs siteward (a CI runner's key
//!   store), which need not exist where `validate` runs; they are checked when used.
//! - The branches siteward commits to (`audit.branch`, `proposals.branch_prefix`) are not the
//!   branch checked out in the state repo, nor a branch of one of its remotes.

use std::path::{Component, Path, PathBuf};

use super::file::{self, Links, MAX_PEM_BYTES};
use crate::yaml::{Kind, Node, Reader};

/// Site keys (as paths into the merged site tree) that name local files siteward or ssh reads,
/// and the size limit of each.
const LOCAL_FILES: &[(&[&str], u64)] = &[
    (&["ca"], MAX_PEM_BYTES),
    (&["manage", "certificate", "directory_ca"], MAX_PEM_BYTES),
    (&["manage", "server", "identity"], u64::MAX),
    (&["manage", "server", "known_hosts"], u64::MAX),
    (&["manage", "certificate", "identity"], u64::MAX),
    (&["manage", "certificate", "known_hosts"], u64::MAX),
    (&["manage", "software", "identity"], u64::MAX),
    (&["manage", "software", "known_hosts"], u64::MAX),
];

/// The state repo on disk.
#[derive(Debug)]
pub struct Disk {
    root: PathBuf,
    /// The branch `HEAD` points to, when the repo is a git work tree on a branch.
    checked_out: Option<String>,
}

impl Disk {
    /// Looks at the state repo at `root`.
    pub fn new(root: &Path) -> Disk {
        Disk {
            root: root.to_path_buf(),
            checked_out: checked_out_branch(root),
        }
    }

    /// Reports each repo-relative local file the merged site tree names that is missing or not
    /// a regular file.
    pub fn check_site_files(&self, r: &mut Reader, site: &Node) {
        for (keys, limit) in LOCAL_FILES {
            let Some(node) = keys.iter().try_fold(site, |n, k| n.get(k)) else {
                continue;
            };
            let Kind::Scalar { text, .. } = &node.kind else {
                continue;
            };
            let path = Path::new(text);
            // Absolute paths are the machine's; a path the reader refused is reported already.
            let refused = text.is_empty()
                || text.contains(['\0', '\n'])
                || path.components().any(|c| c == Component::ParentDir);
            if path.is_absolute() || refused {
                continue;
            }
            let what = keys.join(".");
            match file::check(&self.root.join(path), *limit, Links::Follow) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => r.report(
                    &node.loc,
                    format!("{what}: `{text}` does not exist in the state repo"),
                ),
                Err(e) => r.report(
                    &node.loc,
                    format!("{what}: `{text}`: {}", crate::error_text::chain(&e)),
                ),
            }
        }
    }

    /// Reports `audit.branch` or `proposals.branch_prefix` naming the checked-out branch or a
    /// branch of one of the repo's remotes.
    pub fn check_branches(&self, r: &mut Reader, settings: &Node) {
        for keys in [["audit", "branch"], ["proposals", "branch_prefix"]] {
            let Some(node) = keys.iter().try_fold(settings, |n, k| n.get(k)) else {
                continue;
            };
            let Kind::Scalar { text, .. } = &node.kind else {
                continue;
            };
            let what = keys.join(".");
            if self.checked_out.as_deref() == Some(text.as_str()) {
                r.report(
                    &node.loc,
                    format!(
                        "{what}: `{text}` is the branch checked out in the state repo; siteward \
                         would commit onto it — name a branch of siteward's own"
                    ),
                );
            } else if let Some((remote, branch)) = text.split_once('/')
                && self.has_remote(remote)
            {
                r.report(
                    &node.loc,
                    format!(
                        "{what}: `{text}` reads as the branch `{branch}` of the remote `{remote}`; \
                         name a local branch of siteward's own"
                    ),
                );
            }
        }
    }

    fn has_remote(&self, name: &str) -> bool {
        crate::git::Repo::open(&self.root).is_ok_and(|repo| repo.has_remote(name))
    }
}

/// The branch `HEAD` points to in the git repo holding `root`; `None` when there is no repo or
/// `HEAD` is detached. Read from the text of `HEAD` (`ref: refs/heads/NAME`), following a
/// `.git` file (`gitdir: PATH`) of a linked work tree.
fn checked_out_branch(root: &Path) -> Option<String> {
    const SMALL: u64 = 4096;
    let root = root.canonicalize().ok()?;
    let top = root.ancestors().find(|d| d.join(".git").exists())?;
    let dot_git = top.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else {
        let text = file::read_text(&dot_git, SMALL, Links::Follow).ok()?;
        top.join(text.strip_prefix("gitdir:")?.trim())
    };
    let head = file::read_text(&git_dir.join("HEAD"), SMALL, Links::Follow).ok()?;
    head.trim()
        .strip_prefix("ref: refs/heads/")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_out_branch_is_read_from_head() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(checked_out_branch(dir.path()), None);
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/ops\n").unwrap();
        std::fs::create_dir(dir.path().join("state")).unwrap();
        assert_eq!(checked_out_branch(dir.path()).as_deref(), Some("ops"));
        assert_eq!(
            checked_out_branch(&dir.path().join("state")).as_deref(),
            Some("ops"),
            "a state repo in a subdirectory of a git work tree"
        );
        std::fs::write(dir.path().join(".git/HEAD"), "0123abcd\n").unwrap();
        assert_eq!(checked_out_branch(dir.path()), None, "detached");
    }

    #[test]
    fn a_linked_work_tree_points_at_its_git_dir() {
        let dir = tempfile::tempdir().unwrap();
        let git_dir = dir.path().join("main/.git/worktrees/wt");
        std::fs::create_dir_all(&git_dir).unwrap();
        std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/load\n").unwrap();
        std::fs::create_dir(dir.path().join("wt")).unwrap();
        std::fs::write(
            dir.path().join("wt/.git"),
            format!("gitdir: {}\n", git_dir.display()),
        )
        .unwrap();
        assert_eq!(
            checked_out_branch(&dir.path().join("wt")).as_deref(),
            Some("load")
        );
    }
}
