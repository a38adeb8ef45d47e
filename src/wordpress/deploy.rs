//! One site's software apply: read the inventory afresh, choose and re-check the zips, stage
//! them on the target, update core first when asked ([`super::core`]), run the forward steps, switch maintenance mode off whatever happened,
//! verify (WordPress reports the desired state, the site answers, its `checks:` pass), and on
//! any failure run the rollback steps; the backups are removed only after success or a
//! complete rollback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::packages::Package;
use super::steps::{self, Step, Todo, Work};
use super::{Kind, Via, WordpressError};
use crate::plan::{Action, Change, Resource};
use crate::spec::{Package as Desired, Site};
use crate::transport::{Timeouts, Transport};
use crate::verify::Verify;

/// Applies `changes` (plugins and themes with step `apply`) to `site`; returns what was done,
/// for the record.
pub async fn apply(
    site: &Site,
    repo: &Path,
    timeouts: Timeouts,
    timeout: Duration,
    changes: &[Change],
    verify: &Verify<'_>,
) -> Result<String, WordpressError> {
    // 1. The way in, and the installation as it is now.
    let via = match Via::for_site(site, repo, timeouts) {
        Some(v) => v?,
        None => {
            return Err(WordpressError::Config(
                "this site's `manage.software` way in is not built".to_owned(),
            ));
        }
    };
    let before = via.inventory().await?;
    if before.maintenance == Some(true) {
        return Err(WordpressError::Config(
            "WordPress is in maintenance mode (another update running?); nothing was changed"
                .to_owned(),
        ));
    }
    // 2. The zips, chosen and checked again; nothing has changed yet.
    let observed = super::Observed {
        packages: super::needed(site, repo, &before, timeout).await,
        inventory: before,
        label: via.label(),
    };
    let source = site
        .software
        .as_ref()
        .and_then(|s| s.packages.as_deref())
        .map(|p| super::packages::Source::parse(p, repo));
    let mut zips = Vec::new();
    for (kind, slug, found) in &observed.packages {
        let wanted =
            |c: &Change| kind_of(c) == Some(*kind) && (*kind == Kind::Core || c.key == *slug);
        if !changes.iter().any(wanted) {
            continue;
        }
        let package = found.clone().map_err(WordpressError::Config)?;
        let Some(Ok(source)) = &source else {
            return Err(WordpressError::Config("no package source".to_owned()));
        };
        let bytes = super::packages::fetch(source, &package, timeout)
            .await
            .map_err(WordpressError::Config)?;
        zips.push((*kind, slug.clone(), package, bytes));
    }
    // 3. Stage the zips on the target, readable by the site's user.
    let transport = via.transport();
    let staging = match zips.is_empty() {
        true => None,
        false => Some(stage_dir(transport).await?),
    };
    let mut staged = Vec::new();
    for (dir, (kind, slug, package, bytes)) in staging
        .iter()
        .flat_map(|d| zips.iter().map(move |z| (d, z)))
    {
        let path = dir.join(package.file_name());
        if let Err(e) = transport.write_mode(&path, bytes, 0o644).await {
            remove_staging(transport, staging.as_deref()).await;
            return Err(e.into());
        }
        staged.push((*kind, slug.clone(), path.display().to_string()));
    }
    let backups = format!(
        "{}/{}",
        observed.inventory.backup_dir.trim_end_matches('/'),
        token()
    );
    if !safe_dir(&observed.inventory.backup_dir) {
        remove_staging(transport, staging.as_deref()).await;
        return Err(WordpressError::Config(format!(
            "WordPress reports an unusable backup directory `{}`",
            observed.inventory.backup_dir
        )));
    }
    // 4. Core first, on its own (plugins and themes then run on the new core).
    let mut done = Vec::new();
    let core = zips
        .iter()
        .zip(&staged)
        .find(|((k, ..), _)| *k == Kind::Core);
    if let Some(((_, _, package, _), (_, _, zip))) = core {
        match super::core::update(&via, site, zip, package, &backups, verify).await {
            Ok(text) => done.push(text),
            Err(e) => {
                remove_staging(transport, staging.as_deref()).await;
                return Err(e);
            }
        }
    }
    // 5. The plugin and theme steps, forward and back.
    let work = work(site, changes, &staged);
    if work.is_empty() {
        remove_staging(transport, staging.as_deref()).await;
        return Ok(done.join(", "));
    }
    let seq = steps::sequence(&observed.inventory, &work, &backups);
    // 6. Forward, then verification; back on any failure. Maintenance mode is off either way.
    let outcome = match via.apply(&seq.forward).await {
        Err(e) => Err(("apply", crate::error_text::chain(&e))),
        Ok(()) => verify
            .until_served(site)
            .await
            .map_err(|e| ("verification", e)),
    };
    let result = match outcome {
        Ok(()) => {
            done.push(describe(&work, &zips));
            Ok(done.join(", "))
        }
        Err((stage, detail)) => match via.apply(&seq.rollback).await {
            Ok(()) => Err(WordpressError::RolledBack { stage, detail }),
            Err(rollback) => {
                maintenance_off(&via).await;
                remove_staging(transport, staging.as_deref()).await;
                return Err(WordpressError::RollbackFailed {
                    stage,
                    detail,
                    rollback: crate::error_text::chain(&rollback),
                    backups,
                });
            }
        },
    };
    // 7. Backups and staged zips are no longer needed.
    if let Err(e) = via
        .apply(&[Step::Discard {
            dir: backups.clone(),
        }])
        .await
    {
        tracing::warn!("site `{}`: {e}", site.name);
    }
    remove_staging(transport, staging.as_deref()).await;
    if result.is_err() {
        maintenance_off(&via).await;
    }
    result
}

/// Switches maintenance mode off without WordPress: its `.maintenance` file is removed through
/// the transport, so not even a WordPress that no longer boots can leave the site in it.
pub(super) async fn maintenance_off(via: &Via) {
    let file = via.root().join(".maintenance");
    if let Err(e) = via.transport().remove(&file).await {
        tracing::warn!("cannot remove `{}`: {e}", file.display());
    }
}

fn kind_of(c: &Change) -> Option<Kind> {
    match c.resource {
        Resource::Plugin => Some(Kind::Plugin),
        Resource::Theme => Some(Kind::Theme),
        Resource::Core => Some(Kind::Core),
        _ => None,
    }
}

/// The work for each change: delete, install a staged zip (and set activation), or only set
/// activation.
fn work(site: &Site, changes: &[Change], staged: &[(Kind, String, String)]) -> Vec<Work> {
    let mut out = Vec::new();
    for c in changes {
        let Some(kind) = kind_of(c).filter(|k| *k != Kind::Core) else {
            continue;
        };
        let todo = match (c.action, super::desired(site, kind, &c.key)) {
            (Action::Remove, _) => Todo::Delete,
            (_, Some(Desired::Present { active, .. })) => {
                match staged.iter().find(|(k, s, _)| *k == kind && *s == c.key) {
                    Some((_, _, zip)) => Todo::Install {
                        zip: zip.clone(),
                        active: *active,
                    },
                    None => match active {
                        Some(a) => Todo::Activate(*a),
                        None => continue,
                    },
                }
            }
            _ => continue,
        };
        out.push(Work {
            kind,
            slug: c.key.clone(),
            todo,
        });
    }
    out
}

/// What was done, for the record: `installed plugin \`shop\` 1.2.0 (sha256 …)` and so on.
fn describe(work: &[Work], zips: &[(Kind, String, Package, Vec<u8>)]) -> String {
    let what: Vec<String> = work
        .iter()
        .map(|w| {
            let verb = match &w.todo {
                Todo::Install { active, .. } => {
                    let zip = zips.iter().find(|(k, s, ..)| *k == w.kind && *s == w.slug);
                    let from = zip.map_or_else(String::new, |(_, _, p, _)| {
                        format!(" {} (sha256 {})", p.version, p.sha256)
                    });
                    let then = match active {
                        Some(true) => ", active",
                        Some(false) => ", inactive",
                        None => "",
                    };
                    return format!("installed {} `{}`{from}{then}", w.kind.as_str(), w.slug);
                }
                Todo::Activate(true) => "activated",
                Todo::Activate(false) => "deactivated",
                Todo::Delete => "deleted",
            };
            format!("{verb} {} `{}`", w.kind.as_str(), w.slug)
        })
        .collect();
    format!("{} via {}", what.join(", "), super::NAME)
}

/// A fresh private directory on the target (`mktemp -d`), opened for reading so that the
/// site's user can read the zips in it.
async fn stage_dir(t: &Transport) -> Result<PathBuf, WordpressError> {
    let out = t.run(&["mktemp".to_owned(), "-d".to_owned()]).await?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.success() || !safe_dir(&dir) {
        return Err(WordpressError::Config(format!(
            "cannot make a staging directory on {}: {}",
            t.place(),
            out.message()
        )));
    }
    let chmod = t
        .run(&["chmod".to_owned(), "755".to_owned(), dir.clone()])
        .await?;
    if !chmod.success() {
        return Err(WordpressError::Config(format!(
            "cannot open the staging directory `{dir}`: {}",
            chmod.message()
        )));
    }
    Ok(PathBuf::from(dir))
}

async fn remove_staging(t: &Transport, dir: Option<&Path>) {
    let Some(dir) = dir else { return };
    let argv = ["rm", "-rf", "--"]
        .map(str::to_owned)
        .into_iter()
        .chain([dir.display().to_string()])
        .collect::<Vec<_>>();
    if let Err(e) = t.run(&argv).await {
        tracing::warn!("cannot remove the staged zips in `{}`: {e}", dir.display());
    }
}

/// An absolute directory path without `..`, control characters or a trailing newline.
fn safe_dir(dir: &str) -> bool {
    dir.starts_with('/')
        && dir.len() > 1
        && !dir.chars().any(char::is_control)
        && !Path::new(dir)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// A name for this apply's backups: the process and the time.
fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}
