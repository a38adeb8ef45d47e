//! Property: the plan stage's verdicts are what an apply does to siteward's file. Over
//! generated sites (headers with values, `absent`, unnamed, nginx-unsafe `$` values,
//! Apache-unsafe `${…}` values), every provider (nginx and Apache includes, `_headers` and
//! `.htaccess` blocks, an `exec` program's reported state), what siteward wrote earlier and
//! live responses: every `apply` step is made true by the file the
//! provider would write, every `propose`/`skip` step is left as it is, and every header the
//! new file treats differently from the old one is a planned `apply` (or already served as
//! desired, so nothing observable changes).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use crate::diff::{Desired, plan_site};
use crate::observe::live::{LiveSite, Page};
use crate::observe::managed::{Managed, verdict};
use crate::plan::{Action, Resource, Step};
use crate::provider::Provider;
use crate::spec::{ServerProvider, Site, SyncMode};
use crate::stage::{Command, stage_site};

const NAMES: [&str; 4] = ["X-A", "X-B", "X-C", "X-D"];
const VALUES: [&str; 3] = ["1", "two  words", "DENY"];

/// What a site file says about one header.
#[derive(Debug, Clone)]
enum Rule {
    Unnamed,
    Absent,
    Value(&'static str),
    /// A value nginx cannot write (`$` would be expanded).
    Dollar,
    /// A value neither nginx nor Apache can write (`${…}` would be expanded).
    Variable,
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(Rule::Unnamed),
        Just(Rule::Absent),
        (0..VALUES.len()).prop_map(|i| Rule::Value(VALUES[i])),
        Just(Rule::Dollar),
        Just(Rule::Variable),
    ]
}

/// A header value (or not sent).
fn sent() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), (0..VALUES.len()).prop_map(|i| Some(VALUES[i]))]
}

fn site(rules: &[Rule], sync: SyncMode, kind: ServerProvider) -> Site {
    let mut yaml = format!("name: p.test\nurl: https://p.test/\nsync: {sync}\nheaders:\n");
    for (name, r) in NAMES.iter().zip(rules) {
        match r {
            Rule::Unnamed => {}
            Rule::Absent => yaml.push_str(&format!("  {name}: absent\n")),
            Rule::Value(v) => yaml.push_str(&format!("  {name}: '{v}'\n")),
            Rule::Dollar => yaml.push_str(&format!("  {name}: '$remote_addr'\n")),
            Rule::Variable => yaml.push_str(&format!("  {name}: '${{HOME}}'\n")),
        }
    }
    yaml.push_str("  X-Fixed: '1'\n");
    let target = match kind {
        ServerProvider::Exec => "command: /opt/providers/panel",
        _ => "config: /srv/p/_headers",
    };
    yaml.push_str(&format!(
        "manage:\n  server:\n    provider: {kind}\n    {target}\n"
    ));
    let (state, problems) = crate::load::load_sources(&[crate::load::Source {
        path: "sites/p.test.yaml".into(),
        text: yaml,
    }]);
    assert!(problems.is_empty(), "{problems:?}");
    state.sites.into_values().next().expect("site")
}

/// The file siteward wrote earlier: an nginx or Apache include, a `_headers` file with
/// siteward's block after a rule of the site's own, or a `.htaccess` with siteward's block
/// before WordPress's.
fn file(set: &[Option<&str>], kind: ServerProvider) -> String {
    let set = NAMES.iter().zip(set).filter_map(|(n, v)| v.map(|v| (n, v)));
    match kind {
        ServerProvider::Nginx => {
            let mut text = "# managed by siteward — do not edit; site p.test\n".to_owned();
            for (name, v) in set {
                text.push_str(&format!("add_header {name} \"{v}\" always;\n"));
            }
            text
        }
        ServerProvider::HeadersFile => {
            let mut text = "/assets/*\n  X-A: mine\n\n# siteward:begin\n/*\n".to_owned();
            for (name, v) in set {
                text.push_str(&format!("  {name}: {v}\n"));
            }
            text.push_str("# siteward:end\n");
            text
        }
        ServerProvider::Apache => {
            let mut text = "# managed by siteward — do not edit; site p.test\n".to_owned();
            for (name, v) in set {
                text.push_str(&format!("Header always set {name} \"{v}\"\n"));
            }
            text
        }
        ServerProvider::Htaccess => {
            let mut text = "# BEGIN siteward\n<IfModule mod_headers.c>\n".to_owned();
            for (name, v) in set {
                text.push_str(&format!("Header always set {name} \"{v}\"\n"));
            }
            text.push_str("</IfModule>\n# END siteward\n\n");
            text.push_str(WORDPRESS);
            text
        }
        ServerProvider::Exec => {
            let headers: BTreeMap<String, &str> =
                set.map(|(n, v)| (n.to_ascii_lowercase(), v)).collect();
            let state = serde_json::json!({
                "resources": ["header", "redirect"], "headers": headers, "redirects": []
            });
            format!("{}\n", serde_json::to_string_pretty(&state).expect("json"))
        }
    }
}

/// WordPress's own block in a `.htaccess`, which must survive every apply byte for byte.
const WORDPRESS: &str = "# BEGIN WordPress\n<IfModule mod_rewrite.c>\nRewriteEngine On\n\
    RewriteRule ^index\\.php$ - [L]\nHeader always set X-A \"wp\"\n</IfModule>\n# END WordPress\n";

/// Header (lowercased) → value in siteward's part of a file.
fn values(text: &str, kind: ServerProvider) -> BTreeMap<String, String> {
    let owned = match kind {
        ServerProvider::Nginx | ServerProvider::Apache => text,
        ServerProvider::HeadersFile => text
            .split_once("# siteward:begin\n")
            .map_or("", |(_, rest)| rest),
        ServerProvider::Htaccess => text
            .split_once("# END siteward\n")
            .map_or("", |(block, _)| block),
        ServerProvider::Exec => {
            let state: serde_json::Value = serde_json::from_str(text).expect("exec state");
            return state["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
        }
    };
    owned
        .lines()
        .filter_map(|l| match kind {
            ServerProvider::Nginx => {
                let rest = l.strip_prefix("add_header ")?;
                let (name, rest) = rest.split_once(' ')?;
                let value = rest.strip_prefix('"')?.strip_suffix("\" always;")?;
                Some((name.to_ascii_lowercase(), value.to_owned()))
            }
            ServerProvider::HeadersFile => {
                let (name, value) = l.strip_prefix("  ")?.split_once(':')?;
                Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            }
            ServerProvider::Exec => None,
            ServerProvider::Apache | ServerProvider::Htaccess => {
                let rest = l.strip_prefix("Header always set ")?;
                let (name, rest) = rest.split_once(' ')?;
                let value = rest.strip_prefix('"')?.strip_suffix('"')?;
                Some((name.to_ascii_lowercase(), value.to_owned()))
            }
        })
        .collect()
}

fn squash(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn apply_steps_are_what_the_written_file_does(
        rules in proptest::collection::vec(rule(), 4),
        old in proptest::collection::vec(sent(), 4),
        live in proptest::collection::vec(sent(), 4),
        sync in prop_oneof![Just(SyncMode::Auto), Just(SyncMode::Propose), Just(SyncMode::Observe)],
        reconcile in any::<bool>(),
        kind in prop_oneof![
            Just(ServerProvider::Nginx),
            Just(ServerProvider::HeadersFile),
            Just(ServerProvider::Apache),
            Just(ServerProvider::Htaccess),
            Just(ServerProvider::Exec),
        ],
    ) {
        let site = site(&rules, sync, kind);
        let provider = Provider::for_site(&site, Path::new("/r")).unwrap().unwrap();
        let old_file = file(&old, kind);
        let view = provider
            .observe_text(&site, &old_file)
            .expect("view");
        let rendered = provider.render(&site, &Default::default());
        let mut page = Page { status: 200, ..Page::default() };
        for (name, v) in NAMES.iter().zip(&live) {
            if let Some(v) = v {
                page.headers.insert(name.to_ascii_lowercase(), vec![(*v).to_owned()]);
            }
        }
        page.headers.insert("x-fixed".into(), vec!["1".into()]);
        let live_site = LiveSite {
            site: "p.test".into(),
            page: Some(page.clone()),
            managed: Some(Box::new(Managed {
                provider: provider.clone(),
                view: view.clone(),
                render: rendered.as_ref().map(drop).map_err(|e| e.to_string()),
            })),
            ..LiveSite::default()
        };
        let secrets = BTreeMap::new();
        let run = crate::secret::RunSecrets::default();
        let d = Desired { site: &site, secrets: &secrets, run: &run };
        let mut plan = plan_site(&d, &live_site);
        let command = if reconcile { Command::Reconcile } else { Command::Apply };
        stage_site(&mut plan, command, site.sync, |c| verdict(&site, live_site.managed.as_deref(), None, c));

        let applying: Vec<_> = plan.changes.iter().filter(|c| c.step == Step::Apply).collect();
        // Observe sites are never applied; reconcile never applies propose sites.
        if sync == SyncMode::Observe || (reconcile && sync == SyncMode::Propose) {
            prop_assert!(applying.is_empty(), "{:?}", plan.changes);
        }
        for c in &plan.changes {
            prop_assert_eq!(c.applicable, verdict(&site, live_site.managed.as_deref(), None, c).is_ok());
            prop_assert_eq!(c.reason.is_none(), c.step == Step::Apply, "{:?}", c);
        }
        if applying.is_empty() {
            // Nothing is written: every change stays as it is.
            return Ok(());
        }
        let rendered = rendered.expect("an apply step implies the desired config renders");
        let new_file = crate::provider::kind(kind)
            .splice(Some(&old_file), rendered.full())
            .expect("splice");
        // Lines outside siteward's part stay byte for byte.
        if kind == ServerProvider::HeadersFile {
            prop_assert!(new_file.starts_with("/assets/*\n  X-A: mine\n"), "{new_file}");
        }
        if kind == ServerProvider::Htaccess {
            prop_assert!(new_file.ends_with(&format!("# END siteward\n\n{WORDPRESS}")), "{new_file}");
        }
        let (before, after) = (values(&old_file, kind), values(&new_file, kind));
        for c in &applying {
            prop_assert_eq!(c.resource, Resource::Header);
            match c.action {
                Action::Remove => prop_assert!(!after.contains_key(&c.key), "{:?}", c),
                _ => prop_assert_eq!(
                    after.get(&c.key).map(|v| squash(v)),
                    c.desired.as_deref().map(squash),
                    "{:?}", c
                ),
            }
        }
        for c in plan.changes.iter().filter(|c| c.step != Step::Apply) {
            // Not applied: siteward's file treats the header as before.
            prop_assert_eq!(before.get(&c.key), after.get(&c.key), "{:?}", c);
        }
        for name in NAMES.iter().map(|n| n.to_ascii_lowercase()) {
            if before.get(&name) == after.get(&name) {
                continue;
            }
            let planned = applying.iter().any(|c| c.key == name);
            let served_as_desired = page.header(&name).map(|v| squash(&v))
                == after.get(&name).map(|v| squash(v));
            prop_assert!(
                planned || served_as_desired,
                "`{name}` changes in the file ({:?} → {:?}) without a planned apply: {:?}",
                before.get(&name), after.get(&name), plan.changes
            );
        }
    }
}
