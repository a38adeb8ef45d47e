//! What the binary prints for people: warnings go through one channel on stderr, uncoloured
//! when stderr is not a terminal, and `-q` silences them and the per-site lines.

use super::reconcile::Fleet;
use super::support::Repo;

#[test]
fn warnings_are_plain_on_a_pipe_and_quiet_silences_them() {
    let repo = Repo::new();
    repo.write("siteward.yaml", "concurrency: 4\n");
    repo.commit_all("no sites yet");
    // NO_COLOR empty means "colour allowed": only the pipe may turn it off.
    let out = repo.run_env(&["plan"], &[("NO_COLOR", "")]);
    assert!(
        out.stderr.contains("warning: no site files under"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let quiet = repo.run_env(&["-q", "plan"], &[("NO_COLOR", "")]);
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
}

#[test]
fn quiet_apply_prints_the_summary_without_a_line_per_site() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    f.repo.commit_all("one header");
    let out = f.repo.run(&["-q", "apply"]);
    out.expect_code(0);
    assert!(out.stdout.contains("1 site(s)"), "{}", out.stdout);
    assert!(!out.stdout.contains("a.test"), "{}", out.stdout);
    let loud = f.repo.run(&["apply"]);
    assert!(loud.stdout.contains("a.test"), "{}", loud.stdout);
}

/// Flags are checked before the repo is read: a bad value is the error, not a missing repo.
#[test]
fn flags_are_validated_before_the_repo_is_read() {
    let missing = std::env::temp_dir().join("siteward-no-such-repo-for-flags");
    let repo = missing.to_str().expect("utf-8");
    for (flag, value, says) in [
        ("--timeout", "0", "`--timeout 0` must be"),
        (
            "--timeout",
            "1e30",
            "must be a number of seconds above 0 and at most 3600",
        ),
        (
            "--concurrency",
            "0",
            "`--concurrency 0` must be between 1 and 4096",
        ),
        (
            "--per-host",
            "999999",
            "`--per-host 999999` must be between 1 and 256",
        ),
        ("--shard", "3/2", "shard"),
    ] {
        for command in ["plan", "apply", "reconcile", "check"] {
            let out = super::support::siteward(&["--repo", repo, command, flag, value]);
            out.expect_code(1);
            assert!(
                out.stderr.contains(says) && !out.stderr.contains("siteward-no-such-repo"),
                "{command} {flag} {value}: {}",
                out.stderr
            );
        }
    }
}

/// With `SITEWARD_DIGEST_KEY`, secret digests are keyed: a short secret cannot be found by
/// hashing guesses.
#[test]
fn a_digest_key_makes_secret_digests_keyed() {
    let f = Fleet::start(&["a.test"]);
    f.site(
        "a.test",
        "auto",
        "headers:\n  X-Token: env:SITEWARD_IT_TOKEN\n",
    );
    f.repo.commit_all("a secret header");
    let env = [("SITEWARD_IT_TOKEN", "1234")];
    let plain = f.repo.run_env(&["plan", "--format", "json"], &env);
    let plain = plain.json()["sites"][0]["changes"][0]["desired"].clone();
    assert!(
        plain.as_str().unwrap_or("").starts_with("<secret sha256:"),
        "{plain}"
    );
    let keyed = f.repo.run_env(
        &["plan", "--format", "json"],
        &[
            env[0],
            ("SITEWARD_DIGEST_KEY", "a long key from the CI secret store"),
        ],
    );
    let keyed = keyed.json()["sites"][0]["changes"][0]["desired"].clone();
    let keyed = keyed.as_str().unwrap_or("");
    assert!(keyed.starts_with("<secret hmac-sha256:"), "{keyed}");
    assert!(!keyed.contains("1234"));
}

/// `--shard auto` on a Kubernetes Indexed Job: N shards, each from `JOB_COMPLETION_INDEX`,
/// cover every site exactly once.
#[test]
fn shard_auto_splits_the_fleet_exactly_once() {
    let repo = Repo::new();
    let dead = super::support::refused_port();
    let names: Vec<String> = (1..=7).map(|i| format!("s{i}.test")).collect();
    for name in &names {
        repo.write(
            &format!("sites/{name}.yaml"),
            &format!(
                "name: {name}\nurl: https://{name}/\nconnect: 127.0.0.1:{}\n",
                dead.port
            ),
        );
    }
    repo.commit_all("seven sites");
    let mut seen: Vec<String> = Vec::new();
    for index in 0..3 {
        let index = index.to_string();
        let out = repo.run_env(
            &["plan", "--shard", "auto", "--format", "json"],
            &[
                ("JOB_COMPLETION_INDEX", &index),
                ("SITEWARD_SHARD_COUNT", "3"),
            ],
        );
        for site in out.json()["sites"].as_array().expect("sites") {
            seen.push(site["site"].as_str().unwrap_or_default().to_owned());
        }
    }
    seen.sort();
    assert_eq!(seen, names, "every site exactly once");
    let none = repo.run(&["plan", "--shard", "auto"]);
    none.expect_code(1);
    assert!(
        none.stderr.contains("no shard variables found"),
        "{}",
        none.stderr
    );
}

/// `--deadline` bounds the whole run: sites not observed by then are `unknown` (exit 1), and
/// the flag is validated before anything is read.
#[test]
fn a_deadline_bounds_the_run() {
    let f = Fleet::start(&["a.test"]);
    f.site("a.test", "auto", "headers:\n  X-Frame-Options: DENY\n");
    // A second site that never answers (accepts, then stays silent).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = silent.local_addr().expect("addr").port();
    f.repo.write(
        "sites/slow.test.yaml",
        &format!("name: slow.test\nurl: https://slow.test/\nconnect: 127.0.0.1:{port}\n"),
    );
    f.repo.commit_all("one good site, one silent one");
    let started = std::time::Instant::now();
    let out = f.repo.run(&[
        "plan",
        "--format",
        "json",
        "--timeout",
        "60",
        "--deadline",
        "2",
    ]);
    out.expect_code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(50),
        "the deadline, not the 60 s timeout, ended the run"
    );
    let doc = out.json();
    let slow = doc["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["site"] == "slow.test")
        .expect("slow.test");
    assert_eq!(slow["sync"], "unknown", "{doc}");
    let bad = f.repo.run(&["plan", "--deadline", "0"]);
    bad.expect_code(1);
    assert!(
        bad.stderr.contains("`--deadline 0` must be"),
        "{}",
        bad.stderr
    );
}

/// `plan` shows what `siteward check` would report, compactly (issue #12): active findings of
/// medium severity and above, in every format.
#[test]
fn plan_shows_check_findings_compactly() {
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "policies/rules.yaml",
        "name: rules\nrules:\n  - id: frame-protection\n    severity: high\n    \
         header_present: X-Frame-Options\n  - id: no-sniff\n    severity: low\n    \
         header_present: X-Content-Type-Options\n",
    );
    f.site(
        "a.test",
        "auto",
        "policies: [rules]\nheaders:\n  X-Team: web\n",
    );
    f.repo.commit_all("a site without security headers");
    let doc = f.repo.run(&["plan", "--format", "json"]).json();
    let findings = doc["sites"][0]["findings"]
        .as_array()
        .expect("findings")
        .clone();
    assert!(!findings.is_empty(), "{doc}");
    let check = f.repo.run(&["check", "--format", "json"]).json();
    for finding in &findings {
        let rule = finding["rule"].as_str().unwrap_or_default();
        assert!(
            check["sites"][0]["findings"]
                .as_array()
                .expect("check findings")
                .iter()
                .any(|c| c["rule"] == rule && c["severity"] == finding["severity"]),
            "plan finding `{rule}` is not what check reports: {check}"
        );
        assert_ne!(finding["severity"], "low");
    }
    let rules: Vec<&str> = findings.iter().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.contains(&"frame-protection"), "{rules:?}");
    assert!(
        !rules.contains(&"no-sniff"),
        "low findings stay in `check`: {rules:?}"
    );
    let text = f.repo.run(&["plan"]);
    assert!(text.stdout.contains("  finding "), "{}", text.stdout);
    let md = f.repo.run(&["plan", "--format", "markdown"]);
    assert!(md.stdout.contains("### Findings"), "{}", md.stdout);
}
