//! A core update from a verified core zip (`wordpress-<version>.zip`, wordpress.org's layout:
//! everything under a top-level `wordpress/`), mirroring what WordPress's `update_core()` does
//! without its network steps: maintenance mode on; each entry of the zip except `wp-content`
//! moved aside into a backup and replaced (`wp-config.php`, `wp-content` and `.htaccess` are
//! never touched); then, in a process that booted the new core, WordPress's own `wp_upgrade()`
//! and maintenance mode off; then verification (WordPress reports the new version, the site
//! answers, its `checks:` pass).
//!
//! # Guarantees
//! On any failure the moved-aside files come back by a script that does not boot WordPress (the
//! new core may not), and maintenance mode is switched off whatever happened.
//!
//! # Caveats
//! A database schema upgrade that `wp_upgrade()` already made is not rolled back.

use super::packages::Package;
use super::steps::Step;
use super::{Via, WordpressError};
use crate::spec::Site;
use crate::verify::Verify;

/// Updates core from the zip staged at `zip` (judged as `package`), backing up under
/// `backups`; returns what was done, for the record.
pub async fn update(
    via: &Via,
    site: &Site,
    zip: &str,
    package: &Package,
    backups: &str,
    verify: &Verify<'_>,
) -> Result<String, WordpressError> {
    let backup = format!("{backups}/core");
    // 1. Maintenance mode on; the core files moved aside and replaced.
    let replace = [
        Step::Maintenance { on: true },
        Step::Core {
            zip: zip.to_owned(),
            backup: backup.clone(),
        },
    ];
    // 2. The new core boots in a fresh process: database upgrade, maintenance mode off.
    let finish = [Step::UpgradeDb, Step::Maintenance { on: false }];
    let outcome = match via.apply(&replace).await {
        Ok(()) => via.apply(&finish).await,
        Err(e) => Err(e),
    };
    // 3. Verification: the version WordPress reports, then the site as its visitors see it.
    let outcome = match outcome {
        Err(e) => Err(("apply", crate::error_text::chain(&e))),
        Ok(()) => match reports(via, package).await {
            Err(e) => Err(("verification", e)),
            Ok(()) => verify
                .until_served(site)
                .await
                .map_err(|e| ("verification", e)),
        },
    };
    // 4. On failure, the previous core files back; maintenance mode off either way.
    let result = match outcome {
        Ok(()) => Ok(format!(
            "updated core to {} (sha256 {}) via {}",
            package.version,
            package.sha256,
            super::NAME
        )),
        Err((stage, detail)) => {
            let restored = via.restore_core(&backup).await;
            super::deploy::maintenance_off(via).await;
            match restored {
                Ok(()) => Err(WordpressError::RolledBack { stage, detail }),
                Err(e) => {
                    return Err(WordpressError::RollbackFailed {
                        stage,
                        detail,
                        rollback: crate::error_text::chain(&e),
                        backups: backup,
                    });
                }
            }
        }
    };
    // 5. The backup is no longer needed.
    let discard = [Step::Discard {
        dir: backups.to_owned(),
    }];
    if let Err(e) = via.apply(&discard).await {
        tracing::warn!("site `{}`: {e}", site.name);
    }
    result
}

/// Whether WordPress, booted afresh, reports the version of `package`.
async fn reports(via: &Via, package: &Package) -> Result<(), String> {
    let now = via
        .inventory()
        .await
        .map_err(|e| crate::error_text::chain(&e))?;
    let core = now.core.unwrap_or_default();
    if core.parse().ok() == Some(package.version.clone()) {
        Ok(())
    } else {
        Err(format!(
            "WordPress reports core {core}, not {}",
            package.version
        ))
    }
}
