//! Each site's baseline for notifications: its facts in its newest earlier record on the audit
//! branch, with what that record could not know (a site that did not answer has no sync state
//! and no certificate) filled from the records before it ([`Facts::fill_from`]).
//!
//! One walk of the history, newest first, over the run's sites only; it stops as soon as every
//! site is settled (sync and health known), and after [`HISTORY`] records per site at most, so a
//! site that never answered does not make a scheduled run read the whole branch.

use std::collections::BTreeMap;

use super::events::Facts;
use crate::audit::{History, HistoryFilter};
use crate::git::{GitError, Repo};

/// Most of a site's records read to find its baseline.
pub const HISTORY: usize = 32;

/// Why a walk ended early.
enum Stop {
    /// Every site is settled.
    Done,
    Git(GitError),
}

impl From<GitError> for Stop {
    fn from(e: GitError) -> Stop {
        Stop::Git(e)
    }
}

/// The baselines of `sites` on `branch`, leaving out the record of run `this` (the current run,
/// should it already be there). A site without earlier records has none. A history that cannot
/// be read gives no baselines (with a warning): only transitions that need none are then sent.
pub fn read(git: &Repo, branch: &str, sites: &[String], this: &str) -> BTreeMap<String, Facts> {
    let mut found: BTreeMap<String, Facts> = BTreeMap::new();
    if sites.is_empty() {
        return found;
    }
    let filter = HistoryFilter {
        limit: Some(HISTORY.saturating_mul(sites.len())),
        sites: sites.to_vec(),
        ..HistoryFilter::default()
    };
    let mut settled = 0;
    let walked = History::open(git, branch)
        .map_err(Stop::Git)
        .and_then(|h| match h {
            Some(h) => h.visit(&filter, |e| {
                if e.run == this {
                    return Ok(());
                }
                let older = Facts::of_entry(&e);
                let base = match found.get_mut(&e.site) {
                    Some(base) if base.settled() => return Ok(()),
                    Some(base) => {
                        base.fill_from(&older);
                        base
                    }
                    None => found.entry(e.site).or_insert(older),
                };
                if base.settled() {
                    settled += 1;
                }
                if settled == sites.len() {
                    return Err(Stop::Done);
                }
                Ok(())
            }),
            None => Ok(()),
        });
    if let Err(Stop::Git(e)) = walked {
        tracing::warn!(
            "cannot read the audit branch `{branch}` for notifications: {}; only this run's \
             failures and proposals are told",
            crate::error_text::chain(&e)
        );
        found.clear();
    }
    found
}
