//! The steps of one apply, in a safe order, and the steps that undo them (pure). Forward:
//! back up every directory about to change, maintenance mode on, deactivate, delete, install
//! (from verified zips), activate, maintenance mode off. Rollback: every touched directory back
//! as it was (a new install removed), the active plugin list and theme as they were,
//! maintenance mode off.

use serde::Serialize;

use super::inventory::{Inventory, Kind};

/// One step, as the apply script takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Backup {
        kind: Kind,
        slug: String,
        to: String,
    },
    Maintenance {
        on: bool,
    },
    Install {
        kind: Kind,
        slug: String,
        zip: String,
    },
    Activate {
        kind: Kind,
        slug: String,
    },
    Deactivate {
        kind: Kind,
        slug: String,
    },
    Delete {
        kind: Kind,
        slug: String,
    },
    /// `from: None`: it was not installed before, so it is removed.
    Restore {
        kind: Kind,
        slug: String,
        from: Option<String>,
    },
    ActivePlugins {
        files: Vec<String>,
    },
    Discard {
        dir: String,
    },
    /// Core's files (everything in the zip's `wordpress/` but `wp-content`) moved aside to
    /// `backup` and replaced from the zip (see `php/apply.php`).
    Core {
        zip: String,
        backup: String,
    },
    /// WordPress's own database upgrade (`wp_upgrade()`), in a process that booted the new
    /// core.
    UpgradeDb,
}

impl Step {
    /// In words, for error messages: `install plugin \`shop\``.
    pub fn describe(&self) -> String {
        let what =
            |verb: &str, kind: &Kind, slug: &str| format!("{verb} {} `{slug}`", kind.as_str());
        match self {
            Step::Backup { kind, slug, .. } => what("back up", kind, slug),
            Step::Maintenance { on } => {
                format!("maintenance mode {}", if *on { "on" } else { "off" })
            }
            Step::Install { kind, slug, .. } => what("install", kind, slug),
            Step::Activate { kind, slug } => what("activate", kind, slug),
            Step::Deactivate { kind, slug } => what("deactivate", kind, slug),
            Step::Delete { kind, slug } => what("delete", kind, slug),
            Step::Restore { kind, slug, .. } => what("restore", kind, slug),
            Step::ActivePlugins { .. } => "restore the active plugins".to_owned(),
            Step::Discard { .. } => "remove the backups".to_owned(),
            Step::Core { .. } => "replace the core files".to_owned(),
            Step::UpgradeDb => "upgrade the database".to_owned(),
        }
    }
}

/// What to do to one plugin or theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub kind: Kind,
    pub slug: String,
    pub todo: Todo,
}

/// The kinds of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Todo {
    /// Install (or upgrade, or downgrade) from the zip at this path on the target, then make
    /// it active or inactive when that is wanted.
    Install {
        zip: String,
        active: Option<bool>,
    },
    /// Only (de)activate.
    Activate(bool),
    Delete,
}

/// The forward steps and the rollback steps of one apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub forward: Vec<Step>,
    pub rollback: Vec<Step>,
}

/// The steps for `work` on the installation `before`, backing up under `backups`.
pub fn sequence(before: &Inventory, work: &[Work], backups: &str) -> Sequence {
    let mut forward = Vec::new();
    let mut rollback = Vec::new();
    let backup_of = |w: &Work| format!("{backups}/{}/{}", w.kind.as_str(), w.slug);
    let changes_files = |w: &&Work| matches!(w.todo, Todo::Install { .. } | Todo::Delete);
    // 1. Back up what is installed and about to change.
    for w in work.iter().filter(changes_files) {
        let installed = before.get(w.kind, &w.slug).is_some();
        if installed {
            forward.push(Step::Backup {
                kind: w.kind,
                slug: w.slug.clone(),
                to: backup_of(w),
            });
        }
        rollback.push(Step::Restore {
            kind: w.kind,
            slug: w.slug.clone(),
            from: installed.then(|| backup_of(w)),
        });
    }
    let files = work.iter().any(|w| changes_files(&w));
    if files {
        forward.push(Step::Maintenance { on: true });
    }
    // 2. Deactivate (before a delete, and what must end inactive), delete, install, activate.
    let is_active = |w: &Work| before.get(w.kind, &w.slug).is_some_and(|i| i.active);
    for w in work
        .iter()
        .filter(|w| w.kind == Kind::Plugin && is_active(w))
    {
        let off = matches!(
            w.todo,
            Todo::Delete
                | Todo::Activate(false)
                | Todo::Install {
                    active: Some(false),
                    ..
                }
        );
        if off {
            forward.push(Step::Deactivate {
                kind: w.kind,
                slug: w.slug.clone(),
            });
        }
    }
    for w in work.iter().filter(|w| w.todo == Todo::Delete) {
        forward.push(Step::Delete {
            kind: w.kind,
            slug: w.slug.clone(),
        });
    }
    for w in work {
        if let Todo::Install { zip, .. } = &w.todo {
            forward.push(Step::Install {
                kind: w.kind,
                slug: w.slug.clone(),
                zip: zip.clone(),
            });
        }
    }
    for w in work {
        let on = matches!(
            w.todo,
            Todo::Activate(true)
                | Todo::Install {
                    active: Some(true),
                    ..
                }
        );
        if on && !is_active(w) {
            forward.push(Step::Activate {
                kind: w.kind,
                slug: w.slug.clone(),
            });
        }
    }
    if files {
        forward.push(Step::Maintenance { on: false });
    }
    // 3. Rollback: directories first (above), then activation as it was.
    let touched = |kind: Kind| work.iter().any(|w| w.kind == kind);
    if touched(Kind::Plugin) {
        rollback.push(Step::ActivePlugins {
            files: before.active_plugins(),
        });
    }
    if let Some(theme) = before.active_theme().filter(|_| touched(Kind::Theme)) {
        rollback.push(Step::Activate {
            kind: Kind::Theme,
            slug: theme.to_owned(),
        });
    }
    rollback.push(Step::Maintenance { on: false });
    Sequence { forward, rollback }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wordpress::inventory::{Plugin, Theme};

    fn inventory() -> Inventory {
        let plugin = |slug: &str, active| Plugin {
            slug: slug.into(),
            file: format!("{slug}/{slug}.php"),
            version: "1.0.0".into(),
            active,
            update: None,
        };
        Inventory {
            plugins: vec![
                plugin("old", true),
                plugin("shop", true),
                plugin("seo", false),
            ],
            themes: vec![Theme {
                slug: "base".into(),
                version: "1.0".into(),
                active: true,
                update: None,
            }],
            ..Inventory::default()
        }
    }

    fn work(slug: &str, todo: Todo) -> Work {
        Work {
            kind: Kind::Plugin,
            slug: slug.into(),
            todo,
        }
    }

    #[test]
    fn deactivate_before_delete_install_before_activate_maintenance_around() {
        let zip = |z: &str| Todo::Install {
            zip: z.into(),
            active: Some(true),
        };
        let w = [
            work("old", Todo::Delete),
            work("shop", zip("/t/shop.zip")),
            work("new", zip("/t/new.zip")),
            work("seo", Todo::Activate(true)),
        ];
        let s = sequence(&inventory(), &w, "/u/b");
        let names: Vec<String> = s.forward.iter().map(Step::describe).collect();
        assert_eq!(
            names,
            [
                "back up plugin `old`",
                "back up plugin `shop`",
                "maintenance mode on",
                "deactivate plugin `old`",
                "delete plugin `old`",
                "install plugin `shop`",
                "install plugin `new`",
                "activate plugin `new`",
                "activate plugin `seo`",
                "maintenance mode off",
            ]
        );
        assert_eq!(
            s.rollback,
            [
                Step::Restore {
                    kind: Kind::Plugin,
                    slug: "old".into(),
                    from: Some("/u/b/plugin/old".into())
                },
                Step::Restore {
                    kind: Kind::Plugin,
                    slug: "shop".into(),
                    from: Some("/u/b/plugin/shop".into())
                },
                // A new install is removed.
                Step::Restore {
                    kind: Kind::Plugin,
                    slug: "new".into(),
                    from: None
                },
                Step::ActivePlugins {
                    files: vec!["old/old.php".into(), "shop/shop.php".into()]
                },
                Step::Maintenance { on: false },
            ]
        );
    }

    #[test]
    fn activation_alone_needs_no_backup_nor_maintenance() {
        let s = sequence(&inventory(), &[work("shop", Todo::Activate(false))], "/u/b");
        assert_eq!(
            s.forward,
            [Step::Deactivate {
                kind: Kind::Plugin,
                slug: "shop".into()
            }]
        );
        let json = serde_json::to_value(&s.forward[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"step": "deactivate", "kind": "plugin", "slug": "shop"})
        );
    }
}
