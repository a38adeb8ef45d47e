//! The `wordpress` software provider (`via: php`) against real WordPress: Debian's tree with
//! php-fpm behind nginx over HTTPS and a private MariaDB, plugin zips built by the tests.
//! The inventory equals what WordPress itself reports; install, upgrade, downgrade, activate,
//! deactivate and delete; a zip with the wrong sha256 is refused and nothing changes; a plugin
//! that breaks the site is rolled back and the site answers again; maintenance mode never
//! stays on; the same over a real sshd; core updated from a pinned core zip, or rolled back.

use std::path::PathBuf;

use serde_json::json;

use super::acme::last_record;
use super::reconcile::{results, site_record};
use super::support::sshd::Sshd;
use super::support::wordpress::{CORE_ZIP_MARKER, HOST, Wordpress, core_zip};
use super::support::{Repo, wait};

/// A plugin that answers normally.
const FINE: &str = "add_action('wp_footer', function () { echo 'fine'; });";
/// A plugin whose code fails on load: every request answers 500.
const FATAL: &str = "siteward_test_undefined_function();";

/// WordPress and a state repo whose package directory is `packages/`.
struct Setup {
    wp: Wordpress,
    repo: Repo,
    /// The transport keys of `manage.software` (empty: local).
    transport: String,
}

impl Setup {
    fn start() -> Setup {
        Setup::with_transport(String::new())
    }

    fn with_transport(transport: String) -> Setup {
        let wp = Wordpress::start();
        let repo = Repo::new();
        repo.write("ca.pem", &wp.ca_pem);
        std::fs::create_dir_all(repo.path().join("packages")).expect("packages dir");
        Setup {
            wp,
            repo,
            transport,
        }
    }

    fn packages(&self) -> PathBuf {
        self.repo.path().join("packages")
    }

    /// Builds `packages/<slug>-<version>.zip`; returns its sha256.
    fn zip(&self, slug: &str, version: &str, body: &str) -> String {
        Wordpress::plugin_zip(&self.packages(), slug, version, body)
    }

    /// Writes the site with these `software` lines (indented by two) and commits.
    fn site(&self, software: &str) {
        let yaml = format!(
            "name: {HOST}\nurl: {url}/\nsync: auto\nconnect: {addr}\nca: ca.pem\n\
             software:\n  platform: wordpress\n  packages: packages\n{software}\
             checks:\n  - {{name: home, path: /, status: 200}}\n\
             manage:\n  software:\n    provider: wordpress\n    path: {root}\n    user: www-data\n{transport}",
            url = self.wp.url(),
            addr = self.wp.nginx.https_addr(),
            root = self.wp.root().display(),
            transport = self.transport,
        );
        self.repo.write(&format!("sites/{HOST}.yaml"), &yaml);
        self.repo.commit_all("desired state");
    }

    fn plan(&self) -> serde_json::Value {
        self.repo.run(&["plan", "--format", "json"]).json()
    }

    /// Asserts no maintenance file and no backup directory is left behind.
    #[track_caller]
    fn clean(&self) {
        assert!(!self.wp.in_maintenance(), "maintenance mode left on");
        let backups = self.wp.root().join("wp-content/siteward-backups");
        assert!(
            !backups.exists(),
            "backups left behind in {}",
            backups.display()
        );
    }
}

pub(super) fn changes(plan: &serde_json::Value) -> Vec<serde_json::Value> {
    plan["sites"][0]["changes"]
        .as_array()
        .expect("changes")
        .clone()
}

#[test]
fn the_inventory_is_what_wordpress_itself_reports() {
    let s = Setup::start();
    // Installed and activated behind siteward's back, by WordPress's own functions.
    s.zip("alpha", "1.2.3", FINE);
    s.zip("beta", "0.9.0", FINE);
    for slug in ["alpha", "beta"] {
        let zip = s.packages().join(if slug == "alpha" {
            "alpha-1.2.3.zip"
        } else {
            "beta-0.9.0.zip"
        });
        std::process::Command::new("unzip")
            .args(["-q", "-o"])
            .arg(&zip)
            .arg("-d")
            .arg(s.wp.root().join("wp-content/plugins"))
            .status()
            .expect("unzip");
    }
    std::process::Command::new("chown")
        .args(["-R", "www-data:www-data"])
        .arg(s.wp.root().join("wp-content/plugins"))
        .status()
        .expect("chown");
    s.wp.php_json("activate_plugin('alpha/alpha.php'); echo 'null';");

    // The desired state is exactly what WordPress reports, asked independently.
    let plugins = s.wp.plugins();
    let active = s.wp.active_plugins();
    let theme = s.wp.php_json(
        "echo json_encode(array(get_option('stylesheet'), wp_get_theme()->get('Version')));",
    );
    let core = s.wp.php_json("echo json_encode($GLOBALS['wp_version']);");
    let mut lines = format!("  core: \"{}\"\n  plugins:\n", core.as_str().unwrap());
    for (file, version) in plugins.as_object().expect("plugins") {
        let slug = file.split('/').next().unwrap();
        let on = active.as_array().unwrap().iter().any(|a| a == file);
        lines.push_str(&format!(
            "    {slug}: {{version: \"{}\", active: {on}}}\n",
            version.as_str().unwrap()
        ));
    }
    lines.push_str(&format!(
        "  themes:\n    {}: {{version: \"{}\", active: true}}\n",
        theme[0].as_str().unwrap(),
        theme[1].as_str().unwrap()
    ));
    s.site(&lines);
    s.repo.write("siteward.yaml", "vulnerabilities: osv.json\n");
    s.repo.write(
        "osv.json",
        r#"{"id": "TEST-1", "affected": [{"package": {"ecosystem": "wordpress-plugin", "name": "alpha"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]}"#,
    );
    let plan = s.plan();
    assert_eq!(plan["sites"][0]["sync"], "in_sync", "{plan:#}");
    assert_eq!(changes(&plan).len(), 0);
    // The plan names the provider as the source of what it saw.
    assert_eq!(plan["sites"][0]["software_source"], "wordpress via php");
    // Installed versions from the inventory flow into vulnerability flagging.
    let vulns = &plan["sites"][0]["vulnerabilities"];
    assert_eq!(vulns.as_array().map(Vec::len), Some(1), "{vulns:#}");
    assert_eq!(
        (
            &vulns[0]["slug"],
            &vulns[0]["installed"],
            &vulns[0]["fixed"]
        ),
        (&json!("alpha"), &json!("1.2.3"), &json!("1.3.0"))
    );
    let text = s.repo.run(&["plan"]);
    assert!(
        text.stdout
            .contains("software as listed by wordpress via php"),
        "{}",
        text.stdout
    );

    // Changed behind siteward's back again: exactly that is drift, as WordPress says it.
    s.wp.php_json("deactivate_plugins(array('alpha/alpha.php')); echo 'null';");
    let plan = s.plan();
    let c = changes(&plan);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(
        (c[0]["resource"].as_str(), c[0]["key"].as_str()),
        (Some("plugin"), Some("alpha"))
    );
    assert_eq!(c[0]["live"], "1.2.3 (inactive)");
    assert_eq!(c[0]["desired"], "1.2.3 (active)");
    assert_eq!(c[0]["step"], "apply", "{:#}", c[0]);

    // Maintenance mode, as WordPress itself would set it, is reported.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let maintenance = s.wp.root().join(".maintenance");
    std::fs::write(&maintenance, format!("<?php $upgrading = {now}; ?>")).expect("maintenance");
    let warnings = s.plan()["sites"][0]["warnings"].clone();
    assert!(
        warnings
            .to_string()
            .contains("WordPress is in maintenance mode"),
        "{warnings:#}"
    );
    std::fs::remove_file(maintenance).expect("maintenance off");
}

#[test]
fn install_upgrade_downgrade_activate_deactivate_and_delete() {
    let s = Setup::start();
    let v1 = s.zip("hello", "1.0.0", FINE);
    let v2 = s.zip("hello", "1.1.0", FINE);
    let step = |software: String, version: Option<&str>, active: bool| {
        s.site(&software);
        s.repo.run(&["apply"]).expect_code(0);
        let plugins = s.wp.plugins();
        assert_eq!(
            plugins.get("hello/hello.php").and_then(|v| v.as_str()),
            version,
            "{plugins}"
        );
        let on =
            s.wp.active_plugins()
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "hello/hello.php");
        assert_eq!(on, active);
        s.clean();
        // Idempotent: a second plan finds nothing to do.
        assert_eq!(s.plan()["sites"][0]["sync"], "in_sync");
    };
    let want = |v: &str, sha: &str, active: bool| {
        format!("  plugins:\n    hello: {{version: \"{v}\", sha256: {sha}, active: {active}}}\n")
    };
    // Install and activate.
    step(want("1.0.0", &v1, true), Some("1.0.0"), true);
    let record = last_record(&s.repo);
    let site = site_record(&record, HOST);
    assert_eq!(results(site), ["applied"]);
    assert!(
        site["actions"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "installed plugin `hello` 1.0.0 (sha256 {v1}), active"
            ))
    );
    // Upgrade: stays active.
    step(want("1.1.0", &v2, true), Some("1.1.0"), true);
    // Downgrade.
    step(want("1.0.0", &v1, true), Some("1.0.0"), true);
    // Deactivate only.
    step(want("1.0.0", &v1, false), Some("1.0.0"), false);
    // Delete: only because `absent` is written.
    step("  plugins:\n    hello: absent\n".to_owned(), None, false);
    assert!(!s.wp.root().join("wp-content/plugins/hello").exists());
}

#[test]
fn a_wrong_sha256_or_an_unpinned_zip_is_refused_and_nothing_changes() {
    let s = Setup::start();
    s.zip("hello", "1.0.0", FINE);
    let before = s.wp.plugins();
    let wrong = "0".repeat(64);
    s.site(&format!(
        "  plugins:\n    hello: {{version: \"1.0.0\", sha256: {wrong}}}\n"
    ));
    let plan = s.plan();
    let c = changes(&plan);
    assert_eq!(
        (c[0]["action"].as_str(), c[0]["step"].as_str()),
        (Some("add"), Some("propose"))
    );
    assert!(
        c[0]["reason"].as_str().unwrap().contains("refused"),
        "{:#}",
        c[0]
    );
    s.repo.run(&["apply"]);
    assert_eq!(s.wp.plugins(), before);
    s.clean();
    // Without a pin it needs the desired state's consent.
    s.site("  plugins:\n    hello: \"1.0.0\"\n");
    let c = changes(&s.plan());
    assert!(
        c[0]["reason"].as_str().unwrap().contains("allow_unpinned"),
        "{:#}",
        c[0]
    );
    s.site("  allow_unpinned: true\n  plugins:\n    hello: \"1.0.0\"\n");
    s.repo.run(&["apply"]).expect_code(0);
    assert_eq!(s.wp.plugins()["hello/hello.php"], "1.0.0");
}

/// Installs `breaker` 1.0.0 (active), then asks for 2.0.0, whose code fails on load: the
/// site answers 500, verification fails, and 1.0.0 comes back, active.
fn breaking_upgrade_is_rolled_back(s: &Setup) {
    let good = s.zip("breaker", "1.0.0", FINE);
    let bad = s.zip("breaker", "2.0.0", FATAL);
    let want = |v: &str, sha: &str| {
        format!("  plugins:\n    breaker: {{version: \"{v}\", sha256: {sha}, active: true}}\n")
    };
    s.site(&want("1.0.0", &good));
    s.repo.run(&["apply"]).expect_code(0);
    s.site(&want("2.0.0", &bad));
    let out = s.repo.run(&["apply"]);
    out.expect_code(1);
    let record = last_record(&s.repo);
    let site = site_record(&record, HOST);
    assert_eq!(results(site), ["failed"]);
    let msg = site["actions"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("verification") && msg.contains("restored"),
        "{msg}"
    );
    assert_eq!(s.wp.plugins()["breaker/breaker.php"], "1.0.0");
    assert!(
        s.wp.active_plugins()
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "breaker/breaker.php")
    );
    wait::until("the site to answer again", wait::STARTUP, || {
        s.wp.status("/") == Some(200)
    });
    s.clean();
}

#[test]
fn a_plugin_that_breaks_the_site_is_rolled_back_and_the_site_answers_again() {
    breaking_upgrade_is_rolled_back(&Setup::start());
}

#[test]
fn a_failing_apply_never_leaves_maintenance_mode_on() {
    let s = Setup::start();
    // A new plugin whose activation dies inside the apply script (after maintenance mode was
    // switched on): the new install is removed and maintenance mode is off.
    let sha = s.zip("boom", "1.0.0", FATAL);
    s.site(&format!(
        "  plugins:\n    boom: {{version: \"1.0.0\", sha256: {sha}, active: true}}\n"
    ));
    s.repo.run(&["apply"]).expect_code(1);
    assert!(s.wp.plugins().get("boom/boom.php").is_none());
    assert!(!s.wp.root().join("wp-content/plugins/boom").exists());
    assert_eq!(s.wp.status("/"), Some(200));
    s.clean();
}

#[test]
fn over_ssh_install_and_rollback() {
    let sshd = Sshd::start();
    let s = Setup::with_transport(sshd.transport_yaml());
    breaking_upgrade_is_rolled_back(&s);
}

#[test]
fn the_canary_stops_software_changes_after_the_first_failure() {
    let s = Setup::start();
    let sha = s.zip("boom", "1.0.0", FATAL);
    s.site(&format!(
        "  plugins:\n    boom: {{version: \"1.0.0\", sha256: {sha}, active: true}}\n"
    ));
    // A second site file for the same WordPress: the second in the wave.
    let first = std::fs::read_to_string(s.repo.path().join(format!("sites/{HOST}.yaml")))
        .expect("site file");
    let second = first.replacen(&format!("name: {HOST}"), "name: second.test", 1);
    s.repo.write("sites/second.test.yaml", &second);
    s.repo.commit_all("two sites");
    let out = s.repo.run(&[
        "apply",
        "--max-parallel-sites",
        "1",
        "--stop-after-failures",
        "1",
    ]);
    out.expect_code(1);
    let record = last_record(&s.repo);
    let mut seen: Vec<(String, String)> = [HOST, "second.test"]
        .iter()
        .map(|name| {
            let site = site_record(&record, name);
            let action = &site["actions"][0];
            (
                action["result"].as_str().unwrap().to_owned(),
                action["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        (seen[0].0.as_str(), seen[1].0.as_str()),
        ("failed", "skipped"),
        "{seen:#?}"
    );
    assert!(
        seen[1].1.contains("--stop-after-failures 1"),
        "{}",
        seen[1].1
    );
    assert!(!s.wp.root().join("wp-content/plugins/boom").exists());
    s.clean();
}

/// Issue #10, core: a core zip with the wrong sha256 is refused and nothing changes; a core
/// whose every boot fails is rolled back (the site answers again, maintenance mode off); a
/// pinned core zip is applied, WordPress reports its version, `wp-content` is not touched and a
/// second plan is empty.
#[test]
fn core_updates_from_a_verified_zip_and_a_broken_core_is_rolled_back() {
    let s = Setup::start();
    let core = || s.wp.php_json("echo json_encode($GLOBALS['wp_version']);");
    let good = core_zip(&s.packages(), "6.1.10", "");
    let bad = core_zip(&s.packages(), "6.1.11", FATAL);
    let want = |v: &str, sha: &str| format!("  core: \"{v}\"\n  core_sha256: {sha}\n");
    // A wrong pin: proposed with the reason, nothing changes.
    s.site(&want("6.1.10", &"0".repeat(64)));
    let c = changes(&s.plan());
    assert_eq!(
        (c[0]["resource"].as_str(), c[0]["step"].as_str()),
        (Some("core"), Some("propose")),
        "{:#}",
        c[0]
    );
    assert!(
        c[0]["reason"].as_str().unwrap().contains("refused"),
        "{:#}",
        c[0]
    );
    s.repo.run(&["apply"]);
    assert_eq!(core(), "6.1.9");
    s.clean();
    // A core that fails on every boot: the previous core files come back.
    s.site(&want("6.1.11", &bad));
    s.repo.run(&["apply"]).expect_code(1);
    let record = last_record(&s.repo);
    let msg = site_record(&record, HOST)["actions"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("restored"), "{msg}");
    assert_eq!(core(), "6.1.9");
    wait::until("the site to answer again", wait::STARTUP, || {
        s.wp.status("/") == Some(200)
    });
    s.clean();
    // The verified zip: applied, and nothing left to do.
    s.site(&want("6.1.10", &good));
    s.repo.run(&["apply"]).expect_code(0);
    assert_eq!(core(), "6.1.10");
    assert_eq!(s.wp.status("/"), Some(200));
    let content = s.wp.root().join("wp-content");
    assert!(!content.join(CORE_ZIP_MARKER).exists());
    assert!(content.join("plugins/akismet").is_dir());
    assert!(s.wp.root().join("wp-config.php").is_file());
    s.clean();
    assert_eq!(changes(&s.plan()), Vec::<serde_json::Value>::new());
}
