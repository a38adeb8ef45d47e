//! Runs that always record (issues #8 item 4, #16 item 1): an acting run is recorded or does
//! not act, a ref lock left by a killed process is recovered, a record that cannot be
//! committed after acting is committed by the next run, and a panic in one site's apply fails
//! that site only. The real binary against a real nginx and a real git state repo.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use siteward::pki::{Ca, Validity};

use super::support::Repo;
use super::support::nginx::{Nginx, Vhost};

/// Real nginx serving `hosts`, each including the file siteward manages for it.
struct Sites {
    nginx: Nginx,
    repo: Repo,
}

impl Sites {
    /// Every host gets a `sync: auto` site that wants `X-Frame-Options: DENY`; committed.
    fn start(hosts: &[&str]) -> Sites {
        let ca = Ca::new("record test root").expect("ca");
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
        let s = Sites { nginx, repo };
        for host in hosts {
            let yaml = format!(
                "name: {host}\nurl: https://{host}/\nsync: auto\nconnect: {}\nca: ca.pem\n\
                 headers:\n  X-Frame-Options: DENY\n\
                 manage:\n  server:\n    provider: nginx\n    config: {}\n    \
                 test_command: \"{}\"\n    reload_command: \"{}\"\n",
                s.nginx.https_addr(),
                s.include(host).display(),
                s.nginx.command("-t"),
                s.nginx.command("-s reload"),
            );
            s.repo.write(&format!("sites/{host}.yaml"), &yaml);
        }
        s.repo.commit_all("desired state");
        s
    }

    /// The file siteward writes for `host`.
    fn include(&self, host: &str) -> PathBuf {
        self.nginx.path().join(format!("siteward/{host}.conf"))
    }

    /// The lock file git takes while it moves the audit branch.
    fn audit_lock(&self) -> PathBuf {
        self.repo.path().join(".git/refs/heads/siteward-audit.lock")
    }

    /// Creates (or keeps) the audit branch's lock file, last written `age` ago.
    fn audit_lock_aged(&self, age: Duration) {
        let path = self.audit_lock();
        std::fs::create_dir_all(path.parent().expect("refs/heads")).expect("mkdir");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("lock file");
        lock.set_modified(SystemTime::now() - age)
            .expect("backdate");
    }

    /// Run records on the audit branch, oldest first (none before the branch exists).
    fn records(&self) -> Vec<serde_json::Value> {
        let exists = std::process::Command::new("git")
            .arg("-C")
            .arg(self.repo.path())
            .args(["rev-parse", "--verify", "-q", "refs/heads/siteward-audit"])
            .output()
            .expect("run git")
            .status
            .success();
        if !exists {
            return Vec::new();
        }
        let files = self.repo.git(&[
            "log",
            "--reverse",
            "--name-only",
            "--format=",
            "siteward-audit",
        ]);
        files
            .lines()
            .filter(|l| l.ends_with(".json"))
            .map(|path| {
                let text = self.repo.git(&["show", &format!("siteward-audit:{path}")]);
                serde_json::from_str(&text).expect("record JSON")
            })
            .collect()
    }
}

/// `(result, message)` of every action of `site` in `record`.
fn actions(record: &serde_json::Value, site: &str) -> Vec<(String, String)> {
    record["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["site"] == site)
        .expect("site in record")["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["result"].as_str().unwrap_or("").to_owned(),
                a["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Files in the crash journal.
fn journal(repo: &Repo) -> Vec<String> {
    std::fs::read_dir(repo.path().join(".git/siteward/journal"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_ref_lock_left_by_a_killed_run_is_removed_and_the_run_recorded() {
    let s = Sites::start(&["a.test"]);
    // What a run SIGKILLed while moving the audit branch leaves behind, a minute ago.
    s.audit_lock_aged(Duration::from_secs(60));

    let out = s.repo.run(&["reconcile"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("warning: removed `")
            && out
                .stderr
                .contains("siteward-audit.lock`, a lock left 60s ago"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("recorded on `siteward-audit`"),
        "{}",
        out.stdout
    );
    assert!(!s.audit_lock().exists());
    let records = s.records();
    assert_eq!(records.len(), 1);
    assert_eq!(actions(&records[0], "a.test")[0].0, "applied");
}

#[test]
fn a_record_that_cannot_be_written_makes_the_run_refuse_to_act() {
    let s = Sites::start(&["a.test"]);
    // A branch named like a directory of the audit branch: `siteward-audit` cannot be created.
    s.repo.git(&["branch", "siteward-audit/old"]);

    let out = s.repo.run(&["reconcile"]);
    out.expect_code(1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(
            "error: cannot record on the audit branch `siteward-audit`, so nothing was changed: \
             `refs/heads/siteward-audit` cannot be created because ref \
             `refs/heads/siteward-audit/old` exists"
        ),
        "{}",
        out.stderr
    );
    assert!(!s.include("a.test").exists(), "the provider never ran");
    assert!(journal(&s.repo).is_empty());

    // Fixed, the next run acts and records.
    s.repo.git(&["branch", "-D", "siteward-audit/old"]);
    s.repo.run(&["reconcile"]).expect_code(0);
    assert!(s.include("a.test").exists());
    assert_eq!(s.records().len(), 1);
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_record_that_fails_after_acting_is_committed_by_the_next_run() {
    let s = Sites::start(&["a.test"]);
    // The audit branch gets locked after the site was changed, before the record is written.
    let out = s
        .repo
        .run_env(&["reconcile"], &[("SITEWARD_FAULT", "lock-audit-ref")]);
    out.expect_code(1);
    let first_run = out
        .stdout
        .split_whitespace()
        .nth(1)
        .expect("run id")
        .trim_end_matches(':')
        .to_owned();
    assert!(s.include("a.test").exists(), "the site was changed");
    assert!(
        out.stdout.contains("a.test") && out.stdout.contains("applied 1 change(s)"),
        "the summary is printed: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("not recorded: the record is kept in `"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(&format!(
            "error: cannot record run {first_run} on the audit branch `siteward-audit`; \
             the record is kept in `"
        )) && out
            .stderr
            .contains("the next run commits it: `refs/heads/siteward-audit` is locked by `"),
        "{}",
        out.stderr
    );
    assert_eq!(journal(&s.repo), [format!("{first_run}.record")]);
    assert!(s.records().is_empty());

    // The next run waits for the young lock to go stale, removes it, commits the kept record,
    // then its own.
    let out = s.repo.run(&["reconcile"]);
    out.expect_code(0);
    assert!(
        out.stderr
            .contains(&format!("recorded run {first_run} on `siteward-audit` as ")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!(
            "recorded earlier run {first_run} (kept in the crash journal)"
        )),
        "{}",
        out.stdout
    );
    let records = s.records();
    assert_eq!(records.len(), 2, "both runs are on the audit branch");
    assert_eq!(records[0]["run"]["id"], first_run.as_str());
    assert_eq!(actions(&records[0], "a.test")[0].0, "applied");
    assert_ne!(records[1]["run"]["id"], first_run.as_str());
    assert!(journal(&s.repo).is_empty(), "the kept record is gone");
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_panic_in_one_site_s_apply_fails_that_site_and_the_others_go_on() {
    let s = Sites::start(&["a.test", "b.test"]);
    let out = s
        .repo
        .run_env(&["reconcile"], &[("SITEWARD_FAULT", "panic-apply:a.test")]);
    out.expect_code(1);
    assert!(
        out.stdout.contains("recorded on `siteward-audit`"),
        "{}",
        out.stdout
    );
    let records = s.records();
    assert_eq!(records.len(), 1);
    let a = actions(&records[0], "a.test");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].0, "failed");
    assert!(
        a[0].1.contains(
            "siteward panicked while applying this site (fault injected: `panic-apply:a.test`)"
        ),
        "{}",
        a[0].1
    );
    assert_eq!(actions(&records[0], "b.test")[0].0, "applied");
    assert!(!s.include("a.test").exists());
    assert!(s.include("b.test").exists());
    assert!(journal(&s.repo).is_empty(), "no apply left half-journaled");
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_run_killed_while_recording_is_recorded_by_the_next_run() {
    let s = Sites::start(&["a.test"]);
    // SIGKILLed while moving the audit branch: the ref lock stays, the commit never lands.
    let out = s.repo.run_env(
        &["reconcile"],
        &[("SITEWARD_FAULT", "kill-while-recording")],
    );
    assert_eq!(out.code, -1, "killed by a signal: {}", out.stderr);
    assert!(s.include("a.test").exists(), "the site was changed");
    assert!(s.audit_lock().exists());
    let kept = journal(&s.repo);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let first_run = kept[0].trim_end_matches(".record").to_owned();
    // A minute later, the scheduled run.
    s.audit_lock_aged(Duration::from_secs(60));

    let out = s.repo.run(&["reconcile"]);
    out.expect_code(0);
    assert!(out.stderr.contains("warning: removed `"), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "recorded earlier run {first_run} (kept in the crash journal)"
        )),
        "{}",
        out.stdout
    );
    let records = s.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["run"]["id"], first_run.as_str());
    assert_eq!(actions(&records[0], "a.test")[0].0, "applied");
    assert!(journal(&s.repo).is_empty());
}
