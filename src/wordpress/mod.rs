//! The `wordpress` software provider (`manage.software`): WordPress's own inventory of core,
//! PHP, plugins, themes, must-use plugins and maintenance mode instead of the passive
//! fingerprint, plugins and themes installed, upgraded, downgraded, activated, deactivated
//! and deleted with WordPress's own functions and upgrader classes, and core updated from a
//! verified core zip.
//!
//! A way in ([`Via`]) reads an [`Inventory`] and carries out [`steps::Step`]s; `via: php` (the
//! default, [`php`]): siteward's PHP scripts run with the site's `php` CLI, locally or over
//! SSH. `via: wp-cli` is refused when the state repo is loaded (WP-CLI is not needed: the
//! scripts do what it does). `via: rest` ([`rest`], [`rest_apply`]) reads the inventory and
//! (de)activates and deletes plugins through WordPress's REST API with an application
//! password; what REST cannot do is proposed.
//!
//! # Guarantees
//! - Nothing is installed from a zip whose sha256 is not the pinned one, nor from an unpinned
//!   zip unless `software.allow_unpinned: true`; the bytes installed are the bytes judged
//!   ([`packages`]).
//! - Safe order: deactivate before delete, install before activate; maintenance mode during
//!   file changes and always switched off afterwards, whatever failed ([`deploy`]).
//! - Every directory about to change is copied aside first and kept until verification passed:
//!   WordPress reports the desired state, the site answers and its `checks:` pass. On any
//!   failure the previous directories (a new install removed), active plugins and theme come
//!   back.
//!
//! - Core is updated from a pinned `wordpress-<version>.zip` on its own, before plugins and
//!   themes ([`core`]): its files are moved aside first and come back on any failure, by a
//!   script that does not boot WordPress.
//!
//! # Caveats
//! Deleting a plugin runs its uninstall routine, which may remove its data; a rollback
//! restores its files, not that data. Likewise a core rollback restores core's files, not a
//! database schema that `wp_upgrade()` already changed.

mod core;
mod deploy;
pub mod fleet;
pub mod inventory;
pub mod packages;
mod php;
pub mod rest;
pub mod rest_apply;
mod steps;

use std::path::Path;
use std::time::Duration;

pub use deploy::apply;
pub use inventory::{Inventory, Kind};

use crate::plan::{Action, Change, Resource};
use crate::probe::http::Http;
use crate::secret::RunSecrets;
use crate::spec::{Package as Desired, Site, WordpressVia};
use crate::stage::Verdict;
use crate::transport::{Timeouts, Transport, TransportError};
use packages::{Package, Source, Want};

/// The provider's name in plans and records.
pub const NAME: &str = "wordpress";

/// A WordPress operation failed. Messages name the stage; never secret values.
#[derive(Debug, thiserror::Error)]
pub enum WordpressError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the `{script}` script failed on {place}: {detail}")]
    Script {
        script: &'static str,
        place: String,
        detail: String,
    },
    #[error("{step} failed: {detail}")]
    Step { step: String, detail: String },
    #[error("{stage}: {detail}; the previous versions and activation states were restored")]
    RolledBack { stage: &'static str, detail: String },
    #[error(
        "{stage}: {detail}; restoring the previous state failed too: {rollback}; the backups \
         are kept in `{backups}`"
    )]
    RollbackFailed {
        stage: &'static str,
        detail: String,
        rollback: String,
        backups: String,
    },
}

/// A way in to one WordPress installation.
#[derive(Debug, Clone)]
pub enum Via {
    Php(php::Php),
}

impl Via {
    /// The way in a site's `manage.software` names; `None` when it is not built here.
    pub fn for_site(
        site: &Site,
        repo: &Path,
        timeouts: Timeouts,
    ) -> Option<Result<Via, WordpressError>> {
        let m = site.manage.software.as_ref()?;
        match m.via {
            WordpressVia::Php => {}
            WordpressVia::WpCli | WordpressVia::Rest => return None,
        }
        let setup = || {
            let root = m.path.as_deref().ok_or_else(|| {
                WordpressError::Config(
                    "manage.software: set `path`, the WordPress root on the target".to_owned(),
                )
            })?;
            let root = crate::load::site::resolve(repo, root);
            if m.transport.host.is_none() && inside(&root, repo) {
                return Err(WordpressError::Config(
                    "manage.software.path: a local WordPress root must not be inside the state \
                     repo (its `wp-load.php` would be code from the repo, run by `plan` on a \
                     pull request)"
                        .to_owned(),
                ));
            }
            Ok(Via::Php(php::Php {
                transport: Transport::from_spec(&m.transport, repo, timeouts)?,
                root,
                php: m.php.clone().unwrap_or_else(|| "php".to_owned()),
                user: m.user.clone(),
            }))
        };
        Some(setup())
    }

    /// What WordPress says is installed.
    pub async fn inventory(&self) -> Result<Inventory, WordpressError> {
        match self {
            Via::Php(p) => p.inventory().await,
        }
    }

    /// Carries out `steps` in order, stopping at the first that fails.
    pub async fn apply(&self, steps: &[steps::Step]) -> Result<(), WordpressError> {
        match self {
            Via::Php(p) => p.apply(steps).await,
        }
    }

    /// Puts back the core files moved aside into `backup`, without booting WordPress.
    pub async fn restore_core(&self, backup: &str) -> Result<(), WordpressError> {
        match self {
            Via::Php(p) => p.restore_core(backup).await,
        }
    }

    /// Where its commands run, to stage zips.
    pub fn transport(&self) -> &Transport {
        match self {
            Via::Php(p) => &p.transport,
        }
    }

    /// The installation's root, for messages and the crash journal.
    pub fn root(&self) -> &Path {
        match self {
            Via::Php(p) => &p.root,
        }
    }

    /// `wordpress via php`: the source plans show for the inventory.
    pub fn label(&self) -> &'static str {
        match self {
            Via::Php(_) => "wordpress via php",
        }
    }
}

/// Whether `path` (resolved through links) lies inside `repo`.
fn inside(path: &Path, repo: &Path) -> bool {
    match (std::fs::canonicalize(path), std::fs::canonicalize(repo)) {
        (Ok(p), Ok(r)) => p.starts_with(r),
        _ => false,
    }
}

/// The source a site's software is observed from, when a provider lists it.
pub fn source(site: &Site) -> Option<&'static str> {
    let m = site.manage.software.as_ref()?;
    match m.via {
        WordpressVia::Php => Some("wordpress via php"),
        WordpressVia::Rest => Some(rest::LABEL),
        WordpressVia::WpCli => None,
    }
}

/// One site's WordPress as observed: the inventory and, for each desired package it does not
/// satisfy, the zip that would be installed or why none can be.
#[derive(Debug, Clone)]
pub struct Observed {
    pub inventory: Inventory,
    /// The way in that listed it (`wordpress via php`).
    pub label: &'static str,
    /// Per desired plugin or theme not satisfied yet: the zip, or why none can be installed.
    pub packages: Vec<(Kind, String, Result<Package, String>)>,
}

/// Reads the inventory of a site managed through a built way in (`None` otherwise) and judges
/// the zips its desired state needs; `via: rest` asks the site over `http` (the site's own
/// clients) with its application password from `secrets`.
pub async fn observe(
    site: &Site,
    repo: &Path,
    timeouts: Timeouts,
    timeout: Duration,
    http: &Http,
    secrets: &RunSecrets,
) -> Option<Result<Observed, String>> {
    if rest::applies(site) {
        return Some(rest::observe(site, http, secrets).await);
    }
    let via = match Via::for_site(site, repo, timeouts)? {
        Ok(v) => v,
        Err(e) => return Some(Err(crate::error_text::chain(&e))),
    };
    let inventory = match via.inventory().await {
        Ok(i) => i,
        Err(e) => return Some(Err(crate::error_text::chain(&e))),
    };
    let packages = needed(site, repo, &inventory, timeout).await;
    Some(Ok(Observed {
        inventory,
        label: via.label(),
        packages,
    }))
}

/// For every desired plugin and theme whose installed version does not satisfy its version,
/// the zip chosen for it (or why there is none).
async fn needed(
    site: &Site,
    repo: &Path,
    inventory: &Inventory,
    timeout: Duration,
) -> Vec<(Kind, String, Result<Package, String>)> {
    let Some(sw) = &site.software else {
        return Vec::new();
    };
    let source = sw.packages.as_deref().map(|p| Source::parse(p, repo));
    let find = async |want: Want<'_>| match &source {
        None => Err(
            "no package source: set `software.packages` (site or policy) or \
                     `packages` in siteward.yaml"
                .to_owned(),
        ),
        Some(Err(e)) => Err(e.clone()),
        Some(Ok(s)) => packages::resolve(s, want, timeout).await,
    };
    let mut out = Vec::new();
    // Core, from `wordpress-<version>.zip`.
    if let Some(version) = &sw.core {
        let satisfied = inventory
            .core
            .as_deref()
            .and_then(|v| v.parse().ok())
            .is_some_and(|v| version.matches(&v));
        if !satisfied {
            let want = Want {
                kind: Kind::Core,
                slug: crate::vuln::CORE_SLUG,
                version,
                pin: sw.core_sha256.as_ref(),
                allow_unpinned: sw.allow_unpinned,
            };
            out.push((Kind::Core, want.slug.to_owned(), find(want).await));
        }
    }
    for (kind, list) in [(Kind::Plugin, &sw.plugins), (Kind::Theme, &sw.themes)] {
        for (slug, p) in list {
            let Desired::Present {
                version, sha256, ..
            } = p
            else {
                continue;
            };
            let satisfied = inventory
                .get(kind, slug)
                .and_then(|i| i.version.parse().ok())
                .is_some_and(|v| version.matches(&v));
            if satisfied {
                continue;
            }
            let want = Want {
                kind,
                slug,
                version,
                pin: sha256.as_ref(),
                allow_unpinned: sw.allow_unpinned,
            };
            out.push((kind, slug.clone(), find(want).await));
        }
    }
    out
}

/// What the provider can do with one software `change`: `Ok` when it can apply it now.
pub fn can_apply(site: &Site, observed: Option<&Observed>, change: &Change) -> Verdict {
    let Some(m) = &site.manage.software else {
        return Err("no provider manages this site's software (`manage.software`)".into());
    };
    if m.via == WordpressVia::Rest {
        return rest_apply::can_apply(site, observed, change);
    }
    if m.via != WordpressVia::Php {
        return Err(format!(
            "`via: {}` is not part of this version of siteward; the change is proposed instead",
            m.via.as_str()
        ));
    }
    let Some(observed) = observed else {
        return Err("the WordPress inventory was not read".to_owned());
    };
    let kind = match change.resource {
        Resource::Plugin => Kind::Plugin,
        Resource::Theme => Kind::Theme,
        Resource::Core => Kind::Core,
        _ => return Err("not a WordPress package".to_owned()),
    };
    let installed = observed.inventory.get(kind, &change.key);
    if kind == Kind::Theme && installed.as_ref().is_some_and(|i| i.active) {
        let off = change.action == Action::Remove
            || desired(site, kind, &change.key).is_some_and(|p| {
                matches!(
                    p,
                    Desired::Present {
                        active: Some(false),
                        ..
                    }
                )
            });
        if off {
            return Err(format!(
                "`{}` is the active theme; make another theme active first",
                change.key
            ));
        }
    }
    if change.action == Action::Remove {
        return Ok(());
    }
    match observed
        .packages
        .iter()
        .find(|(k, slug, _)| *k == kind && (kind == Kind::Core || *slug == change.key))
    {
        None if kind == Kind::Core => Err("WordPress reports the desired core version".to_owned()),
        // Only activation differs.
        None => Ok(()),
        Some((_, _, found)) => found.as_ref().map(drop).map_err(Clone::clone),
    }
}

/// The desired entry of a plugin or theme.
fn desired<'a>(site: &'a Site, kind: Kind, slug: &str) -> Option<&'a Desired> {
    let sw = site.software.as_ref()?;
    match kind {
        Kind::Plugin => sw.plugins.get(slug),
        Kind::Theme => sw.themes.get(slug),
        Kind::Core => None,
    }
}
