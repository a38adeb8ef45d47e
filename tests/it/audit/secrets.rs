//! Secrets never reach Git or output: a header from `env:` and one from `file:` are resolved
//! with unique marker values, planned, recorded and logged; no object in the repository's
//! object database and no output contains a marker, while their digests do appear.

use std::collections::BTreeMap;
use std::path::Path;

use siteward::audit::{RunCommand, RunRecord, Trigger, record_run};
use siteward::git::Repo;
use siteward::plan::{self, Change, Plan, Resource, RunInfo, SyncStatus};
use siteward::secret;
use siteward::spec::HeaderRule;

use super::{author, branch, site_plan, spawn_helper};
use crate::support::git::{GitRepo, siteward};

/// Helper process: resolves the site's secrets from its own environment (set by the test),
/// plans and records like a run would, and prints the plan.
#[test]
#[ignore = "helper process, spawned by other tests"]
fn helper_secret_run() {
    let (Ok(repo_path), Ok(plan_out)) = (
        std::env::var("SW_HELPER_REPO"),
        std::env::var("SW_HELPER_PLAN"),
    ) else {
        return;
    };
    let root = Path::new(&repo_path);
    let state = siteward::load::load_repo(root).unwrap();
    let site = state.sites.values().next().unwrap();
    let mut changes = Vec::new();
    for (name, rule) in &site.headers {
        let HeaderRule::Secret(reference) = rule else {
            continue;
        };
        let value = secret::resolve(reference, root).unwrap();
        changes.push(Change {
            resource: Resource::Header,
            key: name.to_string(),
            action: plan::Action::Change,
            // The live value an observer saw: an older key, redacted the same way.
            live: Some(secret::shown(&format!("old-{}", value))),
            desired: Some(secret::shown(&value)),
            provider: None,
            applicable: false,
        });
        eprintln!("resolved {name}: {value:?}");
    }
    assert_eq!(changes.len(), 2);
    let repo = Repo::open(root).unwrap();
    let plan = Plan::new(
        RunInfo {
            id: "20261129T100000Z-secret01".into(),
            started: "2026-11-29T10:00:00Z".into(),
            desired_commit: repo.head_commit().unwrap().map(|c| c.to_string()),
        },
        vec![site_plan(site.name.as_str(), SyncStatus::Drift, changes)],
    );
    siteward::saved_plan::write(Path::new(&plan_out), &plan).unwrap();
    println!("{}", serde_json::to_string_pretty(&plan).unwrap());
    let record = RunRecord::from_plan(
        &plan,
        RunCommand::Plan,
        Trigger::from_env(Some("test")),
        chrono::Utc::now(),
        BTreeMap::new(),
    );
    record_run(&repo, &branch(), &author(), &record).unwrap();
}

#[test]
fn secrets_never_reach_git_objects_or_output() {
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let env_marker = format!("SWMARK-ENV-{nonce}");
    let file_marker = format!("SWMARK-FILE-{nonce}");
    let outside = tempfile::tempdir().unwrap();
    let token = outside.path().join("token.txt");
    std::fs::write(&token, format!("{file_marker}\n")).unwrap();
    let plan_file = outside.path().join("plan.json");

    let state = GitRepo::new();
    state.write(
        "sites/secret.example.yaml",
        &format!(
            "name: secret.example\nurl: https://secret.example/\nheaders:\n  \
X-Api-Key: env:SW_TEST_SECRET\n  X-Other-Token: file:{}\n",
            token.display()
        ),
    );
    state.commit("site with secret headers");

    let child = spawn_helper(
        "audit::secrets::helper_secret_run",
        &[
            ("SW_HELPER_REPO", state.path().to_str().unwrap()),
            ("SW_HELPER_PLAN", plan_file.to_str().unwrap()),
            ("SW_TEST_SECRET", &env_marker),
        ],
    );
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "helper failed: {stdout}\n{stderr}");

    let env_digest = secret::shown(&env_marker);
    let file_digest = secret::shown(&file_marker);
    let plan_text = std::fs::read_to_string(&plan_file).unwrap();
    let no_marker = |what: &str, text: &str| {
        assert!(
            !text.contains(&env_marker),
            "{what} contains the env secret"
        );
        assert!(
            !text.contains(&file_marker),
            "{what} contains the file secret"
        );
    };
    // Not vacuous: the run did resolve both secrets and recorded their digests.
    assert!(
        stdout.contains(&env_digest) && stdout.contains(&file_digest),
        "{stdout}"
    );
    no_marker("helper stdout", &stdout);
    no_marker("helper stderr", &stderr);
    no_marker("saved plan", &plan_text);

    // Every object in the object database: all blobs, trees and commits of all branches.
    let objects = std::process::Command::new("git")
        .arg("-C")
        .arg(state.path())
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .output()
        .unwrap();
    assert!(objects.status.success());
    let objects = String::from_utf8_lossy(&objects.stdout);
    assert!(
        objects.contains(&env_digest),
        "the record is not in the object database"
    );
    no_marker("a git object", &objects);

    for args in [
        vec!["log", "--diff"],
        vec!["log", "--format", "json"],
        vec!["-vv", "log", "--diff", "--site", "secret.example"],
    ] {
        let out = siteward(state.path()).args(&args).expect_code(0);
        assert!(
            out.stdout.contains(&file_digest),
            "{args:?}: {}",
            out.stdout
        );
        no_marker("siteward log stdout", &out.stdout);
        no_marker("siteward log stderr", &out.stderr);
    }
    let git_log = state.git(&["log", "-p", "--all"]);
    no_marker("git log -p --all", &git_log);
}
