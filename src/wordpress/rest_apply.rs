//! What `via: rest` may change and how: plugins are activated, deactivated and (when written
//! `absent`) deleted through the REST API; everything else — installing, upgrading or
//! downgrading from a verified zip (REST installs only from wordpress.org, unverified and
//! offline here), themes (WordPress's REST API lists them read-only) and core — is proposed
//! with the reason.
//!
//! # Guarantees
//! - Order: deactivations, then activations, then deletes (of plugins made inactive first), so
//!   the one step REST cannot undo comes last.
//! - Verification afterwards (WordPress reports the desired state, the site answers, its
//!   `checks:` pass); on failure every touched plugin still installed gets its previous
//!   activation state back.
//!
//! # Caveats
//! A deleted plugin cannot be brought back through REST (it cannot install from a zip): a
//! failure after a delete restores activation states only, and says so.

use std::path::Path;

use super::Observed;
use super::inventory::{Inventory, Kind};
use super::rest::{Rest, RestError};
use crate::observe::ObserveOpts;
use crate::plan::{Action, Change, Resource};
use crate::secret::RunSecrets;
use crate::spec::{Package as Desired, Site};
use crate::stage::Verdict;
use crate::verify::Verify;

/// Why REST cannot install, upgrade or downgrade.
const NO_INSTALL: &str = "the REST API installs only from wordpress.org, never from a verified \
     zip: install, upgrade or downgrade it with `via: php`, or by hand";

/// An apply through REST failed; earlier steps may have been done.
#[derive(Debug, thiserror::Error)]
pub enum RestApplyError {
    #[error(transparent)]
    Rest(#[from] RestError),
    #[error("{step}: {source}")]
    Step {
        step: String,
        #[source]
        source: RestError,
    },
    #[error("{stage}: {detail}; the previous activation states were restored{lost}")]
    RolledBack {
        stage: &'static str,
        detail: String,
        lost: String,
    },
    #[error(
        "{stage}: {detail}; restoring the previous activation states failed too: \
         {rollback}{lost}"
    )]
    RollbackFailed {
        stage: &'static str,
        detail: String,
        rollback: String,
        lost: String,
    },
}

/// What REST can do with one software `change`: `Ok` when it can apply it now.
pub fn can_apply(site: &Site, observed: Option<&Observed>, change: &Change) -> Verdict {
    let Some(observed) = observed else {
        return Err("the WordPress inventory was not read".to_owned());
    };
    match change.resource {
        Resource::Plugin => {}
        Resource::Theme => {
            return Err(
                "the REST API lists themes read-only (it cannot install, switch or delete \
                 them): change it with `via: php`, or in wp-admin"
                    .to_owned(),
            );
        }
        _ => {
            return Err(
                "core updates are not applied through the REST API: apply them with `via: php` \
                 from a pinned `wordpress-<version>.zip`"
                    .to_owned(),
            );
        }
    }
    let installed = observed.inventory.get(Kind::Plugin, &change.key);
    match (
        change.action,
        installed,
        super::desired(site, Kind::Plugin, &change.key),
    ) {
        (Action::Remove, Some(_), _) => Ok(()),
        (_, Some(i), Some(Desired::Present { version, .. }))
            if i.version.parse().is_ok_and(|v| version.matches(&v)) =>
        {
            Ok(())
        }
        (Action::Remove, None, _) => Err("it is not installed".to_owned()),
        _ => Err(NO_INSTALL.to_owned()),
    }
}

/// One plugin's activation change or delete, by its main file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Work {
    Active {
        file: String,
        slug: String,
        on: bool,
    },
    Delete {
        file: String,
        slug: String,
    },
}

impl Work {
    fn describe(&self) -> String {
        match self {
            Work::Active { slug, on: true, .. } => format!("activate plugin `{slug}`"),
            Work::Active {
                slug, on: false, ..
            } => format!("deactivate plugin `{slug}`"),
            Work::Delete { slug, .. } => format!("delete plugin `{slug}`"),
        }
    }
}

/// The steps for `changes` on the installation `before`, in a safe order (pure).
fn steps(site: &Site, before: &Inventory, changes: &[Change]) -> Vec<Work> {
    let mut off = Vec::new();
    let mut on = Vec::new();
    let mut delete = Vec::new();
    for c in changes.iter().filter(|c| c.resource == Resource::Plugin) {
        let Some(p) = before.plugins.iter().find(|p| p.slug == c.key) else {
            continue;
        };
        let active = |on: bool| Work::Active {
            file: p.file.clone(),
            slug: p.slug.clone(),
            on,
        };
        match (c.action, super::desired(site, Kind::Plugin, &c.key)) {
            (Action::Remove, _) => {
                if p.active {
                    off.push(active(false));
                }
                delete.push(Work::Delete {
                    file: p.file.clone(),
                    slug: p.slug.clone(),
                });
            }
            (
                _,
                Some(Desired::Present {
                    active: Some(want), ..
                }),
            ) if *want != p.active => match want {
                true => on.push(active(true)),
                false => off.push(active(false)),
            },
            _ => {}
        }
    }
    off.into_iter().chain(on).chain(delete).collect()
}

/// Applies `changes` (plugins with step `apply`) to `site` through REST; returns what was
/// done, for the record.
pub async fn apply(
    site: &Site,
    repo: &Path,
    opts: ObserveOpts,
    secrets: &RunSecrets,
    changes: &[Change],
    verify: &Verify<'_>,
) -> Result<String, RestApplyError> {
    // 1. The way in, over the site's own clients, and the installation as it is now.
    let ca = site
        .ca
        .as_deref()
        .map(|p| crate::load::site::resolve(repo, p));
    let clients = crate::observe::clients::build(&[(site, ca)], opts.timeout)
        .await
        .pop()
        .ok_or_else(|| RestError::Config("no HTTP client was built".to_owned()))?
        .map_err(|e| RestError::Config(e.to_string()))?;
    let limits = crate::observe::limits::HostLimits::new(opts.per_host);
    let http = crate::observe::http(&clients, limits, opts.timeout);
    let rest = Rest::for_site(site, http, secrets)?;
    let before = rest.inventory().await?;
    // 2. Forward, stopping at the first failure; then verification.
    let work = steps(site, &before, changes);
    let mut done = Vec::new();
    let mut outcome = Ok(());
    for w in &work {
        let result = match w {
            Work::Active { file, on, .. } => rest.set_active(file, *on).await,
            Work::Delete { file, .. } => rest.delete(file).await,
        };
        if let Err(source) = result {
            let e = RestApplyError::Step {
                step: w.describe(),
                source,
            };
            outcome = Err(("apply", crate::error_text::chain(&e)));
            break;
        }
        done.push(w.clone());
    }
    if outcome.is_ok() {
        outcome = verify
            .until_served(site)
            .await
            .map_err(|e| ("verification", e));
    }
    let Err((stage, detail)) = outcome else {
        let what: Vec<String> = work.iter().map(Work::describe).collect();
        return Ok(format!("{} via {} (rest)", what.join(", "), super::NAME));
    };
    // 3. Back: the previous activation state of every touched plugin still installed.
    let lost: Vec<&str> = done
        .iter()
        .filter_map(|w| match w {
            Work::Delete { slug, .. } => Some(slug.as_str()),
            Work::Active { .. } => None,
        })
        .collect();
    let lost = match lost.is_empty() {
        true => String::new(),
        false => format!(
            "; deleted through REST and not restorable by it: `{}`",
            lost.join("`, `")
        ),
    };
    match restore(&rest, &before, &done).await {
        Ok(()) => Err(RestApplyError::RolledBack {
            stage,
            detail,
            lost,
        }),
        Err(e) => Err(RestApplyError::RollbackFailed {
            stage,
            detail,
            rollback: crate::error_text::chain(&e),
            lost,
        }),
    }
}

/// Sets every plugin `done` changed the activation of (and did not delete) back as `before`
/// had it; tries them all, reports the first failure.
async fn restore(rest: &Rest, before: &Inventory, done: &[Work]) -> Result<(), RestApplyError> {
    let deleted = |f: &str| {
        done.iter()
            .any(|w| matches!(w, Work::Delete { file, .. } if file == f))
    };
    let mut first = None;
    for w in done {
        let Work::Active { file, slug, .. } = w else {
            continue;
        };
        if deleted(file) {
            continue;
        }
        let was = before.plugins.iter().any(|p| p.file == *file && p.active);
        if let Err(source) = rest.set_active(file, was).await {
            first.get_or_insert(RestApplyError::Step {
                step: format!("restore plugin `{slug}`"),
                source,
            });
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(yaml_plugins: &str) -> Site {
        let yaml = format!(
            "name: a.example\nurl: https://a.example/\nsoftware:\n  platform: wordpress\n  plugins:\n{yaml_plugins}\
             manage:\n  software:\n    provider: wordpress\n    via: rest\n    username: admin\n    app_password: env:WP_PW\n"
        );
        let src = crate::load::Source {
            path: "sites/a.example.yaml".into(),
            text: yaml,
        };
        let (state, problems) = crate::load::load_sources(&[src]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    fn change(key: &str, action: Action) -> Change {
        Change {
            resource: Resource::Plugin,
            key: key.into(),
            action,
            live: None,
            desired: None,
            provider: Some("wordpress".into()),
            applicable: false,
            step: crate::plan::Step::Propose,
            reason: None,
        }
    }

    /// `old` and `seo` active, `shop` inactive, as REST reports them.
    fn before() -> Inventory {
        let plugin = |slug: &str, active: bool| {
            serde_json::json!({"slug": slug, "file": format!("{slug}/{slug}.php"),
                "version": "1.0.0", "active": active, "update": null})
        };
        let json = serde_json::json!({
            "core": null, "php": null, "mu_plugins": null, "maintenance": null, "backup_dir": "",
            "themes": [],
            "plugins": [plugin("old", true), plugin("shop", false), plugin("seo", true)],
        });
        let inventory: Inventory = serde_json::from_value(json).expect("inventory");
        assert_eq!(
            inventory.unknown(),
            [
                "the core version",
                "the PHP version",
                "must-use plugins",
                "maintenance mode"
            ]
        );
        inventory
    }

    #[test]
    fn deletes_come_last_after_their_deactivation() {
        let s = site(
            "    old: absent\n    shop: {version: 1.0.0, active: true}\n    seo: {version: '>=1', active: false}\n",
        );
        let c = [
            change("old", Action::Remove),
            change("shop", Action::Change),
            change("seo", Action::Change),
        ];
        let names: Vec<String> = steps(&s, &before(), &c)
            .iter()
            .map(Work::describe)
            .collect();
        assert_eq!(
            names,
            [
                "deactivate plugin `old`",
                "deactivate plugin `seo`",
                "activate plugin `shop`",
                "delete plugin `old`",
            ]
        );
    }

    #[test]
    fn only_activation_and_deletes_are_applied() {
        let s = site(
            "    old: absent\n    shop: {version: 2.0.0, active: true}\n    seo: {version: 1.0.0, active: false}\n",
        );
        let observed = Observed {
            inventory: before(),
            label: super::super::rest::LABEL,
            packages: Vec::new(),
        };
        let verdict = |c: &Change| can_apply(&s, Some(&observed), c);
        assert_eq!(verdict(&change("old", Action::Remove)), Ok(()));
        assert_eq!(verdict(&change("seo", Action::Change)), Ok(()));
        assert!(
            verdict(&change("shop", Action::Change))
                .unwrap_err()
                .contains("wordpress.org")
        );
        assert!(
            verdict(&change("new", Action::Add))
                .unwrap_err()
                .contains("verified zip")
        );
        let theme = Change {
            resource: Resource::Theme,
            ..change("base", Action::Change)
        };
        assert!(verdict(&theme).unwrap_err().contains("read-only"));
        assert!(can_apply(&s, None, &change("seo", Action::Change)).is_err());
    }
}
