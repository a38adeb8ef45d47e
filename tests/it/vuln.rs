//! Issue 11: known-vulnerable versions and update proposals, end to end with the real binary,
//! a real nginx serving a WordPress fingerprint and a real git repo. The feed is the sample in
//! `examples/vulnerabilities/`, copied unchanged.

use std::path::Path;

use serde_json::Value;
use siteward::pki::{Ca, Validity};

use super::support::nginx::{Nginx, Vhost};
use super::support::{Repo, refused_port};

/// A WordPress 6.4.1 with Contact Form 7 5.8.3 (readme) and WooCommerce whose version cannot
/// be told (no readme, no assets).
fn wordpress(root: &Ca) -> Nginx {
    let mid = root.intermediate("siteward vuln mid").expect("mid");
    let mut v = Vhost::new(
        "wp.test",
        mid.leaf(&["wp.test"], Validity::days(90)).expect("leaf"),
    );
    v.chain.push(mid.cert_pem.clone());
    v.files = vec![
        (
            "index.html".into(),
            "<html><head><meta name=\"generator\" content=\"WordPress 6.4.1\" /></head><body>wp</body></html>\n"
                .into(),
        ),
        (
            "feed/index.html".into(),
            "<rss><channel><generator>https://wordpress.org/?v=6.4.1</generator></channel></rss>\n".into(),
        ),
        (
            "wp-content/plugins/contact-form-7/readme.txt".into(),
            "=== Contact Form 7 ===\nStable tag: 5.8.3\n".into(),
        ),
    ];
    Nginx::start(&[v])
}

/// The site file: comments, mixed quoting and a flow mapping, so that an in-place edit that
/// touches anything but the version strings shows.
fn site_yaml(nginx: &Nginx) -> String {
    format!(
        "# yaml-language-server: $schema=../siteward.schema.json\n\
# Owned by the web team; bump versions through proposals.\n\
name: wp.test\n\
url: https://wp.test/\n\
connect: {}      # origin\n\
connect_http: {}\n\
ca: ca.pem\n\
software:\n\
\x20 platform: wordpress\n\
\x20 core: '6.4.1'          # December release\n\
\x20 plugins:\n\
\x20   contact-form-7: \"5.8.3\"   # forms\n\
\x20   woocommerce: {{version: 8.5.2, active: true}}\n",
        nginx.https_addr(),
        nginx.http_addr()
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

fn repo_with_feed(root: &Ca, settings: &str) -> Repo {
    let repo = Repo::new();
    repo.write("ca.pem", &root.cert_pem);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/vulnerabilities"),
        &repo.path().join("feed"),
    );
    repo.write(
        "siteward.yaml",
        &format!("vulnerabilities: feed\n{settings}"),
    );
    repo
}

fn vulns(site: &Value) -> Vec<(String, String, Value, Value, String)> {
    site["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities")
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}",
                    v["kind"].as_str().unwrap(),
                    v["slug"].as_str().unwrap()
                ),
                v["installed"].clone(),
                v["fixed"].clone(),
                v["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn issue_11_vulnerable_versions_are_flagged_in_plan_and_check_with_the_fixed_version() {
    let root = Ca::new("siteward vuln root").expect("root");
    let nginx = wordpress(&root);
    let repo = repo_with_feed(&root, "");
    repo.write("sites/wp.test.yaml", &site_yaml(&nginx));

    let r = repo.run(&["plan", "--format", "json"]);
    // Live matches desired (woocommerce's version cannot be told, so it is not drift).
    r.expect_code(0);
    let plan = r.json();
    assert_eq!(
        vulns(&plan["sites"][0]),
        [
            (
                "SWV-2023-0001".into(),
                "core wordpress".into(),
                "6.4.1".into(),
                "6.4.2".into(),
                "high".into()
            ),
            (
                "SWV-2023-0002".into(),
                "plugin contact-form-7".into(),
                "5.8.3".into(),
                "5.8.4".into(),
                "high".into()
            ),
            // Unknown is never safe: listed with the fix it would need.
            (
                "SWV-2021-0004".into(),
                "plugin woocommerce".into(),
                Value::Null,
                "5.5.1".into(),
                "high".into()
            ),
        ],
        "{:#}",
        plan["sites"][0]
    );
    let text = repo.run(&["plan"]).stdout;
    assert!(
        text.contains("vulnerable: plugin contact-form-7 5.8.3: SWV-2023-0002 (high); upgrade to 5.8.4 or later"),
        "{text}"
    );
    assert!(
        text.contains("possibly vulnerable: plugin woocommerce (version unknown)"),
        "{text}"
    );
    let md = repo.run(&["plan", "--format", "markdown"]).stdout;
    assert!(md.contains("SWV-2023-0002"), "{md}");

    let r = repo.run(&["check", "--format", "json"]);
    r.expect_code(2);
    let check = r.json();
    let findings = check["sites"][0]["findings"].as_array().expect("findings");
    let by_rule = |rule: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("no finding {rule}: {findings:#?}"))
    };
    let cf7 = by_rule("SWV-2023-0002");
    assert_eq!(cf7["severity"], "high");
    assert!(
        cf7["message"].as_str().unwrap().contains("CVE-2023-6449"),
        "{cf7}"
    );
    assert_eq!(
        cf7["advice"],
        "upgrade `contact-form-7` to 5.8.4 or later (fixed in 5.8.4); \
         see https://www.cve.org/CVERecord?id=CVE-2023-6449"
    );
    assert!(
        cf7["message"]
            .as_str()
            .unwrap()
            .ends_with("[CVSS 7.2, published 2023-11-30]"),
        "{cf7}"
    );
    assert!(
        by_rule("SWV-2023-0001")["advice"]
            .as_str()
            .unwrap()
            .contains("6.4.2")
    );
    let unknown = by_rule("vulnerability-unknown");
    assert_eq!(unknown["severity"], "medium");
    assert!(
        unknown["message"].as_str().unwrap().contains("woocommerce")
            && unknown["message"].as_str().unwrap().contains("unknown"),
        "{unknown}"
    );
}

#[test]
fn issue_11_a_bad_feed_is_located_and_nothing_is_observed() {
    let root = Ca::new("siteward vuln root").expect("root");
    let repo = repo_with_feed(&root, "");
    repo.write(
        "feed/broken.json",
        "{\"id\": \"X-1\", \"affected\": [{\"package\": {\"ecosystem\": \"wordpress-plugin\", \"name\": \"x\"},\n\
         \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"fixed\": \"soon\"}]}]}]}\n",
    );
    let dead = refused_port();
    repo.write(
        "sites/a.test.yaml",
        &format!(
            "name: a.test\nurl: https://a.test/\nconnect: 127.0.0.1:{}\n",
            dead.port
        ),
    );
    let r = repo.run(&["plan"]);
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("feed/broken.json:2:55: X-1: fixed: `soon` is not a version"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "nothing planned: {}", r.stdout);
    // Plain http is refused where it is written.
    repo.write(
        "siteward.yaml",
        "vulnerabilities: http://feeds.example/osv.json\n",
    );
    let r = repo.run(&["validate"]);
    r.expect_code(1);
    assert!(
        r.stdout.contains(
            "siteward.yaml:1:18: vulnerabilities: `http://feeds.example/osv.json`: only https URLs are fetched"
        ),
        "{}",
        r.stdout
    );
    // A bad `updates.min_age` too.
    repo.write("siteward.yaml", "updates: {min_age: soon}\n");
    let r = repo.run(&["validate"]);
    r.expect_code(1);
    assert!(
        r.stdout.contains("siteward.yaml:1:20: updates.min_age:"),
        "{}",
        r.stdout
    );
}

fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn branch_file(repo: &Repo, path: &str) -> String {
    repo.git(&["show", &format!("siteward-proposals/wp.test:{path}")])
}

#[test]
fn issue_11_update_proposals_edit_only_versions_hold_fresh_releases_dedupe_and_resolve() {
    let root = Ca::new("siteward vuln root").expect("root");
    let nginx = wordpress(&root);
    let repo = repo_with_feed(&root, "updates: {source: releases.json, min_age: 7d}\n");
    let original = site_yaml(&nginx);
    repo.write("sites/wp.test.yaml", &original);
    repo.write(
        "releases.json",
        &format!(
            r#"{{"core": [
  {{"version": "6.4.2", "released": "{}", "url": "https://wordpress.org/news/2023/12/wordpress-6-4-2/"}},
  {{"version": "6.4.3", "released": "{}"}}],
 "plugins": {{
  "contact-form-7": [{{"version": "5.8.4", "released": "{}", "url": "https://wordpress.org/plugins/contact-form-7/"}}],
  "woocommerce": [{{"version": "8.6.0", "released": "{}"}}]}}}}"#,
            days_ago(2),
            days_ago(1),
            days_ago(30),
            days_ago(1)
        ),
    );
    repo.commit_all("fleet");

    let r = repo.run(&["reconcile"]);
    r.expect_code(2); // a proposal was made
    let md = branch_file(&repo, "UPDATES.md");
    assert!(
        md.starts_with("# Security update. Update wp.test: 2 version bump(s)"),
        "{md}"
    );
    assert!(md.contains("Status: open"), "{md}");
    // 6.4.2 is 2 days old but fixes SWV-2023-0001: the age gate is skipped.
    assert!(
        md.contains("| core | `wordpress` | `6.4.1` | `6.4.2` |")
            && md.contains("fixes SWV-2023-0001"),
        "{md}"
    );
    assert!(
        md.contains("| plugin | `contact-form-7` | `5.8.3` | `5.8.4` |"),
        "{md}"
    );
    // Fresh releases without a security reason are held back.
    assert!(md.contains("## Held back"), "{md}");
    assert!(
        md.contains("`6.4.3`") && md.contains("`woocommerce` `8.6.0`"),
        "{md}"
    );
    // The site file on the branch: only the two version strings differ, every other byte stays.
    let edited = branch_file(&repo, "sites/wp.test.yaml");
    assert_eq!(
        edited,
        original
            .replace("core: '6.4.1'", "core: '6.4.2'")
            .replace("contact-form-7: \"5.8.3\"", "contact-form-7: \"5.8.4\"")
    );
    let json: Value = serde_json::from_str(&branch_file(&repo, "updates.json")).expect("json");
    assert_eq!(json["bumps"][1]["security"][0], "SWV-2023-0002");
    let tip = repo.git(&["rev-parse", "siteward-proposals/wp.test"]);
    let record = repo.git(&["log", "-1", "--format=%B", "siteward-audit"]);
    assert!(record.contains("wp.test"), "{record}");

    // The same proposal is not written twice.
    repo.run(&["reconcile"]).expect_code(0);
    assert_eq!(repo.git(&["rev-parse", "siteward-proposals/wp.test"]), tip);

    // Listed across the fleet.
    let r = repo.run(&["proposals"]);
    r.expect_code(0);
    assert!(r.stdout.contains("wp.test  updates  open"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("plugin contact-form-7: 5.8.3 → 5.8.4  security: fixes SWV-2023-0002"),
        "{}",
        r.stdout
    );
    let listed = repo.run(&["proposals", "--format", "json"]).json();
    assert_eq!(listed["proposals"][0]["kind"], "updates");
    assert_eq!(listed["proposals"][0]["bumps"][0]["to"], "6.4.2");
    let md_out = repo.run(&["proposals", "--format", "markdown"]).stdout;
    assert_eq!(
        md_out.trim_end(),
        md.trim_end(),
        "the Markdown is the PR description"
    );

    // The main branch takes the proposal: resolved by the next run.
    repo.git(&[
        "checkout",
        "siteward-proposals/wp.test",
        "--",
        "sites/wp.test.yaml",
    ]);
    repo.commit_all("take the update proposal");
    // Live is still 6.4.1: drift now, reported (sync: observe) — and the proposal is resolved.
    repo.run(&["reconcile"]).expect_code(2);
    assert!(branch_file(&repo, "UPDATES.md").contains("Status: resolved"));
    let r = repo.run(&["proposals"]);
    assert!(r.stdout.contains("0 open proposal(s)"), "{}", r.stdout);
    let r = repo.run(&["proposals", "--all"]);
    assert!(
        r.stdout.contains("wp.test  updates  resolved"),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_11_a_policy_turns_updates_on_for_its_sites_and_bad_keys_are_located() {
    let root = Ca::new("siteward vuln root").expect("root");
    let nginx = wordpress(&root);
    // No `updates:` in siteward.yaml: the policy's `software.updates` turns them on, without an
    // age gate.
    let repo = repo_with_feed(&root, "");
    repo.write(
        "policies/wordpress.yaml",
        "name: wordpress\ndefaults:\n  software:\n    updates: {source: releases.json}\n",
    );
    let original = site_yaml(&nginx).replace("ca: ca.pem\n", "ca: ca.pem\npolicies: [wordpress]\n");
    repo.write("sites/wp.test.yaml", &original);
    repo.write(
        "releases.json",
        &format!(
            r#"{{"plugins": {{"woocommerce": [{{"version": "8.6.0", "released": "{}"}}]}}}}"#,
            days_ago(0)
        ),
    );
    repo.commit_all("fleet");
    repo.run(&["reconcile"]).expect_code(2);
    let md = branch_file(&repo, "UPDATES.md");
    assert!(
        md.starts_with("# Update wp.test: 1 version bump(s)"),
        "{md}"
    );
    assert_eq!(
        branch_file(&repo, "sites/wp.test.yaml"),
        original.replace(
            "{version: 8.5.2, active: true}",
            "{version: 8.6.0, active: true}"
        )
    );

    repo.write(
        "policies/wordpress.yaml",
        "name: wordpress\ndefaults:\n  software:\n    updates: {source: releases.json, min_ag: 3d}\n",
    );
    let r = repo.run(&["validate"]);
    r.expect_code(1);
    assert!(
        r.stdout
            .contains("policies/wordpress.yaml:4:38: unknown key `min_ag` in software.updates")
            && r.stdout.contains("did you mean `min_age`?"),
        "{}",
        r.stdout
    );
}
