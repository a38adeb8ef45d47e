//! What WordPress itself says is installed, as any way in (`via: php`, `via: rest`) reports
//! it (what a way in cannot tell is `None`: unknown, never assumed), and its projection on the observation the diff and the vulnerability flagging
//! read ([`SoftwareObservation`], with the provider as its source).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::observe::live::{Detected, SoftwareObservation};

/// A WordPress installation's software, complete: what it does not list is not installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Inventory {
    /// `$wp_version`; `None` when the way in cannot tell (REST, on a site that hides it).
    pub core: Option<String>,
    /// `PHP_VERSION` of the PHP that ran WordPress; `None` when the way in cannot tell.
    pub php: Option<String>,
    pub plugins: Vec<Plugin>,
    pub themes: Vec<Theme>,
    /// Must-use plugins (always loaded; reported, never managed); `None` when the way in
    /// cannot tell.
    pub mu_plugins: Option<Vec<MuPlugin>>,
    /// WordPress's `.maintenance` file exists; `None` when the way in cannot tell.
    pub maintenance: Option<bool>,
    /// `WP_CONTENT_DIR/siteward-backups`, where backups are kept during an apply (not under
    /// `upgrade/`, which WordPress empties before every unpack); empty for a way in that keeps
    /// no backups (REST).
    pub backup_dir: String,
}

/// An installed plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Plugin {
    /// The directory (or single file without `.php`) under the plugins directory.
    pub slug: String,
    /// The plugin's main file relative to the plugins directory (`akismet/akismet.php`).
    pub file: String,
    pub version: String,
    pub active: bool,
    /// A newer version WordPress knows of (its `update_plugins` transient), when known.
    pub update: Option<String>,
}

/// An installed theme.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Theme {
    pub slug: String,
    pub version: String,
    /// The theme in use (the `stylesheet` option).
    pub active: bool,
    pub update: Option<String>,
}

/// A must-use plugin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MuPlugin {
    pub file: String,
    pub version: String,
}

/// Whether a change is about a plugin, a theme or core itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Plugin,
    Theme,
    Core,
}

impl Kind {
    /// `plugin`, `theme` or `core`, as the PHP scripts name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Plugin => "plugin",
            Kind::Theme => "theme",
            Kind::Core => "core",
        }
    }
}

/// What the inventory says about one plugin or theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub version: String,
    pub active: bool,
}

impl Inventory {
    /// The installed plugin or theme `slug`, if any.
    pub fn get(&self, kind: Kind, slug: &str) -> Option<Installed> {
        match kind {
            Kind::Plugin => self
                .plugins
                .iter()
                .find(|p| p.slug == slug)
                .map(|p| Installed {
                    version: p.version.clone(),
                    active: p.active,
                }),
            Kind::Theme => self
                .themes
                .iter()
                .find(|t| t.slug == slug)
                .map(|t| Installed {
                    version: t.version.clone(),
                    active: t.active,
                }),
            Kind::Core => self.core.as_ref().map(|v| Installed {
                version: v.clone(),
                active: true,
            }),
        }
    }

    /// The active plugins' main files, in inventory order (restored exactly on rollback).
    pub fn active_plugins(&self) -> Vec<String> {
        self.plugins
            .iter()
            .filter(|p| p.active)
            .map(|p| p.file.clone())
            .collect()
    }

    /// The active theme's slug.
    pub fn active_theme(&self) -> Option<&str> {
        self.themes
            .iter()
            .find(|t| t.active)
            .map(|t| t.slug.as_str())
    }

    /// What this inventory cannot tell (unknown, not assumed), in words: `the PHP version`,
    /// `must-use plugins`, `maintenance mode`, `the core version`.
    pub fn unknown(&self) -> Vec<&'static str> {
        [
            (self.core.is_none(), "the core version"),
            (self.php.is_none(), "the PHP version"),
            (self.mu_plugins.is_none(), "must-use plugins"),
            (self.maintenance.is_none(), "maintenance mode"),
        ]
        .into_iter()
        .filter_map(|(missing, what)| missing.then_some(what))
        .collect()
    }

    /// The observation the diff and vulnerability flagging read: every version known with
    /// full confidence, `source` naming the way in.
    pub fn observation(&self, source: &str) -> SoftwareObservation {
        let seen = |version: &str, active: bool, update: &Option<String>| Detected {
            version: Some(version.to_owned()),
            confidence: 1.0,
            found: true,
            evidence: std::iter::once(format!("{source} {version}"))
                .chain(update.iter().map(|u| format!("update available: {u}")))
                .collect(),
            unknown_reason: None,
            active: Some(active),
        };
        let plugins: BTreeMap<String, Detected> = self
            .plugins
            .iter()
            .map(|p| (p.slug.clone(), seen(&p.version, p.active, &p.update)))
            .collect();
        let themes = self
            .themes
            .iter()
            .map(|t| (t.slug.clone(), seen(&t.version, t.active, &t.update)))
            .collect();
        // What is not a package of its own is told with core: PHP, must-use plugins,
        // maintenance mode (each only when the way in can tell).
        let mut core = match &self.core {
            Some(v) => Detected {
                active: None,
                ..seen(v, true, &None)
            },
            None => Detected {
                version: None,
                confidence: 0.0,
                found: true,
                evidence: Vec::new(),
                unknown_reason: Some(format!("{source} cannot tell the core version")),
                active: None,
            },
        };
        core.evidence
            .extend(self.php.iter().map(|php| format!("PHP {php}")));
        core.evidence.extend(
            self.mu_plugins
                .iter()
                .flatten()
                .map(|m| format!("must-use plugin {} {}", m.file, m.version)),
        );
        if self.maintenance == Some(true) {
            core.evidence.push("maintenance mode on".to_owned());
        }
        SoftwareObservation {
            core,
            plugins,
            themes,
            source: Some(source.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_answer_parses_and_projects_with_full_confidence() {
        let json = r#"{"core":"6.1.9","php":"8.2.36","plugins":[{"slug":"akismet","file":"akismet/akismet.php","version":"5.0.2","active":false,"update":"5.3"}],
            "themes":[{"slug":"twentytwentythree","version":"1.0","active":true,"update":null}],"mu_plugins":[],"maintenance":false,"backup_dir":"/w/wp-content/siteward-backups"}"#;
        let inv: Inventory = serde_json::from_str(json).unwrap();
        assert_eq!(inv.plugins[0].update.as_deref(), Some("5.3"));
        assert_eq!(inv.active_theme(), Some("twentytwentythree"));
        assert!(inv.active_plugins().is_empty());
        let obs = inv.observation("wordpress via php");
        assert_eq!(obs.core.version.as_deref(), Some("6.1.9"));
        assert_eq!(obs.plugins["akismet"].active, Some(false));
        assert_eq!(obs.themes["twentytwentythree"].confidence, 1.0);
        assert_eq!(obs.source.as_deref(), Some("wordpress via php"));
        assert_eq!(obs.core.evidence, ["wordpress via php 6.1.9", "PHP 8.2.36"]);
        assert_eq!(obs.plugins["akismet"].evidence[1], "update available: 5.3");
    }
}
