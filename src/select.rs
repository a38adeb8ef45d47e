//! Which sites a command acts on: `--site`, `--selector k=v`, `--shard I/N` and
//! `--changed-since REV`, over the loaded [`DesiredState`].
//!
//! Sharding is deterministic across machines and runs: a site belongs to shard
//! `sha256(name) mod N + 1`, so CI matrix jobs split sites without coordinating.

use std::collections::BTreeSet;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::git::{FileChange, GitError, Repo};
use crate::spec::{DesiredState, SiteName};
use crate::yaml::read::suggest;

/// A selection flag is wrong.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("`--shard {0}`: write it as I/N with 1 <= I <= N, e.g. `--shard 2/4`")]
    Shard(String),
    #[error("`--selector {0}`: write it as KEY=VALUE, e.g. `--selector tier=gold`")]
    Selector(String),
    #[error("`--site {name}`: no such site in sites/{hint}")]
    UnknownSite { name: String, hint: String },
    #[error("`--changed-since {rev}`")]
    ChangedSince {
        rev: String,
        #[source]
        source: GitError,
    },
}

/// One shard of N (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = SelectError;
    fn from_str(s: &str) -> Result<Shard, SelectError> {
        let bad = || SelectError::Shard(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether `site` falls in this shard.
    pub fn contains(&self, site: &str) -> bool {
        shard_of(site, self.count) == self.index
    }
}

/// The 1-based shard of `site` among `count`.
pub fn shard_of(site: &str, count: u64) -> u64 {
    let digest = Sha256::digest(site.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % count.max(1) + 1
}

/// `KEY=VALUE` → `(KEY, VALUE)`.
pub fn parse_selector(s: &str) -> Result<(String, String), SelectError> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(SelectError::Selector(s.to_owned())),
    }
}

/// The selection flags, validated.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub sites: Vec<String>,
    pub selectors: Vec<(String, String)>,
    pub shard: Option<Shard>,
}

impl Selection {
    /// Validates raw flag values.
    pub fn parse(
        sites: &[String],
        selectors: &[String],
        shard: Option<&str>,
    ) -> Result<Selection, SelectError> {
        Ok(Selection {
            sites: sites.to_vec(),
            selectors: selectors
                .iter()
                .map(|s| parse_selector(s))
                .collect::<Result<_, _>>()?,
            shard: shard.map(str::parse).transpose()?,
        })
    }

    /// The selected site names, in name order. Every `--site` must exist.
    pub fn apply(&self, state: &DesiredState) -> Result<Vec<SiteName>, SelectError> {
        let known: Vec<&str> = state.sites.keys().map(SiteName::as_str).collect();
        for name in &self.sites {
            if !known.contains(&name.as_str()) {
                let hint = suggest(name, &known)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(SelectError::UnknownSite {
                    name: name.clone(),
                    hint,
                });
            }
        }
        Ok(state
            .sites
            .values()
            .filter(|s| self.sites.is_empty() || self.sites.iter().any(|n| n == s.name.as_str()))
            .filter(|s| {
                self.selectors
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|l| l == v))
            })
            .filter(|s| self.shard.is_none_or(|sh| sh.contains(s.name.as_str())))
            .map(|s| s.name.clone())
            .collect())
    }
}

/// Sites touched by changes since a revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedSites {
    /// Sites whose own file, a policy they list, or `siteward.yaml` changed.
    pub sites: BTreeSet<SiteName>,
    /// Site files deleted since the revision: no longer managed, no action is taken.
    pub removed: Vec<String>,
}

/// The sites whose file, or a policy they use, changed between `rev` and the working tree
/// (index and untracked files included). A change to `siteward.yaml` selects every site, since
/// settings such as `packages` feed every site's desired state.
pub fn changed_since(
    repo: &Repo,
    rev: &str,
    state: &DesiredState,
) -> Result<ChangedSites, SelectError> {
    let files = repo
        .changed_files(rev, &["sites", "policies", "siteward.yaml"])
        .map_err(|source| SelectError::ChangedSince {
            rev: rev.to_owned(),
            source,
        })?;
    let mut out = ChangedSites::default();
    let stem = |path: &str| {
        path.rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".yaml"))
            .map(str::to_owned)
    };
    for (path, change) in files {
        if path == "siteward.yaml" {
            out.sites.extend(state.sites.keys().cloned());
        } else if path.starts_with("sites/") {
            let Some(name) = stem(&path) else { continue };
            match state.sites.keys().find(|k| k.as_str() == name) {
                Some(k) => {
                    out.sites.insert(k.clone());
                }
                None if change == FileChange::Deleted => out.removed.push(name),
                None => {}
            }
        } else if path.starts_with("policies/") {
            let Some(policy) = stem(&path) else { continue };
            out.sites.extend(
                state
                    .sites
                    .values()
                    .filter(|s| s.policies.iter().any(|p| p.as_str() == policy))
                    .map(|s| s.name.clone()),
            );
        }
    }
    out.removed.sort();
    out.removed.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Source, load_sources};

    fn state() -> DesiredState {
        let site = |name: &str, extra: &str| Source {
            path: format!("sites/{name}.yaml"),
            text: format!("name: {name}\nurl: https://{name}/\n{extra}"),
        };
        let sources = vec![
            Source {
                path: "policies/baseline.yaml".into(),
                text: "name: baseline\n".into(),
            },
            site("a.example", "labels: {tier: gold}\npolicies: [baseline]\n"),
            site("b.example", "labels: {tier: silver}\n"),
            site("c.example", "labels: {tier: gold, env: test}\n"),
        ];
        let (state, problems) = load_sources(&sources);
        assert!(problems.is_empty(), "{problems:?}");
        state
    }

    fn names(v: Vec<SiteName>) -> Vec<String> {
        v.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn shard_parsing() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", ""] {
            let err = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(err.contains("I/N"), "{err}");
        }
    }

    #[test]
    fn shards_partition_sites_deterministically() {
        let sites: Vec<String> = (0..200).map(|i| format!("site{i}.example")).collect();
        let mut seen = 0;
        for i in 1..=4 {
            let shard = Shard { index: i, count: 4 };
            let n = sites.iter().filter(|s| shard.contains(s)).count();
            assert!(n > 20, "shard {i} has only {n} sites");
            seen += n;
        }
        assert_eq!(seen, sites.len());
        // Stable across runs, machines and versions: pinned values (first 8 bytes of sha256,
        // big-endian, mod N, plus one). Changing them reshuffles every CI matrix.
        assert_eq!(shard_of("shop.example.nl", 4), 3);
        assert_eq!(shard_of("www.example.com", 4), 1);
        assert_eq!(shard_of("anything", 1), 1);
    }

    #[test]
    fn site_selector_and_shard_filters() {
        let st = state();
        let all = Selection::default().apply(&st).unwrap();
        assert_eq!(all.len(), 3);
        let gold = Selection::parse(&[], &["tier=gold".into()], None).unwrap();
        assert_eq!(names(gold.apply(&st).unwrap()), ["a.example", "c.example"]);
        let two = Selection::parse(&[], &["tier=gold".into(), "env=test".into()], None).unwrap();
        assert_eq!(names(two.apply(&st).unwrap()), ["c.example"]);
        let one = Selection::parse(&["b.example".into()], &[], None).unwrap();
        assert_eq!(names(one.apply(&st).unwrap()), ["b.example"]);
        let typo = Selection::parse(&["a.exampel".into()], &[], None).unwrap();
        let err = typo.apply(&st).unwrap_err().to_string();
        assert!(err.contains("did you mean `a.example`"), "{err}");
        assert!(Selection::parse(&[], &["tier".into()], None).is_err());
        let mut total = 0;
        for i in 1..=3 {
            let s = Selection::parse(&[], &[], Some(&format!("{i}/3"))).unwrap();
            total += s.apply(&st).unwrap().len();
        }
        assert_eq!(total, 3);
    }
}
