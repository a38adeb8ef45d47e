//! The `wordpress` software provider through the REST API (`via: rest`) against real
//! WordPress over HTTPS (php-fpm behind the test nginx, the test CA as the site's `ca:`), with
//! an application password WordPress itself made: the inventory equals what WordPress reports
//! (and what `via: php` reads); activation, deactivation and a delete are applied and
//! verified; an activation that breaks the site is undone; installs and upgrades are proposed
//! with the reason and nothing changes; a wrong password makes the site `unknown`; the
//! password never appears in output nor in any git object.

use std::process::Command;

use super::acme::last_record;
use super::reconcile::{results, site_record};
use super::support::wordpress::{HOST, Permalinks, Wordpress};
use super::support::{Repo, Run, wait};
use super::wordpress::changes;

/// The environment variable the site's `app_password` names.
const VAR: &str = "SITEWARD_TEST_WP_APP_PASSWORD";

/// A plugin that answers normally.
const FINE: &str = "add_action('wp_footer', function () { echo 'fine'; });";
/// A plugin that activates cleanly but makes every page answer 500 (REST still answers).
const BREAKS_PAGES: &str =
    "add_action('template_redirect', function () { status_header(500); echo 'broken'; exit; });";

/// WordPress, an application password for `admin`, and a state repo.
struct Setup {
    wp: Wordpress,
    repo: Repo,
    password: String,
    /// Every run's output, to search for the password.
    outputs: std::cell::RefCell<Vec<String>>,
}

impl Setup {
    fn start() -> Setup {
        Setup::start_with(Permalinks::Pretty)
    }

    fn start_with(permalinks: Permalinks) -> Setup {
        let wp = Wordpress::start_with(permalinks);
        let created = wp.php_json(
            "$r = WP_Application_Passwords::create_new_application_password(1, \
             array('name' => 'siteward')); echo json_encode($r[0]);",
        );
        let password = created.as_str().expect("application password").to_owned();
        assert!(password.len() >= 20, "{password}");
        let repo = Repo::new();
        repo.write("ca.pem", &wp.ca_pem);
        Setup {
            wp,
            repo,
            password,
            outputs: Default::default(),
        }
    }

    /// Writes the site with these `software` lines (indented by two), the way in named by
    /// `manage` (lines under `manage.software`, indented by four), and commits.
    fn site_with(&self, software: &str, manage: &str) {
        let yaml = format!(
            "name: {HOST}\nurl: {url}/\nsync: auto\nconnect: {addr}\nca: ca.pem\n\
             software:\n  platform: wordpress\n{software}\
             checks:\n  - {{name: home, path: /, status: 200}}\n\
             manage:\n  software:\n    provider: wordpress\n{manage}",
            url = self.wp.url(),
            addr = self.wp.nginx.https_addr(),
        );
        self.repo.write(&format!("sites/{HOST}.yaml"), &yaml);
        self.repo.commit_all("desired state");
    }

    /// The site managed through REST.
    fn site(&self, software: &str) {
        let manage = format!("    via: rest\n    username: admin\n    app_password: env:{VAR}\n");
        self.site_with(software, &manage);
    }

    /// Runs siteward with `password` in the environment.
    fn run_with(&self, args: &[&str], password: &str) -> Run {
        let run = self.repo.run_env(args, &[(VAR, password)]);
        self.outputs
            .borrow_mut()
            .push(format!("{}\n{}", run.stdout, run.stderr));
        run
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &self.password)
    }

    fn plan(&self) -> serde_json::Value {
        self.run(&["plan", "--format", "json"]).json()
    }

    /// Writes plugin `<slug>` `version` (running `body` when it loads) into the plugins
    /// directory, behind siteward's back.
    fn install(&self, slug: &str, version: &str, body: &str) {
        let dir = self.wp.root().join("wp-content/plugins").join(slug);
        std::fs::create_dir_all(&dir).expect("plugin dir");
        std::fs::write(
            dir.join(format!("{slug}.php")),
            format!("<?php\n/*\n * Plugin Name: {slug}\n * Version: {version}\n */\n{body}\n"),
        )
        .expect("plugin file");
        let chown = Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(chown.success());
    }

    /// Whether WordPress itself says `file` is active.
    fn active(&self, file: &str) -> bool {
        self.wp
            .active_plugins()
            .as_array()
            .expect("active plugins")
            .iter()
            .any(|a| a == file)
    }

    /// Asserts the password is in no output so far and in no git object of the state repo
    /// (desired state and audit records).
    #[track_caller]
    fn password_never_shown(&self) {
        for out in self.outputs.borrow().iter() {
            assert!(!out.contains(&self.password), "password in output:\n{out}");
        }
        let objects = Command::new("git")
            .arg("-C")
            .arg(self.repo.path())
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .output()
            .expect("git cat-file");
        assert!(objects.status.success());
        assert!(!objects.stdout.is_empty());
        let text = String::from_utf8_lossy(&objects.stdout);
        assert!(!text.contains(&self.password), "password in a git object");
    }
}

#[test]
fn rest_inventory_is_what_wordpress_itself_reports() {
    let s = Setup::start();
    s.install("alpha", "1.2.3", FINE);
    s.install("beta", "0.9.0", FINE);
    s.wp.php_json("activate_plugin('alpha/alpha.php'); echo 'null';");

    // The desired state is exactly what WordPress reports, asked independently.
    const DESIRED: &str = r#"
        $o = "  core: \"" . $GLOBALS['wp_version'] . "\"\n  plugins:\n";
        foreach (get_plugins() as $f => $d) {
            $slug = preg_replace('/\.php$/', '', explode('/', $f)[0]);
            $on = is_plugin_active($f) ? 'true' : 'false';
            $o .= "    $slug: {version: \"{$d['Version']}\", active: $on}\n";
        }
        $v = wp_get_theme()->get('Version');
        $o .= "  themes:\n    " . get_stylesheet() . ": {version: \"$v\", active: true}\n";
        echo json_encode($o);"#;
    let lines = s.wp.php_json(DESIRED);
    let lines = lines.as_str().expect("desired lines");
    assert!(
        lines.contains("alpha: {version: \"1.2.3\", active: true}"),
        "{lines}"
    );
    assert!(
        lines.contains("beta: {version: \"0.9.0\", active: false}"),
        "{lines}"
    );
    s.site(lines);
    let plan = s.plan();
    let site = &plan["sites"][0];
    assert_eq!(site["sync"], "in_sync", "{plan:#}");
    assert_eq!(site["software_source"], "wordpress via rest");
    // What REST cannot tell is said to be unknown, not assumed.
    let warnings = site["warnings"].to_string();
    assert!(
        warnings.contains(
            "wordpress via rest cannot tell the PHP version, must-use plugins, maintenance mode"
        ),
        "{warnings}"
    );
    let text = s.run(&["plan"]);
    assert!(
        text.stdout
            .contains("software as listed by wordpress via rest"),
        "{}",
        text.stdout
    );
    // The PHP way in reads the same installation the same way.
    s.site_with(
        lines,
        &format!("    path: {}\n    user: www-data\n", s.wp.root().display()),
    );
    let plan = s.plan();
    assert_eq!(plan["sites"][0]["sync"], "in_sync", "{plan:#}");
    assert_eq!(plan["sites"][0]["software_source"], "wordpress via php");

    // Changed behind siteward's back: exactly that is drift, as REST reports it.
    s.site(lines);
    s.wp.php_json("deactivate_plugins(array('alpha/alpha.php')); echo 'null';");
    let c = changes(&s.plan());
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(
        (c[0]["key"].as_str(), c[0]["step"].as_str()),
        (Some("alpha"), Some("apply"))
    );
    assert_eq!(c[0]["live"], "1.2.3 (inactive)");
    s.password_never_shown();
}

#[test]
fn rest_activates_deactivates_and_deletes_and_verifies() {
    let s = Setup::start();
    s.install("hello", "1.0.0", FINE);
    let step = |software: &str, installed: bool, active: bool, done: &str| {
        s.site(software);
        s.run(&["apply"]).expect_code(0);
        let plugins = s.wp.plugins();
        assert_eq!(
            plugins.get("hello/hello.php").is_some(),
            installed,
            "{plugins}"
        );
        assert_eq!(s.active("hello/hello.php"), active);
        let record = last_record(&s.repo);
        let site = site_record(&record, HOST);
        assert_eq!(results(site), ["applied"], "{site:#}");
        let msg = site["actions"][0]["message"].as_str().unwrap();
        assert!(msg.contains(done), "{msg}");
        // Idempotent: a second plan finds nothing to do.
        assert_eq!(s.plan()["sites"][0]["sync"], "in_sync");
    };
    step(
        "  plugins:\n    hello: {version: \"1.0.0\", active: true}\n",
        true,
        true,
        "activate plugin `hello`",
    );
    step(
        "  plugins:\n    hello: {version: \"1.0.0\", active: false}\n",
        true,
        false,
        "deactivate plugin `hello`",
    );
    // Active again, then deleted because `absent` is written: deactivated first.
    s.wp.php_json("activate_plugin('hello/hello.php'); echo 'null';");
    step(
        "  plugins:\n    hello: absent\n",
        false,
        false,
        "delete plugin `hello`",
    );
    assert!(!s.wp.root().join("wp-content/plugins/hello").exists());
    assert_eq!(s.wp.status("/"), Some(200));
    s.password_never_shown();
}

/// A server without pretty permalinks: `/wp-json/` is nginx's own 404, so REST is asked as
/// `?rest_route=`; the inventory, an activation and its verification work as with them.
#[test]
fn rest_without_pretty_permalinks_goes_through_rest_route() {
    let s = Setup::start_with(Permalinks::Plain);
    assert_eq!(s.wp.status("/wp-json/wp/v2/plugins"), Some(404));
    s.install("hello", "1.0.0", FINE);
    s.site("  plugins:\n    hello: {version: \"1.0.0\", active: true}\n");
    let c = changes(&s.plan());
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(
        (
            c[0]["key"].as_str(),
            c[0]["live"].as_str(),
            c[0]["step"].as_str()
        ),
        (Some("hello"), Some("1.0.0 (inactive)"), Some("apply"))
    );
    s.run(&["apply"]).expect_code(0);
    assert!(
        s.active("hello/hello.php"),
        "WordPress says hello is not active"
    );
    assert_eq!(s.plan()["sites"][0]["sync"], "in_sync");
    s.password_never_shown();
}

#[test]
fn rest_activation_that_breaks_the_site_is_undone() {
    let s = Setup::start();
    s.install("breaker", "1.0.0", BREAKS_PAGES);
    s.site("  plugins:\n    breaker: {version: \"1.0.0\", active: true}\n");
    s.run(&["apply"]).expect_code(1);
    let record = last_record(&s.repo);
    let site = site_record(&record, HOST);
    assert_eq!(results(site), ["failed"]);
    let msg = site["actions"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("verification") && msg.contains("previous activation states were restored"),
        "{msg}"
    );
    assert!(!s.active("breaker/breaker.php"));
    wait::until("the site to answer again", wait::STARTUP, || {
        s.wp.status("/") == Some(200)
    });
    s.password_never_shown();
}

#[test]
fn rest_proposes_installs_upgrades_and_themes_with_the_reason_and_changes_nothing() {
    let s = Setup::start();
    s.install("hello", "1.0.0", FINE);
    let packages = s.repo.path().join("packages");
    let v2 = Wordpress::plugin_zip(&packages, "hello", "2.0.0", FINE);
    let new = Wordpress::plugin_zip(&packages, "fresh", "1.0.0", FINE);
    s.site(&format!(
        "  packages: packages\n  plugins:\n    hello: {{version: \"2.0.0\", sha256: {v2}}}\n    \
         fresh: {{version: \"1.0.0\", sha256: {new}, active: true}}\n  themes:\n    \
         twentytwentythree: absent\n"
    ));
    let before = (s.wp.plugins(), s.wp.active_plugins());
    let c = changes(&s.plan());
    assert_eq!(c.len(), 3, "{c:#?}");
    for change in &c {
        assert_eq!(change["step"], "propose", "{change:#}");
        let reason = change["reason"].as_str().unwrap();
        let why = match change["resource"].as_str() {
            Some("theme") => "lists themes read-only",
            _ => "installs only from wordpress.org, never from a verified zip",
        };
        assert!(reason.contains(why), "{change:#}");
    }
    s.run(&["apply"]);
    assert_eq!((s.wp.plugins(), s.wp.active_plugins()), before);
    assert!(
        s.wp.root()
            .join("wp-content/themes/twentytwentythree")
            .exists()
    );
    s.password_never_shown();
}

#[test]
fn a_wrong_application_password_is_a_clear_error_and_nothing_is_applied() {
    let s = Setup::start();
    s.install("hello", "1.0.0", FINE);
    s.site("  plugins:\n    hello: {version: \"1.0.0\", active: true}\n");
    let wrong = "abcd efgh ijkl mnop qrst uvwx";
    let plan: serde_json::Value = s.run_with(&["plan", "--format", "json"], wrong).json();
    let site = &plan["sites"][0];
    assert_eq!(site["sync"], "unknown", "{plan:#}");
    let error = site["error"].as_str().unwrap();
    assert!(
        error.contains("WordPress refused the application password of user `admin` (401 ")
            && error.contains("check `manage.software.username` and `app_password`"),
        "{error}"
    );
    assert!(changes(&plan).is_empty());
    let apply = s.run_with(&["apply"], wrong);
    assert_ne!(apply.code, 0);
    assert!(!s.active("hello/hello.php"));
    for out in s.outputs.borrow().iter() {
        assert!(!out.contains(wrong), "the wrong password in output:\n{out}");
    }
    // Without the variable the site is unknown too, and says which variable is missing.
    let run = s.repo.run(&["plan", "--format", "json"]);
    let error = run.json()["sites"][0]["error"].to_string();
    assert!(
        error.contains(&format!("`env:{VAR}` is not set")),
        "{error}"
    );
    s.password_never_shown();
}
