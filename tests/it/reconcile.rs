//! `siteward apply` and `siteward reconcile` end to end: the real binary against a real nginx
//! on loopback whose server blocks include siteward's files, a real git state repo, the audit
//! branch and proposal branches read back with the system `git`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use siteward::pki::{Ca, Validity};

use super::support::nginx::{Nginx, Vhost};
use super::support::{Repo, bin, command, refused_port, wait};

/// A real nginx serving several hosts, each including its own siteward-managed file.
pub(super) struct Fleet {
    pub(super) nginx: Nginx,
    pub(super) repo: Repo,
}

impl Fleet {
    pub(super) fn start(hosts: &[&str]) -> Fleet {
        let ca = Ca::new("reconcile test root").expect("ca");
        let nginx = Nginx::start(&[]);
        for host in hosts {
            let mut v = Vhost::new(host, ca.leaf(&[host], Validity::days(60)).expect("leaf"));
            v.config = format!(
                "  include {}/siteward/{host}[.]conf;\n",
                nginx.path().display()
            );
            nginx.add_vhost(&v);
        }
        nginx.reload();
        let repo = Repo::new();
        repo.write("ca.pem", &ca.cert_pem);
        Fleet { nginx, repo }
    }

    pub(super) fn include(&self, host: &str) -> PathBuf {
        self.nginx.path().join(format!("siteward/{host}.conf"))
    }

    /// Writes `sites/<host>.yaml` managed by nginx with `sync` and extra YAML (headers, ...).
    pub(super) fn site(&self, host: &str, sync: &str, extra: &str) {
        self.site_with(host, sync, extra, &self.nginx.command("-t"));
    }

    fn site_with(&self, host: &str, sync: &str, extra: &str, test_command: &str) {
        self.site_over(host, sync, extra, test_command, "");
    }

    /// As [`Fleet::site_with`], with extra `manage.server` lines (an SSH transport).
    fn site_over(&self, host: &str, sync: &str, extra: &str, test_command: &str, transport: &str) {
        self.write_site(
            host,
            sync,
            extra,
            test_command,
            &self.nginx.command("-s reload"),
            transport,
        );
    }

    /// The general form: every command and the transport chosen by the test.
    pub(super) fn write_site(
        &self,
        host: &str,
        sync: &str,
        extra: &str,
        test: &str,
        reload: &str,
        transport: &str,
    ) {
        let yaml = format!(
            "name: {host}\nurl: https://{host}/\nsync: {sync}\nconnect: {}\nca: ca.pem\n{extra}\
             manage:\n  server:\n    provider: nginx\n    config: {}\n    test_command: \"{test}\"\n    reload_command: \"{reload}\"\n{transport}",
            self.nginx.https_addr(),
            self.include(host).display(),
        );
        self.repo.write(&format!("sites/{host}.yaml"), &yaml);
    }

    /// Waits until an apply has written its crash-journal entry (it is applying now).
    fn wait_for_apply_to_start(&self) {
        let journal = self.repo.path().join(".git/siteward/journal");
        wait::until("the apply to start", wait::STARTUP, || {
            std::fs::read_dir(&journal).is_ok_and(|d| d.count() > 0)
        });
    }

    /// The value of `name` that `host` serves now (once a reload siteward started is over).
    pub(super) fn served(&self, host: &str, name: &str) -> Option<String> {
        self.nginx.wait_settled();
        let ca = self.repo.path().join("ca.pem");
        // `-q` first: no `~/.curlrc`.
        let out = command("curl")
            .args(["-q", "-sS", "-D-", "-o", "/dev/null", "--cacert"])
            .arg(&ca)
            .arg("--resolve")
            .arg(format!("{host}:{}:127.0.0.1", self.nginx.https_port))
            .arg(format!("https://{host}:{}/", self.nginx.https_port))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The newest run record on the audit branch.
    pub(super) fn last_record(&self) -> serde_json::Value {
        let files = self
            .repo
            .git(&["log", "-1", "--name-only", "--format=", "siteward-audit"]);
        let path = files
            .lines()
            .find(|l| l.ends_with(".json"))
            .expect("a record file");
        let text = self.repo.git(&["show", &format!("siteward-audit:{path}")]);
        serde_json::from_str(&text).expect("record JSON")
    }
}

pub(super) fn site_record<'a>(record: &'a serde_json::Value, site: &str) -> &'a serde_json::Value {
    record["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["site"] == site)
        .expect("site in record")
}

pub(super) fn results(site: &serde_json::Value) -> Vec<String> {
    site["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["result"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn apply_adds_changes_removes_and_a_second_apply_plans_nothing() {
    let f = Fleet::start(&["a.test"]);
    f.site(
        "a.test",
        "auto",
        "headers:\n  X-Frame-Options: DENY\n  X-Team: web-ops\n",
    );
    f.repo.commit_all("desired state");
    assert_eq!(f.served("a.test", "x-frame-options"), None);

    let out = f.repo.run(&["apply"]);
    out.expect_code(0);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    assert_eq!(f.served("a.test", "x-team").as_deref(), Some("web-ops"));
    let rec = f.last_record();
    assert_eq!(rec["run"]["command"], "apply");
    let a = site_record(&rec, "a.test");
    assert_eq!(
        a["sync"], "in_sync",
        "the record states the verified final state"
    );
    assert_eq!(results(a), ["applied", "applied"]);

    // Idempotent: a second apply right after plans nothing.
    let again = f.repo.run(&["apply"]);
    again.expect_code(0);
    let rec = f.last_record();
    let a = site_record(&rec, "a.test");
    assert_eq!(a["changes"].as_array().map(Vec::len), Some(0));
    assert!(results(a).is_empty());
    let plan = f.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(0);
    assert_eq!(plan.json()["sites"][0]["sync"], "in_sync");

    // Change one header, make the other absent.
    f.site(
        "a.test",
        "auto",
        "headers:\n  X-Frame-Options: SAMEORIGIN\n  X-Team: absent\n",
    );
    f.repo.commit_all("tighten");
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("SAMEORIGIN")
    );
    assert_eq!(f.served("a.test", "x-team"), None);
    let audit_runs = f.repo.git(&["rev-list", "--count", "siteward-audit"]);
    assert_eq!(audit_runs.trim(), "3");
}

#[test]
fn reconcile_acts_per_sync_mode_and_proposals_dedupe_and_resolve() {
    let f = Fleet::start(&["auto.test", "propose.test", "observe.test"]);
    let headers = "headers:\n  X-Frame-Options: DENY\n";
    f.site("auto.test", "auto", headers);
    f.site("propose.test", "propose", headers);
    f.site("observe.test", "observe", headers);
    f.repo.commit_all("three sites");

    let out = f
        .repo
        .run(&["reconcile", "--trigger", "schedule", "--format", "json"]);
    out.expect_code(2);
    assert_eq!(
        out.json()["summary"]["applied"],
        1,
        "the JSON output is the run record"
    );
    assert_eq!(
        f.served("auto.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    assert_eq!(
        f.served("propose.test", "x-frame-options"),
        None,
        "propose never applies"
    );
    assert_eq!(
        f.served("observe.test", "x-frame-options"),
        None,
        "observe never applies"
    );
    assert!(!f.include("propose.test").exists() && !f.include("observe.test").exists());
    let rec = f.last_record();
    assert_eq!(rec["run"]["trigger"]["reason"], "schedule");
    assert_eq!(results(site_record(&rec, "auto.test")), ["applied"]);
    assert_eq!(results(site_record(&rec, "propose.test")), ["proposed"]);
    assert_eq!(results(site_record(&rec, "observe.test")), ["skipped"]);
    let md = f
        .repo
        .git(&["show", "siteward-proposals/propose.test:PROPOSAL.md"]);
    assert!(md.contains("Status: open"), "{md}");
    assert!(
        md.contains("add_header X-Frame-Options \"DENY\" always;"),
        "{md}"
    );
    // The site's provider is nginx: its proposal speaks nginx only.
    assert!(
        !md.contains("Header always set") && !md.contains("_headers"),
        "{md}"
    );
    assert!(md.contains("`headers.X-Frame-Options`"), "{md}");
    let plan: serde_json::Value = serde_json::from_str(
        &f.repo
            .git(&["show", "siteward-proposals/propose.test:plan.json"]),
    )
    .expect("plan json");
    assert_eq!(plan["site"], "propose.test");

    // The same drift never yields a second proposal.
    f.repo.run(&["reconcile"]).expect_code(2);
    assert_eq!(
        f.repo
            .git(&["rev-list", "--count", "siteward-proposals/propose.test"])
            .trim(),
        "1"
    );
    // ... and its record says nothing new was proposed.
    let rec = f.last_record();
    let msg = results(site_record(&rec, "propose.test"));
    assert_eq!(msg, ["skipped"]);
    assert_eq!(rec["summary"]["proposed"], 0, "{rec}");

    // The owner fixes it by hand: the proposal is marked resolved.
    std::fs::create_dir_all(f.include("propose.test").parent().expect("dir")).expect("mkdir");
    std::fs::write(
        f.include("propose.test"),
        "add_header X-Frame-Options \"DENY\" always;\n",
    )
    .expect("write");
    f.nginx.reload();
    f.repo
        .run(&["reconcile", "--site", "propose.test"])
        .expect_code(0);
    let md = f
        .repo
        .git(&["show", "siteward-proposals/propose.test:PROPOSAL.md"]);
    assert!(md.contains("Status: resolved"), "{md}");
    assert_eq!(
        f.repo
            .git(&["rev-list", "--count", "siteward-proposals/propose.test"])
            .trim(),
        "2"
    );
}

#[test]
fn a_failing_config_test_keeps_the_old_config_serving() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Version: one\n");
    f.repo.commit_all("v1");
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(f.served("a.test", "x-version").as_deref(), Some("one"));

    f.site_with(
        "a.test",
        "auto",
        "headers:\n  X-Version: two\n",
        "sh -c 'echo config test says no >&2; exit 1'",
    );
    f.repo.commit_all("v2 with a failing test command");
    let out = f.repo.run(&["apply"]);
    out.expect_code(1);
    assert_eq!(
        f.served("a.test", "x-version").as_deref(),
        Some("one"),
        "old config still serving"
    );
    let file = std::fs::read_to_string(f.include("a.test")).expect("include");
    assert!(
        file.contains("\"one\"") && !file.contains("\"two\""),
        "backup restored: {file}"
    );
    let a = site_record(&f.last_record(), "a.test").clone();
    assert_eq!(results(&a), ["failed"]);
    let message = a["actions"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("config test says no"), "{message}");
}

#[test]
fn a_stale_saved_plan_is_refused_per_site() {
    let f = Fleet::start(&["a.test", "b.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.site("b.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("two sites");
    let plan = f.repo.path().join("plan.json");
    let out = f.repo.run(&[
        "plan",
        "--format",
        "json",
        "--out",
        plan.to_str().expect("utf-8"),
    ]);
    out.expect_code(2);

    // b.test's live state changes after the plan was made.
    std::fs::create_dir_all(f.include("b.test").parent().expect("dir")).expect("mkdir");
    std::fs::write(
        f.include("b.test"),
        "add_header X-Frame-Options \"SAMEORIGIN\" always;\n",
    )
    .expect("write");
    f.nginx.reload();

    let out = f.repo.run(&["apply", plan.to_str().expect("utf-8")]);
    out.expect_code(1);
    assert!(
        out.stdout.contains("live state changed since the plan"),
        "{}",
        out.stdout
    );
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY"),
        "fresh site applied"
    );
    assert_eq!(
        f.served("b.test", "x-frame-options").as_deref(),
        Some("SAMEORIGIN"),
        "stale site untouched"
    );
    let rec = f.last_record();
    assert_eq!(results(site_record(&rec, "a.test")), ["applied"]);
    assert_eq!(results(site_record(&rec, "b.test")), ["failed"]);
}

#[test]
fn an_apply_killed_mid_way_is_detected_and_the_site_reverified() {
    let f = Fleet::start(&["a.test"]);
    // The reload writes its pid and hangs, so the apply is still running (file written and
    // tested, not yet reloaded) when the process is killed.
    let gate = tempfile::tempdir().expect("temp dir");
    let reload_pid = gate.path().join("reload.pid");
    let hang = format!(
        "sh -c 'echo $$ > {pid}.tmp && mv {pid}.tmp {pid} && exec sleep 120'",
        pid = reload_pid.display()
    );
    let headers = "headers:\n  X-Frame-Options: DENY\n";
    f.write_site("a.test", "auto", headers, &f.nginx.command("-t"), &hang, "");
    f.repo.commit_all("slow reload");
    let mut child = command(bin())
        .args(["--repo", f.repo.path().to_str().expect("utf-8"), "apply"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn siteward");
    f.wait_for_apply_to_start();
    let journal = f.repo.path().join(".git/siteward/journal");
    let hung = wait::until_some("the reload to start", wait::STARTUP, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("siteward ended ({status}) before its reload ran");
        }
        std::fs::read_to_string(&reload_pid).ok()
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    // The hanging reload outlives siteward (it runs in its own process group): end it.
    let _ = command("kill").args(["-KILL", hung.trim()]).status();

    // The next run reports the interruption, re-verifies the site and finishes the job.
    f.site("a.test", "auto", headers);
    f.repo.commit_all("normal reload");
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("was interrupted while applying `a.test`"),
        "{}",
        out.stdout
    );
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    let a = site_record(&f.last_record(), "a.test").clone();
    assert_eq!(a["sync"], "in_sync");
    assert_eq!(
        std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0),
        0,
        "journal cleared once reported"
    );
    // Reported once only.
    let again = f.repo.run(&["reconcile"]);
    again.expect_code(0);
    assert!(!again.stdout.contains("interrupted"), "{}", again.stdout);
}

#[test]
fn invalid_input_touches_nothing_and_unknown_sites_are_never_changed() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.write(
        "sites/broken.yaml",
        "name: broken\nurl: https://broken.test/\nheders: {}\n",
    );
    f.repo.commit_all("one broken file");
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("sites/broken.yaml:3:1: unknown key `heders`"),
        "{}",
        out.stderr
    );
    assert!(
        !f.include("a.test").exists(),
        "nothing applied on invalid input"
    );

    // A site whose address refuses connections is unknown: nothing is applied or proposed.
    std::fs::remove_file(f.repo.path().join("sites/broken.yaml")).expect("rm");
    let refused = refused_port();
    let port = refused.port;
    let yaml = format!(
        "name: down.test\nurl: https://down.test/\nsync: auto\nconnect: 127.0.0.1:{port}\nheaders:\n  X-A: b\n\
         manage:\n  server:\n    provider: nginx\n    config: {}\n",
        f.nginx.path().join("siteward/down.test.conf").display()
    );
    f.repo.write("sites/down.test.yaml", &yaml);
    f.repo.commit_all("a dead site");
    // The dead site is refused at once; the live one gets a timeout that a loaded machine
    // does not exceed (it is applied and verified in this run).
    let out = f.repo.run(&["reconcile", "--timeout", "10"]);
    out.expect_code(1);
    let rec = f.last_record();
    let down = site_record(&rec, "down.test");
    assert_eq!(down["sync"], "unknown");
    assert!(results(down).is_empty());
    assert!(!f.nginx.path().join("siteward/down.test.conf").exists());
    assert_eq!(
        site_record(&rec, "a.test")["sync"],
        "in_sync",
        "the other site went on"
    );
}

#[test]
fn secrets_never_reach_git_objects_or_output() {
    let nonce = format!(
        "{}{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let env_marker = format!("SWMARKENV{nonce}");
    let file_marker = format!("SWMARKFILE{nonce}");
    let f = Fleet::start(&["a.test", "b.test"]);
    let outside = tempfile::tempdir().expect("temp dir");
    let token = outside.path().join("token.txt");
    std::fs::write(&token, format!("{file_marker}\n")).expect("write token");
    let headers = format!(
        "headers:\n  X-Api-Key: env:SW_TEST_SECRET\n  X-Other-Token: file:{}\n",
        token.display()
    );
    f.site("a.test", "auto", &headers);
    f.site("b.test", "propose", &headers);
    f.repo.commit_all("sites with secret headers");
    let env = [("SW_TEST_SECRET", env_marker.as_str())];

    let mut outputs = Vec::new();
    let plan_file = f.repo.path().join("plan.json");
    for args in [
        vec!["plan", "--format", "json", "--record"],
        vec!["plan", "--format", "text"],
        vec!["plan", "--format", "markdown"],
        vec![
            "plan",
            "--format",
            "json",
            "--out",
            plan_file.to_str().expect("utf-8"),
        ],
        vec!["reconcile", "-vv"],
        vec!["log", "--diff"],
        vec!["log", "--format", "json"],
    ] {
        let out = f.repo.run_env(&args, &env);
        assert!(
            out.code == 0 || out.code == 2,
            "{args:?}: {}\n{}",
            out.stdout,
            out.stderr
        );
        outputs.push((
            format!("{args:?}"),
            format!("{}\n{}", out.stdout, out.stderr),
        ));
    }
    outputs.push((
        "saved plan".into(),
        std::fs::read_to_string(&plan_file).expect("plan file"),
    ));
    // Not vacuous: the secrets were resolved and applied (nginx serves them) and their digests
    // are what every output shows.
    assert_eq!(
        f.served("a.test", "x-api-key").as_deref(),
        Some(env_marker.as_str())
    );
    assert_eq!(
        f.served("a.test", "x-other-token").as_deref(),
        Some(file_marker.as_str())
    );
    let digest = siteward::secret::shown(&env_marker);
    assert!(outputs[0].1.contains(&digest), "{}", outputs[0].1);
    for (what, text) in &outputs {
        assert!(
            !text.contains(&env_marker) && !text.contains(&file_marker),
            "{what} leaks a secret:\n{text}"
        );
    }
    // Every object in the repository: records, proposals, plans.
    let objects = f.repo.git(&["cat-file", "--batch-all-objects", "--batch"]);
    assert!(
        objects.contains(&digest),
        "records and proposals carry the digest"
    );
    assert!(
        !objects.contains(&env_marker) && !objects.contains(&file_marker),
        "a git object holds a secret"
    );
    assert!(
        f.repo
            .git(&["branch", "--list"])
            .contains("siteward-proposals/b.test")
    );
}

#[test]
fn reconcile_over_ssh_applies_changes_and_rolls_back_a_failing_test() {
    let f = Fleet::start(&["a.test"]);
    let sshd = super::support::sshd::Sshd::start();
    let over_ssh = |extra: &str, test: &str| {
        f.site_over("a.test", "auto", extra, test, &sshd.transport_yaml())
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let never = scratch.path().join("never");
    over_ssh(
        &format!(
            "headers:\n  X-Frame-Options: DENY\n  X-Served-By: \"ssh; $(touch {})\"\n",
            never.display()
        ),
        &f.nginx.command("-t"),
    );
    f.repo.commit_all("managed over ssh");
    // `$` cannot be written to nginx: the site's server changes are proposed instead of
    // failing on every run, and nothing is written.
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(2);
    assert!(!never.exists());
    assert!(
        !f.include("a.test").exists(),
        "nothing written for a site that cannot be rendered"
    );
    let proposed = site_record(&f.last_record(), "a.test").clone();
    assert_eq!(results(&proposed), ["proposed", "proposed"]);
    assert!(
        proposed["actions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("contains `$`"),
        "{proposed}"
    );

    over_ssh(
        "headers:\n  X-Frame-Options: DENY\n  X-Served-By: \"it's; \\\"quoted\\\" `and` spaced\"\n",
        &f.nginx.command("-t"),
    );
    f.repo.commit_all("a value full of shell metacharacters");
    f.repo.run(&["reconcile"]).expect_code(0);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
    assert_eq!(
        f.served("a.test", "x-served-by").as_deref(),
        Some("it's; \"quoted\" `and` spaced")
    );
    assert_eq!(
        results(site_record(&f.last_record(), "a.test")),
        ["applied", "applied"]
    );

    over_ssh(
        "headers:\n  X-Frame-Options: SAMEORIGIN\n",
        "sh -c 'echo remote test failed >&2; exit 1'",
    );
    f.repo.commit_all("change with a failing remote test");
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(1);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY"),
        "old config still serving"
    );
    let a = site_record(&f.last_record(), "a.test").clone();
    assert!(
        a["actions"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("remote test failed"),
        "{a}"
    );
}

#[test]
fn dry_run_changes_nothing_and_records_nothing() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("one site");
    let out = f.repo.run(&["apply", "--dry-run"]);
    out.expect_code(2);
    assert!(out.stdout.contains("dry run"), "{}", out.stdout);
    assert!(!f.include("a.test").exists());
    assert_eq!(f.served("a.test", "x-frame-options"), None);
    let json = f.repo.run(&["apply", "--dry-run", "--format", "json"]);
    json.expect_code(2);
    let rec = json.json();
    assert_eq!(rec["run"]["command"], "apply");
    assert_eq!(results(site_record(&rec, "a.test")), ["skipped"]);
    let branches = f.repo.git(&["branch", "--list"]);
    assert!(
        !branches.contains("siteward-audit"),
        "a dry run records nothing: {branches}"
    );
}

#[test]
fn sigterm_finishes_the_running_apply_skips_the_rest_and_records() {
    let f = Fleet::start(&["a.test", "b.test"]);
    // Each reload says that it started, then waits for the test's go-ahead (at most a minute,
    // so that nothing is left behind): the signal arrives while the first site is applied,
    // and that apply goes on only once siteward has seen it.
    let gate = tempfile::tempdir().expect("temp dir");
    let go = gate.path().join("go");
    for host in ["a.test", "b.test"] {
        let gated_reload = format!(
            "sh -c 'touch {dir}/{host}.reloading; i=0; \
             while [ ! -e {go} ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; {reload}'",
            dir = gate.path().display(),
            go = go.display(),
            reload = f.nginx.command("-s reload"),
        );
        let headers = "headers:\n  X-Frame-Options: DENY\n";
        f.write_site(
            host,
            "auto",
            headers,
            &f.nginx.command("-t"),
            &gated_reload,
            "",
        );
    }
    f.repo.commit_all("two sites, gated reloads");
    let mut child = command(bin())
        .args([
            "--repo",
            f.repo.path().to_str().expect("utf-8"),
            "reconcile",
            "--concurrency",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn siteward");
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let mut pipe = child.stderr.take().expect("stderr");
        let stderr = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                stderr.lock().expect("stderr buffer").push_str(&text);
            }
        })
    };
    let reloading = |dir: &Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".reloading"))
                .count()
        })
    };
    wait::until("the first reload to start", wait::STARTUP, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("siteward ended ({status}) before its first reload ran");
        }
        reloading(gate.path()) > 0
    });
    let journal = f.repo.path().join(".git/siteward/journal");
    let pid = child.id().to_string();
    let kill = command("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let seen = wait::poll(wait::STARTUP, || {
        let text = stderr.lock().expect("stderr buffer");
        text.contains("signal received").then_some(())
    });
    // Open the gate before any assertion, so that no reload is left waiting.
    std::fs::write(&go, "").expect("go");
    assert!(
        seen.is_some(),
        "siteward never reported the signal: {}",
        stderr.lock().expect("stderr buffer")
    );
    let out = child.wait_with_output().expect("wait");
    reader.join().expect("stderr reader");
    let stderr = stderr.lock().expect("stderr buffer").clone();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted by a signal"), "{stderr}");
    assert_eq!(
        reloading(gate.path()),
        1,
        "the second site's reload never ran"
    );
    let rec = f.last_record();
    let mut results: Vec<Vec<String>> = ["a.test", "b.test"]
        .iter()
        .map(|s| results(site_record(&rec, s)))
        .collect();
    results.sort();
    assert_eq!(
        results,
        [vec!["applied".to_owned()], vec!["skipped".to_owned()]],
        "{rec}"
    );
    assert_eq!(
        std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0),
        0,
        "no journal entry left: the apply finished"
    );
}

#[test]
fn a_saved_plan_is_refused_after_an_uncommitted_desired_edit() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("reviewed");
    let plan = f.repo.path().join("plan.json");
    f.repo
        .run(&[
            "plan",
            "--format",
            "json",
            "--out",
            plan.to_str().expect("utf-8"),
        ])
        .expect_code(2);
    // Someone edits the site file after the plan was reviewed, without committing.
    f.site(
        "a.test",
        "auto",
        "headers:\n  X-Frame-Options: SAMEORIGIN\n",
    );
    let out = f.repo.run(&["apply", plan.to_str().expect("utf-8")]);
    out.expect_code(1);
    assert!(
        out.stdout.contains("desired state changed since the plan"),
        "{}",
        out.stdout
    );
    assert!(
        !f.include("a.test").exists(),
        "the unreviewed state was not applied"
    );
}

#[test]
fn gitlab_parallel_jobs_pick_their_shard_without_flags() {
    let repo = Repo::new();
    let refused = refused_port();
    let port = refused.port;
    for i in 0..6 {
        repo.write(
            &format!("sites/s{i}.test.yaml"),
            &format!("name: s{i}.test\nurl: https://s{i}.test/\nconnect: 127.0.0.1:{port}\n"),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for index in ["1", "2"] {
        let env = [("CI_NODE_INDEX", index), ("CI_NODE_TOTAL", "2")];
        let out = repo.run_env(&["plan", "--format", "json", "--timeout", "2"], &env);
        assert!(
            out.stderr
                .contains(&format!("shard {index}/2 from CI_NODE_INDEX")),
            "{}",
            out.stderr
        );
        let plan = out.json();
        let names: Vec<String> = plan["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .map(|s| s["site"].as_str().unwrap_or("").to_owned())
            .collect();
        assert!(names.len() < 6, "a shard is a part of the fleet: {names:?}");
        seen.extend(names);
    }
    seen.sort();
    assert_eq!(
        seen,
        (0..6).map(|i| format!("s{i}.test")).collect::<Vec<_>>()
    );
}

/// Leaves a crash-journal entry for `site` as a killed run (a pid that cannot exist) would.
fn fake_interrupted_apply(f: &Fleet, site: &str) {
    let dir = f.repo.path().join(".git/siteward/journal");
    std::fs::create_dir_all(&dir).expect("journal dir");
    let entry = serde_json::json!({
        "run": "20260101T000000Z-deadbeef", "site": site, "pid": 4_194_305u32,
        "host": siteward::journal::hostname(), "started": "2026-01-01T00:00:00Z",
        "provider": "nginx", "config": f.include(site).display().to_string(),
    });
    std::fs::write(
        dir.join(format!("20260101T000000Z-deadbeef--{site}.json")),
        entry.to_string(),
    )
    .expect("entry");
}

#[test]
fn a_header_also_sent_by_another_layer_is_not_verified_and_rolls_back() {
    let f = Fleet::start(&[]);
    // The vhost itself already sends X-Frame-Options; siteward's include would add a second.
    let ca = Ca::new("layered test root").expect("ca");
    let mut v = Vhost::new(
        "a.test",
        ca.leaf(&["a.test"], Validity::days(60)).expect("leaf"),
    );
    v.config = format!(
        "  add_header X-Frame-Options SAMEORIGIN always;\n  include {}/siteward/a.test[.]conf;\n",
        f.nginx.path().display()
    );
    f.nginx.add_vhost(&v);
    f.nginx.reload();
    f.repo.write("ca.pem", &ca.cert_pem);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("a header set twice");
    let out = f.repo.run(&["apply"]);
    out.expect_code(1);
    let a = site_record(&f.last_record(), "a.test").clone();
    assert_eq!(results(&a), ["failed"]);
    let message = a["actions"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("SAMEORIGIN, DENY") || message.contains("DENY, SAMEORIGIN"),
        "{message}"
    );
    assert!(
        !f.include("a.test").exists(),
        "rolled back: the new file was removed"
    );
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("SAMEORIGIN")
    );
}

#[test]
fn recovering_a_killed_apply_never_removes_a_file_the_test_does_not_blame() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("one site");
    f.repo.run(&["apply"]).expect_code(0);
    // What a run killed between write and reload leaves: the right file, not yet served.
    let rendered = std::fs::read_to_string(f.include("a.test")).expect("include");
    std::fs::write(f.include("a.test"), "").expect("truncate");
    f.nginx.reload();
    std::fs::write(f.include("a.test"), &rendered).expect("leftover");
    fake_interrupted_apply(&f, "a.test");
    assert_eq!(f.served("a.test", "x-frame-options"), None);

    // The config test fails for a reason that is not this file: it stays where it is.
    f.site_with(
        "a.test",
        "auto",
        "headers:\n  X-Frame-Options: DENY\n",
        "sh -c 'echo another vhost is broken >&2; exit 1'",
    );
    f.repo.commit_all("a failing test");
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(1);
    assert!(
        out.stdout
            .contains("was interrupted while applying `a.test`"),
        "{}",
        out.stdout
    );
    let a = site_record(&f.last_record(), "a.test").clone();
    let message = a["actions"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("left in place"), "{message}");
    assert_eq!(
        std::fs::read_to_string(f.include("a.test")).expect("kept"),
        rendered
    );

    // With a passing test the recovery reloads and verifies.
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("test passes again");
    f.repo.run(&["reconcile"]).expect_code(0);
    assert_eq!(
        f.served("a.test", "x-frame-options").as_deref(),
        Some("DENY")
    );
}

#[test]
fn an_interrupted_site_that_is_not_selected_is_observed_never_changed() {
    let f = Fleet::start(&["a.test", "b.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.site("b.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("two sites");
    fake_interrupted_apply(&f, "b.test");
    let out = f.repo.run(&["reconcile", "--site", "a.test"]);
    out.expect_code(2);
    assert!(
        out.stdout.contains("not selected, so nothing was changed"),
        "{}",
        out.stdout
    );
    assert!(f.include("a.test").exists() && !f.include("b.test").exists());
    let rec = f.last_record();
    assert_eq!(
        site_record(&rec, "b.test")["sync"],
        "drift",
        "observed and recorded"
    );
    let journal = f.repo.path().join(".git/siteward/journal");
    assert_eq!(
        std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0),
        1,
        "kept until b.test is re-verified"
    );
    f.repo
        .run(&["reconcile", "--site", "b.test"])
        .expect_code(0);
    assert_eq!(
        std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0),
        0
    );
}
