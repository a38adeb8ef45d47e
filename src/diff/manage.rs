//! How a site is managed, compared between two versions of the desired state (pure): the
//! fields that decide what siteward runs and where — `manage` (providers, hosts, paths,
//! commands, keys), `sync`, `connect`, `connect_http`, `ca`, `insecure_skip_verify`. A pull
//! request that changes only these changes nothing live, so the plan would say "in sync";
//! reviewers must see them anyway.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::Site;

/// One field of how a site is managed that differs between the base revision and now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageChange {
    /// The field as a dotted path, e.g. `manage.server.reload_command`.
    pub field: String,
    /// At the base revision; `None` when it was not set (or the site is new).
    pub before: Option<String>,
    /// Now; `None` when it is no longer set.
    pub after: Option<String>,
}

/// The fields of how `after` is managed that differ from `before` (`None`: a new site).
pub fn changes(before: Option<&Site>, after: &Site) -> Vec<ManageChange> {
    let old = before.map(fields).unwrap_or_default();
    let new = fields(after);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| ManageChange {
            field: k.clone(),
            before: old.get(k).cloned(),
            after: new.get(k).cloned(),
        })
        .collect()
}

/// Dotted path → value of every field that decides how the site is managed.
fn fields(site: &Site) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let value = serde_json::json!({
        "manage": site.manage,
        "sync": site.sync,
        "connect": site.connect,
        "connect_http": site.connect_http,
        "ca": site.ca,
        "insecure_skip_verify": site.insecure_skip_verify,
    });
    flatten("", &value, &mut out);
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        serde_json::Value::Null => {}
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(extra: &str) -> Site {
        let (state, problems) = crate::load::load_sources(&[crate::load::Source {
            path: "sites/a.yaml".into(),
            text: format!(
                "name: a\nurl: https://a.test/\n{extra}manage:\n  server:\n    provider: nginx\n    \
                 config: /etc/nginx/a.conf\n"
            ),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    #[test]
    fn commands_paths_and_sync_are_shown() {
        let before = site("");
        let after = site("sync: auto\n");
        let mut after_cmd = after.clone();
        after_cmd.manage.server.as_mut().unwrap().config = Some("/etc/cron.d/x".into());
        let c = changes(Some(&before), &after_cmd);
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["manage.server.config", "sync"], "{c:?}");
        assert_eq!(c[0].before.as_deref(), Some("/etc/nginx/a.conf"));
        assert_eq!(c[0].after.as_deref(), Some("/etc/cron.d/x"));
        assert!(changes(Some(&before), &before).is_empty());
        assert!(
            !changes(None, &before).is_empty(),
            "a new site shows how it is managed"
        );
    }
}
