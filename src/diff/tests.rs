//! Unit tests of the pure diff, on sites loaded from YAML text and hand-made observations.

use std::collections::BTreeMap;

use super::*;
use crate::load::{Source, load_sources};
use crate::observe::live::{Detected, Hop, Page, RedirectObservation, SoftwareObservation};

fn site(yaml: &str) -> Site {
    let name = yaml
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap()
        .to_owned();
    let (state, problems) = load_sources(&[Source {
        path: format!("sites/{name}.yaml"),
        text: yaml.to_owned(),
    }]);
    assert!(problems.is_empty(), "{problems:?}");
    state.sites.into_values().next().unwrap()
}

fn page(headers: &[(&str, &str)]) -> Page {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    Page {
        status: 200,
        headers: map,
        ms: 12,
    }
}

fn live(p: Page) -> LiveSite {
    LiveSite {
        site: "a".into(),
        page: Some(p),
        ..LiveSite::default()
    }
}

const HEADERS: &str = "name: a\nurl: http://a.test/\nallow_http: true\nheaders:\n  \
X-Frame-Options: DENY\n  Strict-Transport-Security: max-age=31536000; includeSubDomains\n  \
X-Powered-By: absent\n  X-Token: env:SITEWARD_UNIT_TOKEN\n";

fn secrets() -> crate::secret::SiteSecrets {
    BTreeMap::from([(
        "x-token".to_owned(),
        crate::secret::Secret::new("s3cret value".to_owned()),
    )])
}

#[test]
fn headers_in_sync_despite_order_case_and_whitespace() {
    let s = site(HEADERS);
    let sec = secrets();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let l = live(page(&[
        ("x-frame-options", " DENY"),
        (
            "strict-transport-security",
            "includesubdomains;max-age=31536000",
        ),
        ("x-token", "s3cret   value"),
    ]));
    let p = plan_site(&d, &l);
    assert_eq!(p.changes, vec![]);
    assert_eq!(p.sync, SyncStatus::InSync);
    assert_eq!(p.health, crate::plan::Health::Healthy);
}

#[test]
fn header_add_change_remove_and_secrets_hashed() {
    let s = site(HEADERS);
    let sec = secrets();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let l = live(page(&[
        ("x-frame-options", "SAMEORIGIN"),
        ("x-powered-by", "PHP/8.2"),
        ("x-token", "old secret"),
    ]));
    let p = plan_site(&d, &l);
    let by_key: BTreeMap<&str, &Change> = p.changes.iter().map(|c| (c.key.as_str(), c)).collect();
    assert_eq!(by_key["x-frame-options"].action, Action::Change);
    assert_eq!(by_key["strict-transport-security"].action, Action::Add);
    assert_eq!(by_key["x-powered-by"].action, Action::Remove);
    assert_eq!(by_key["x-powered-by"].desired, None);
    let token = by_key["x-token"];
    assert_eq!(token.action, Action::Change);
    for shown in [&token.live, &token.desired] {
        let shown = shown.as_deref().unwrap();
        assert!(shown.starts_with("<secret sha256:"), "{shown}");
    }
    let everything = format!(
        "{}{}",
        serde_json::to_string(&p).unwrap(),
        live_canon(&d, &l).unwrap().to_yaml()
    ) + &desired_canon(&d).to_yaml();
    assert!(!everything.contains("s3cret") && !everything.contains("old secret"));
    assert_eq!(p.sync, SyncStatus::Drift);
    assert!(
        p.changes
            .iter()
            .all(|c| c.provider.is_none() && !c.applicable)
    );
}

#[test]
fn providers_and_applicability() {
    let s = site(
        "name: a\nurl: https://a.test/\nheaders:\n  X-Frame-Options: DENY\n\
manage:\n  server:\n    provider: nginx\n    config: /etc/nginx/a.conf\n",
    );
    let sec = crate::secret::SiteSecrets::new();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let p = plan_site(&d, &live(page(&[])));
    assert_eq!(p.changes[0].provider.as_deref(), Some("nginx"));
    // Whether it can be applied is the plan stage's call, not the diff's.
    assert!(!p.changes[0].applicable);
}

#[test]
fn headers_siteward_still_sets_are_planned_removes() {
    let s = site(
        "name: a\nurl: https://a.test/\nheaders:\n  X-Frame-Options: DENY\n\
manage:\n  server:\n    provider: nginx\n    config: /etc/nginx/a.conf\n",
    );
    let sec = crate::secret::SiteSecrets::new();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let provider = crate::provider::Provider::for_site(&s, std::path::Path::new("/r"))
        .unwrap()
        .unwrap();
    let mut view = crate::provider::View::default();
    view.headers.insert("x-frame-options".into());
    view.headers.insert("x-retired".into());
    let mut l = live(page(&[("x-frame-options", "DENY"), ("x-retired", "1")]));
    l.managed = Some(Box::new(crate::observe::managed::Managed {
        provider,
        view,
        render: Ok(()),
    }));
    let p = plan_site(&d, &l);
    assert_eq!(p.sync, SyncStatus::Drift);
    assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
    let c = &p.changes[0];
    assert_eq!(
        (
            c.key.as_str(),
            c.action,
            c.live.as_deref(),
            c.desired.as_deref()
        ),
        ("x-retired", Action::Remove, Some("1"), None)
    );
}

#[test]
fn redirects_missing_and_wrong() {
    let s = site(
        "name: a\nurl: https://a.test/\ncertificate: {domains: [a.test, '*.a.test']}\n\
redirects:\n  - {from: 'http://a.test/', to: 'https://a.test/', status: 301}\n  \
- {from: 'http://www.a.test/', to: 'https://a.test/', status: 301}\n  \
- {from: 'http://old.a.test/', to: 'https://a.test/', status: 301}\n",
    );
    let sec = crate::secret::SiteSecrets::new();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let hop = |url: &str, status, loc: Option<&str>| Hop {
        url: url.into(),
        status,
        location: loc.map(str::to_owned),
    };
    let mut l = live(page(&[]));
    l.redirects = vec![
        RedirectObservation {
            from: "http://a.test/".into(),
            hops: vec![hop("http://a.test/", 301, Some("https://a.test/"))],
            error: None,
        },
        RedirectObservation {
            from: "http://www.a.test/".into(),
            hops: vec![hop("http://www.a.test/", 302, Some("https://a.test/"))],
            error: None,
        },
        RedirectObservation {
            from: "http://old.a.test/".into(),
            hops: vec![hop("http://old.a.test/", 200, None)],
            error: None,
        },
    ];
    let p = plan_site(&d, &l);
    let got: Vec<(&str, Action)> = p
        .changes
        .iter()
        .map(|c| (c.key.as_str(), c.action))
        .collect();
    assert_eq!(
        got,
        [
            ("http://www.a.test/", Action::Change),
            ("http://old.a.test/", Action::Add)
        ]
    );
    assert_eq!(p.changes[0].live.as_deref(), Some("302 https://a.test/"));
}

#[test]
fn software_unknown_is_never_drift() {
    let s = site(
        "name: a\nurl: https://a.test/\nsoftware:\n  platform: wordpress\n  core: '>=6.4, <7'\n  \
plugins:\n    akismet: '5.3'\n    hello-dolly: absent\n    wordfence: '7.11.1'\n",
    );
    let sec = crate::secret::SiteSecrets::new();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let known = |v: &str| Detected {
        version: Some(v.into()),
        confidence: 0.9,
        found: true,
        ..Detected::default()
    };
    let mut l = live(page(&[]));
    l.software = Some(SoftwareObservation {
        core: known("6.5.2"),
        plugins: BTreeMap::from([
            ("akismet".into(), known("5.0.2")),
            ("hello-dolly".into(), known("1.7.2")),
            (
                "wordfence".into(),
                Detected {
                    unknown_reason: Some("conflicting evidence".into()),
                    found: true,
                    ..Detected::default()
                },
            ),
        ]),
        themes: BTreeMap::new(),
        source: None,
    });
    let p = plan_site(&d, &l);
    let got: Vec<(Resource, &str, Action)> = p
        .changes
        .iter()
        .map(|c| (c.resource, c.key.as_str(), c.action))
        .collect();
    assert_eq!(
        got,
        [
            (Resource::Plugin, "akismet", Action::Change),
            (Resource::Plugin, "hello-dolly", Action::Remove)
        ]
    );
}

#[test]
fn digests_are_stable_and_ignore_timings() {
    let s = site(HEADERS);
    let sec = secrets();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let mut a = live(page(&[("x-frame-options", "DENY")]));
    let first = plan_site(&d, &a);
    a.page.as_mut().unwrap().ms = 999;
    a.page
        .as_mut()
        .unwrap()
        .headers
        .insert("date".into(), vec!["Tue, 01 Jan 2030 00:00:00 GMT".into()]);
    let second = plan_site(&d, &a);
    assert_eq!(first.observed_sha256, second.observed_sha256);
    assert_eq!(first.desired_sha256, second.desired_sha256);
    let changed = plan_site(&d, &live(page(&[("x-frame-options", "SAMEORIGIN")])));
    assert_ne!(first.observed_sha256, changed.observed_sha256);
    // Unobservable: no observed digest, unknown, never drift.
    let down = LiveSite {
        error: Some("refused".into()),
        unreachable: true,
        ..LiveSite::default()
    };
    let p = plan_site(&d, &down);
    assert_eq!(
        (p.sync, p.observed_sha256, p.changes.len()),
        (SyncStatus::Unknown, None, 0)
    );
    assert_eq!(p.health, crate::plan::Health::Down);
}

#[test]
fn desired_digest_covers_how_a_site_is_managed() {
    let sec = secrets();
    let base = site(HEADERS);
    let managed = site(&format!(
        "{HEADERS}manage:\n  server:\n    provider: nginx\n    config: /etc/nginx/a.conf\n    reload_command: sudo systemctl reload nginx\n"
    ));
    let digest = |s: &Site| {
        plan_site(
            &Desired {
                site: s,
                secrets: &sec,
                run: &crate::secret::RunSecrets::default(),
            },
            &live(page(&[])),
        )
        .desired_sha256
    };
    assert_ne!(
        digest(&base),
        digest(&managed),
        "a changed reload command is a changed desired state"
    );
    assert_eq!(digest(&managed), digest(&managed.clone()));
}

#[test]
fn issue_16_an_unanswered_redirect_source_is_unknown_not_drift() {
    let s = site(
        "name: a\nurl: https://a.test/\nconnect: 127.0.0.1:8443\nconnect_http: 127.0.0.1:9\n\
redirects:\n  - {from: 'http://a.test/', to: 'https://a.test/', status: 301}\n",
    );
    let sec = BTreeMap::new();
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &crate::secret::RunSecrets::default(),
    };
    let mut l = live(page(&[]));
    l.redirects = vec![RedirectObservation {
        from: "http://a.test/".into(),
        hops: vec![],
        error: Some("cannot connect to http://a.test/: connection refused".into()),
    }];
    let p = plan_site(&d, &l);
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert_eq!(p.unobserved, ["redirect http://a.test/"]);
    assert_eq!(
        p.warnings,
        [
            "redirect from `http://a.test/` could not be observed (requested at `127.0.0.1:9` from \
          `connect_http`): cannot connect to http://a.test/: connection refused; it is unknown, \
          not drift, and nothing is planned for it"
        ]
    );
}

#[test]
fn credential_like_and_run_secret_live_values_are_digests() {
    let s = site(
        "name: a\nurl: https://a.test/\nheaders:\n  X-Powered-By: absent\n  X-Api-Key: absent\n  \
X-Auth-Token: public\n  X-Retired: absent\n",
    );
    let sec = crate::secret::SiteSecrets::new();
    // Another site of the same run still uses the value this site retired.
    let other = crate::secret::RunSecrets::of_site(
        "b",
        BTreeMap::from([(
            "x-key".to_owned(),
            crate::secret::Secret::new("retired  s3cret".to_owned()),
        )]),
    );
    let d = Desired {
        site: &s,
        secrets: &sec,
        run: &other,
    };
    let l = live(page(&[
        ("x-powered-by", "PHP/7.4.3"),
        ("x-api-key", "s3cret-token"),
        ("x-auth-token", "old-secret"),
        ("x-retired", "retired s3cret"),
    ]));
    let p = plan_site(&d, &l);
    let shown = |key: &str| {
        p.changes
            .iter()
            .find(|c| c.key == key)
            .and_then(|c| c.live.clone())
            .unwrap_or_default()
    };
    assert_eq!(shown("x-powered-by"), "PHP/7.4.3");
    for key in ["x-api-key", "x-auth-token", "x-retired"] {
        assert!(
            shown(key).starts_with("<secret sha256:"),
            "{key}: {}",
            shown(key)
        );
    }
    let everything = serde_json::to_string(&p).unwrap() + &live_canon(&d, &l).unwrap().to_yaml();
    assert!(!everything.contains("s3cret") && !everything.contains("old-secret"));
}
