//! The audit log in Git (issue #4): records committed without touching the working tree,
//! parallel recorders that lose nothing, pushes that replay instead of force, `siteward log`,
//! the repo lock, `--changed-since`, secrets, and the CI examples.

pub(crate) mod ci_examples;
mod select;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use siteward::audit::{
    ActionRecord, ActionResult, RunCommand, RunRecord, Trigger, push_audit, record_kept, record_run,
};
use siteward::git::{Identity, Repo};
use siteward::plan::{self, Change, Health, Plan, Resource, RunInfo, SitePlan, SyncStatus};
use siteward::spec::BranchName;

use crate::support::git::{GitDaemon, GitRepo, siteward};
use crate::support::wait;

const BRANCH: &str = "siteward-audit";

/// Generous: these remotes answer.
const PUSH_TIMEOUT: Duration = Duration::from_secs(60);

pub fn branch() -> BranchName {
    BRANCH.parse().expect("valid branch")
}

pub fn author() -> Identity {
    "siteward test <audit@example.org>"
        .parse()
        .expect("identity")
}

pub fn header_change(key: &str, live: &str, desired: &str) -> Change {
    Change {
        resource: Resource::Header,
        key: key.into(),
        action: plan::Action::Change,
        live: Some(live.into()),
        desired: Some(desired.into()),
        provider: Some("nginx".into()),
        applicable: true,
        step: plan::Step::Apply,
        reason: None,
    }
}

pub fn site_plan(site: &str, sync: SyncStatus, changes: Vec<Change>) -> SitePlan {
    SitePlan {
        site: site.into(),
        sync,
        health: Health::Healthy,
        observed_sha256: Some("0".repeat(64)),
        desired_sha256: "1".repeat(64),
        changes,
        checks: vec![],
        error: None,
        warnings: vec![],
        unobserved: vec![],
        manage_changes: vec![],
        findings: vec![],
        vulnerabilities: vec![],
        software_source: None,
    }
}

/// A record of run `id` started at `started` over `sites`, with one applied action on each
/// drifting site.
pub fn record(id: &str, started: &str, sites: Vec<SitePlan>) -> RunRecord {
    let plan = Plan::new(
        RunInfo {
            id: id.into(),
            started: started.into(),
            desired_commit: Some("f".repeat(40)),
        },
        sites,
    );
    let actions: BTreeMap<String, Vec<ActionRecord>> = plan
        .sites
        .iter()
        .filter(|s| s.sync == SyncStatus::Drift)
        .map(|s| {
            let a = ActionRecord {
                resource: Resource::Header,
                key: s.changes[0].key.clone(),
                action: plan::Action::Change,
                result: ActionResult::Applied,
                message: None,
                retry_after: None,
            };
            (s.site.clone(), vec![a])
        })
        .collect();
    let finished = chrono::DateTime::parse_from_rfc3339(started)
        .expect("rfc 3339")
        .to_utc();
    RunRecord::from_plan(
        &plan,
        RunCommand::Reconcile,
        Trigger::default(),
        finished,
        actions,
    )
}

/// A state repo with one commit on `main`.
fn state_repo() -> GitRepo {
    let repo = GitRepo::new();
    repo.write(
        "sites/shop.example.nl.yaml",
        "name: shop.example.nl\nurl: https://shop.example.nl/\n",
    );
    repo.commit("initial state");
    repo
}

/// Runs this test binary's ignored helper test `name` as a separate process.
pub fn spawn_helper(name: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary path"));
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn helper process")
}

#[test]
fn records_are_committed_without_touching_the_working_tree_and_logged() {
    let state = state_repo();
    let repo = Repo::open(state.path()).unwrap();
    let drift = site_plan(
        "shop.example.nl",
        SyncStatus::Drift,
        vec![header_change("x-frame-options", "SAMEORIGIN", "DENY")],
    );
    let calm = site_plan("www.example.com", SyncStatus::InSync, vec![]);
    let runs = [
        ("20261127T090000Z-aaaa0001", "2026-11-27T09:00:00Z"),
        ("20261128T090000Z-aaaa0002", "2026-11-28T09:00:00Z"),
        ("20261129T100000Z-aaaa0003", "2026-11-29T10:00:00Z"),
    ];
    let mut commits = Vec::new();
    for (id, started) in runs {
        let rec = record(id, started, vec![drift.clone(), calm.clone()]);
        commits.push(record_run(&repo, &branch(), &author(), &rec).unwrap());
    }

    // The first commit is an orphan; each next one has exactly the previous as parent.
    let first = commits[0].to_string();
    assert_eq!(
        state.git(&["rev-list", "--parents", "-n1", &first]).trim(),
        first
    );
    assert_eq!(state.git(&["rev-list", "--count", BRANCH]).trim(), "3");
    assert_eq!(state.git(&["rev-list", "--merges", BRANCH]).trim(), "");
    let files = state.git(&["ls-tree", "-r", "--name-only", BRANCH]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        [
            "audit/2026/11/27/20261127T090000Z-aaaa0001.json",
            "audit/2026/11/28/20261128T090000Z-aaaa0002.json",
            "audit/2026/11/29/20261129T100000Z-aaaa0003.json",
        ]
    );
    // `git log` alone is a readable audit.
    let msg = state.git(&["log", "-1", "--format=%an <%ae>%n%aI%n%B", BRANCH]);
    assert_eq!(
        msg.trim(),
        "siteward test <audit@example.org>\n2026-11-29T10:00:00Z\n\
reconcile: 2 sites, 1 applied, 1 drift\n\n\
Siteward-Run: 20261129T100000Z-aaaa0003\nSiteward-Sites: shop.example.nl, www.example.com"
    );
    let trailers = state.git(&[
        "log",
        "-1",
        "--format=%(trailers:key=Siteward-Run,valueonly)",
        BRANCH,
    ]);
    assert_eq!(trailers.trim(), "20261129T100000Z-aaaa0003");
    // Working tree, index and HEAD untouched.
    assert_eq!(state.git(&["status", "--porcelain"]), "");
    assert_eq!(
        state.git(&["symbolic-ref", "HEAD"]).trim(),
        "refs/heads/main"
    );
    assert!(!state.path().join("audit").exists());
    let stored = state.git(&[
        "show",
        &format!("{BRANCH}:audit/2026/11/29/20261129T100000Z-aaaa0003.json"),
    ]);
    let json: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["run"]["command"], "reconcile");
    assert_eq!(json["sites"][0]["actions"][0]["result"], "applied");
    assert_eq!(json["sites"][0]["changes"][0]["desired"], "DENY");

    // Text log: newest first, one line per run and site.
    let out = siteward(state.path()).args(["log"]).expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    assert_eq!(
        lines[0],
        "2026-11-29T10:00:00Z  20261129T100000Z-aaaa0003  reconcile  shop.example.nl  drift  1 change, 1 applied"
    );
    assert_eq!(
        lines[1],
        "2026-11-29T10:00:00Z  20261129T100000Z-aaaa0003  reconcile  www.example.com  in_sync  0 changes"
    );
    assert!(lines[5].contains("20261127T090000Z-aaaa0001"));

    // --diff shows each change.
    let out = siteward(state.path())
        .args(["log", "--diff", "--limit", "1"])
        .expect_code(0);
    assert_eq!(
        out.stdout,
        "2026-11-29T10:00:00Z  20261129T100000Z-aaaa0003  reconcile  shop.example.nl  drift  1 change, 1 applied\n    \
~ header x-frame-options: \"SAMEORIGIN\" -> \"DENY\"\n    = applied header x-frame-options\n"
    );

    // JSON, filters.
    let out = siteward(state.path())
        .args([
            "log",
            "--format",
            "json",
            "--site",
            "shop.example.nl",
            "--since",
            "2026-11-28",
        ])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["run"], "20261129T100000Z-aaaa0003");
    assert_eq!(entries[0]["commit"], commits[2].to_string());
    assert_eq!(entries[0]["time"], "2026-11-29T10:00:00Z");
    assert_eq!(entries[0]["command"], "reconcile");
    assert_eq!(entries[0]["site"], "shop.example.nl");
    assert_eq!(entries[0]["sync"], "drift");
    assert_eq!(entries[0]["health"], "healthy");
    assert_eq!(entries[0]["changes"][0]["key"], "x-frame-options");
    assert_eq!(entries[0]["actions"][0]["result"], "applied");
    assert_eq!(entries[1]["run"], "20261128T090000Z-aaaa0002");
    let out = siteward(state.path())
        .args(["log", "--format", "json", "--until", "2026-11-28"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let runs: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["run"].as_str().unwrap())
        .collect();
    assert_eq!(
        runs,
        ["20261127T090000Z-aaaa0001", "20261127T090000Z-aaaa0001"]
    );

    let out = siteward(state.path())
        .args(["log", "--since", "yesterday"])
        .expect_code(1);
    assert!(
        out.stderr
            .contains("`--since yesterday` is not a date; write YYYY-MM-DD"),
        "{}",
        out.stderr
    );
}

/// `siteward log` takes records from the tip's tree: a commit whose record was later removed,
/// rewritten by hand or recorded again under the same run id still shows its own.
#[test]
fn log_shows_each_commit_s_own_record_when_later_commits_removed_or_rewrote_it() {
    let state = state_repo();
    let repo = Repo::open(state.path()).unwrap();
    let shop = |sync| site_plan("shop.example.nl", sync, vec![]);
    let run = |id: &str, started: &str, sync| {
        record_run(
            &repo,
            &branch(),
            &author(),
            &record(id, started, vec![shop(sync)]),
        )
        .unwrap()
    };
    run(
        "20261127T090000Z-cccc0001",
        "2026-11-27T09:00:00Z",
        SyncStatus::InSync,
    );
    run(
        "20261128T090000Z-cccc0002",
        "2026-11-28T09:00:00Z",
        SyncStatus::InSync,
    );
    run(
        "20261129T090000Z-cccc0003",
        "2026-11-29T09:00:00Z",
        SyncStatus::InSync,
    );
    // By hand, without trailers: rewrite the first record, remove the second.
    state.git(&["checkout", "-q", BRANCH]);
    let first = "audit/2026/11/27/20261127T090000Z-cccc0001.json";
    let text = std::fs::read_to_string(state.path().join(first)).unwrap();
    state.write(
        first,
        &text.replace(r#""sync": "in_sync""#, r#""sync": "unknown""#),
    );
    state.git(&[
        "rm",
        "-q",
        "audit/2026/11/28/20261128T090000Z-cccc0002.json",
    ]);
    state.git(&["add", "-A"]);
    let at = "--date=2026-11-29T12:00:00Z";
    state.git(&["commit", "-q", at, "-m", "edit the audit by hand"]);
    state.git(&["checkout", "-q", "main"]);
    // The third run recorded again under its own id.
    run(
        "20261129T090000Z-cccc0003",
        "2026-11-29T09:00:00Z",
        SyncStatus::Unknown,
    );

    let out = siteward(state.path())
        .args(["log", "--format", "json"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let entries: Vec<(&str, &str)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["run"].as_str().unwrap(), e["sync"].as_str().unwrap()))
        .collect();
    assert_eq!(
        entries,
        [
            ("20261129T090000Z-cccc0003", "unknown"),
            // The hand edit adds no record of its own: its diff shows the rewritten one.
            ("20261127T090000Z-cccc0001", "unknown"),
            ("20261129T090000Z-cccc0003", "in_sync"),
            ("20261128T090000Z-cccc0002", "in_sync"),
            ("20261127T090000Z-cccc0001", "in_sync"),
        ]
    );
    // Filtered out, a newer commit still keeps older ones reading their own records.
    let out = siteward(state.path())
        .args(["log", "--until", "2026-11-29"])
        .expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].contains("cccc0002  reconcile  shop.example.nl  in_sync"),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].contains("cccc0001  reconcile  shop.example.nl  in_sync"),
        "{}",
        out.stdout
    );
}

#[test]
fn log_without_audit_branch_is_empty_and_reads_remote_tracking_branches() {
    let state = state_repo();
    let out = siteward(state.path())
        .args(["log", "--format", "json"])
        .expect_code(0);
    assert_eq!(out.stdout.trim(), r#"{"version":1,"entries":[]}"#);

    // A branch configured in siteward.yaml, then read as a remote-tracking branch.
    state.write("siteward.yaml", "audit:\n  branch: ops-audit\n");
    state.commit("audit branch setting");
    let repo = Repo::open(state.path()).unwrap();
    let rec = record(
        "20261129T100000Z-bbbb0001",
        "2026-11-29T10:00:00Z",
        vec![site_plan("shop.example.nl", SyncStatus::InSync, vec![])],
    );
    let ops: BranchName = "ops-audit".parse().unwrap();
    record_run(&repo, &ops, &author(), &rec).unwrap();
    let out = siteward(state.path()).args(["log"]).expect_code(0);
    assert!(out.stdout.contains("bbbb0001"), "{}", out.stdout);

    let remote = GitRepo::bare();
    let url = remote.path().to_str().unwrap();
    state.git(&["remote", "add", "origin", url]);
    state.git(&["push", "-q", "origin", "ops-audit"]);
    state.git(&["branch", "-D", "ops-audit"]);
    state.git(&["fetch", "-q", "origin"]);
    let out = siteward(state.path())
        .args(["log", "--audit-branch", "origin/ops-audit"])
        .expect_code(0);
    assert!(out.stdout.contains("bbbb0001"), "{}", out.stdout);
    let out = siteward(state.path())
        .args(["log", "--audit-branch", "origin/typo"])
        .expect_code(1);
    assert!(
        out.stderr
            .contains("no branch `origin/typo` (local or remote-tracking)"),
        "{}",
        out.stderr
    );
}

#[test]
fn parallel_siteward_processes_lose_no_record() {
    // Eight real `siteward plan --record` processes on one repo, started together. The site
    // refuses connections (loopback, closed port), so each run is quick and records `unknown`.
    let state = GitRepo::new();
    let refused = crate::support::refused_port();
    state.write(
        "sites/down.test.yaml",
        &format!(
            "name: down.test\nurl: https://down.test/\nconnect: 127.0.0.1:{}\n",
            refused.port
        ),
    );
    state.commit("a site");
    let children: Vec<Child> = (0..8)
        .map(|_| {
            crate::support::command(env!("CARGO_BIN_EXE_siteward"))
                .args([
                    "--repo",
                    state.path().to_str().unwrap(),
                    "plan",
                    "--record",
                    "--format",
                    "json",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "an unknown site exits 1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        state.git(&["rev-list", "--count", "siteward-audit"]).trim(),
        "8"
    );
    assert_eq!(
        state
            .git(&["rev-list", "--merges", "siteward-audit"])
            .trim(),
        ""
    );
    let files = state.git(&["ls-tree", "-r", "--name-only", "siteward-audit"]);
    assert_eq!(files.lines().count(), 8, "{files}");
    let out = siteward(state.path())
        .args(["log", "--format", "json"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["entries"].as_array().map(Vec::len), Some(8));
    assert!(
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["sync"] == "unknown")
    );
}

#[test]
fn parallel_recorder_threads_lose_nothing() {
    let state = state_repo();
    std::thread::scope(|s| {
        for t in 0..8 {
            let path = state.path();
            s.spawn(move || {
                let repo = Repo::open(path).unwrap();
                for i in 0..4 {
                    let rec = record(
                        &format!("20261129T100000Z-t{t}i{i}"),
                        "2026-11-29T10:00:00Z",
                        vec![site_plan("shop.example.nl", SyncStatus::InSync, vec![])],
                    );
                    record_run(&repo, &branch(), &author(), &rec).unwrap();
                }
            });
        }
    });
    assert_eq!(state.git(&["rev-list", "--count", BRANCH]).trim(), "32");
    let files = state.git(&["ls-tree", "-r", "--name-only", BRANCH]);
    assert_eq!(files.lines().count(), 32);
}

/// Helper process for `repo_lock_waits_times_out_and_is_free_after_the_holder_dies`.
#[test]
#[ignore = "helper process, spawned by other tests"]
fn helper_lock_holder() {
    let (Ok(git_dir), Ok(ready)) = (
        std::env::var("SW_HELPER_GIT_DIR"),
        std::env::var("SW_HELPER_READY"),
    ) else {
        return;
    };
    let _lock =
        siteward::lock::RepoLock::acquire(Path::new(&git_dir), "state", Duration::ZERO).unwrap();
    std::fs::write(&ready, "").unwrap();
    // Held until killed: the lock file stays behind, as after a crash.
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn repo_lock_waits_times_out_and_is_free_after_the_holder_dies() {
    use siteward::lock::RepoLock;
    let state = state_repo();
    let git_dir = state.path().join(".git");
    let ready = git_dir.join("ready");
    let mut holder = spawn_helper(
        "audit::helper_lock_holder",
        &[
            ("SW_HELPER_GIT_DIR", git_dir.to_str().unwrap()),
            ("SW_HELPER_READY", ready.to_str().unwrap()),
        ],
    );
    wait::until("the holder to take the lock", wait::STARTUP, || {
        ready.exists()
    });
    let lock_text = std::fs::read_to_string(git_dir.join("siteward.lock")).unwrap();
    assert!(
        lock_text.contains(&format!("pid {}", holder.id())),
        "{lock_text}"
    );

    let start = Instant::now();
    let err = RepoLock::acquire(&git_dir, "state", Duration::from_millis(300)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(300));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "another siteward run (pid {} on host ",
            holder.id()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("holds the lock on state; waited 300ms"),
        "{msg}"
    );
    assert!(
        msg.contains("try again when it has finished, or raise `--lock-timeout`"),
        "{msg}"
    );

    // The holder is killed without releasing: the kernel drops its lock with the process, so
    // the file it leaves behind holds nobody.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let lock = RepoLock::acquire(&git_dir, "state", Duration::from_secs(30)).unwrap();
    assert_eq!(lock.owner().pid, std::process::id());
    drop(lock);
    let left = std::fs::read_to_string(git_dir.join("siteward.lock")).unwrap();
    assert!(left.is_empty(), "a released lock names no owner: {left}");
}

/// Another runner: a separate clone that records a run and pushes it with the system `git`
/// (a separate process) to `url`.
fn other_runner_pushes(url: &str, id: &str, from_remote: bool) -> String {
    let other = GitRepo::new();
    other.commit("other runner's checkout");
    other.git(&["remote", "add", "origin", url]);
    if from_remote {
        other.git(&["fetch", "-q", "origin", &format!("{BRANCH}:{BRANCH}")]);
    }
    let repo = Repo::open(other.path()).unwrap();
    let rec = record(
        id,
        "2026-11-29T11:00:00Z",
        vec![site_plan("www.example.com", SyncStatus::InSync, vec![])],
    );
    let commit = record_run(&repo, &branch(), &author(), &rec).unwrap();
    other.git(&["push", "-q", "origin", BRANCH]);
    commit.to_string()
}

/// Our record, someone else's push, then our push: both records end up on the remote, in a
/// linear history that still contains the other runner's commit (no force).
fn push_replays_onto_a_moved_remote(url: &str, remote_dir: &Path, other_is_orphan: bool) {
    let ours = state_repo();
    ours.git(&["remote", "add", "origin", url]);
    let repo = Repo::open(ours.path()).unwrap();
    let first = record(
        "20261129T100000Z-ours0001",
        "2026-11-29T10:00:00Z",
        vec![site_plan("shop.example.nl", SyncStatus::InSync, vec![])],
    );
    record_run(&repo, &branch(), &author(), &first).unwrap();
    if !other_is_orphan {
        let report = push_audit(&repo, "origin", &branch(), PUSH_TIMEOUT).unwrap();
        assert_eq!((report.replayed, report.attempts), (0, 1));
    }
    let second = record(
        "20261129T120000Z-ours0002",
        "2026-11-29T12:00:00Z",
        vec![site_plan("shop.example.nl", SyncStatus::InSync, vec![])],
    );
    record_run(&repo, &branch(), &author(), &second).unwrap();

    let theirs = other_runner_pushes(url, "20261129T110000Z-them0001", !other_is_orphan);

    let report = push_audit(&repo, "origin", &branch(), PUSH_TIMEOUT).unwrap();
    assert_eq!(report.attempts, 2, "{report:?}");
    assert_eq!(report.replayed, if other_is_orphan { 2 } else { 1 });

    let remote = |args: &[&str]| {
        let out = crate::support::command("git")
            .arg("--git-dir")
            .arg(remote_dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tip = remote(&["rev-parse", BRANCH]);
    assert_eq!(tip.trim(), report.tip.to_string());
    let files = remote(&["ls-tree", "-r", "--name-only", BRANCH]);
    for id in ["ours0001", "them0001", "ours0002"] {
        assert!(files.contains(id), "{id} missing on the remote: {files}");
    }
    assert_eq!(remote(&["rev-list", "--merges", BRANCH]).trim(), "");
    // Not forced: the other runner's commit is still in the remote's history.
    remote(&["merge-base", "--is-ancestor", &theirs, BRANCH]);
    // Three records, three commits: nothing was lost or duplicated.
    assert_eq!(remote(&["rev-list", "--count", BRANCH]).trim(), "3");
    // Our local branch now equals the remote's.
    assert_eq!(ours.git(&["rev-parse", BRANCH]), tip);
}

#[test]
fn push_to_a_bare_repo_replays_on_a_moved_tip_without_force() {
    let remote = GitRepo::bare();
    let url = remote.path().to_str().unwrap().to_owned();
    push_replays_onto_a_moved_remote(&url, remote.path(), false);
}

#[test]
fn push_over_git_daemon_replays_onto_an_unrelated_first_push() {
    let remote = GitRepo::bare();
    let base = remote.path().parent().unwrap();
    let daemon = GitDaemon::start(base);
    let url = format!("git://127.0.0.1:{}/remote.git", daemon.port);
    push_replays_onto_a_moved_remote(&url, remote.path(), true);
}

#[test]
fn push_refuses_without_a_local_branch() {
    let state = state_repo();
    let remote = GitRepo::bare();
    let repo = Repo::open(state.path()).unwrap();
    let err = push_audit(
        &repo,
        remote.path().to_str().unwrap(),
        &branch(),
        PUSH_TIMEOUT,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no local audit branch `siteward-audit` to push; record a run first"
    );
}

#[test]
fn push_to_a_remote_that_never_answers_times_out_and_the_record_stays() {
    // A git server that accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let state = GitRepo::new();
    state.write("README.md", "no sites yet\n");
    state.commit("empty state");
    let url = format!("git://127.0.0.1:{port}/audit.git");

    let started = Instant::now();
    // `--timeout 0.5` bounds each git push/fetch at 6 × 0.5 s.
    let out = siteward(state.path())
        .args(["reconcile", "--timeout", "0.5", "--push", &url])
        .expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        out.stderr.contains(&format!(
            "error: cannot push `siteward-audit` to `{url}`; the record is safe on the local \
             branch, push it later: `{url}` did not answer within 3s (`git push --porcelain {url}"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("recorded on `siteward-audit`"),
        "{}",
        out.stdout
    );
    state.git(&["rev-parse", "--verify", "refs/heads/siteward-audit"]);
}

#[test]
fn a_kept_record_is_committed_once() {
    let state = state_repo();
    let repo = Repo::open(state.path()).unwrap();
    let rec = record(
        "20260301T120000Z-kept0001",
        "2026-03-01T12:00:00Z",
        vec![site_plan("shop.example.nl", SyncStatus::InSync, vec![])],
    );
    let json = serde_json::to_vec_pretty(&rec).unwrap();
    let (run, first) = record_kept(&repo, &branch(), &author(), &json).unwrap();
    assert_eq!(run, "20260301T120000Z-kept0001");
    assert!(first.is_some());
    // Committed, then killed before the kept copy was removed: the next run adds nothing.
    let (_, again) = record_kept(&repo, &branch(), &author(), &json).unwrap();
    assert_eq!(again, None);
    assert_eq!(state.git(&["rev-list", "--count", BRANCH]).trim(), "1");
    let damaged = record_kept(&repo, &branch(), &author(), b"{\"version\":1").unwrap_err();
    assert!(
        matches!(damaged, siteward::audit::AuditError::Json(_)),
        "{damaged}"
    );
}
