//! Fleet scale (issue #13): sites on one server are applied as one batch — one config test,
//! one reload, verification in parallel — and a failing batch is narrowed down to exactly the
//! failing sites, against a real nginx.

use super::reconcile::{Fleet, results, site_record};

const HOSTS: [&str; 6] = ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"];

/// Test and reload commands that log each call to `log` and then run the real nginx command;
/// the test fails, like a deploy hook's check would, when a managed file contains `BREAK`.
fn logged(f: &Fleet, log: &std::path::Path) -> (String, String) {
    let dir = f.nginx.path().join("siteward");
    let test = format!(
        "sh -c 'echo test >> {log}; if grep -ls BREAK {dir}/*.conf; then exit 1; fi; {}'",
        f.nginx.command("-t"),
        log = log.display(),
        dir = dir.display()
    );
    let reload = format!(
        "sh -c 'echo reload >> {log}; {}'",
        f.nginx.command("-s reload"),
        log = log.display()
    );
    (test, reload)
}

fn calls(log: &std::path::Path, what: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == what)
        .count()
}

#[test]
fn one_test_and_one_reload_for_every_site_on_a_server() {
    let f = Fleet::start(&HOSTS);
    let log = f.repo.path().join("calls.log");
    let (test, reload) = logged(&f, &log);
    for host in HOSTS {
        let extra = format!("headers:\n  X-Site: '{host}'\n");
        f.write_site(host, "auto", &extra, &test, &reload, "");
    }
    f.repo.commit_all("six sites");
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(calls(&log, "test"), 1, "one config test for the batch");
    assert_eq!(calls(&log, "reload"), 1, "one reload for the batch");
    let rec = f.last_record();
    for host in HOSTS {
        assert_eq!(f.served(host, "x-site").as_deref(), Some(host));
        assert_eq!(results(site_record(&rec, host)), ["applied"], "{host}");
    }
    // Idempotent: nothing to do, nothing run.
    f.repo.run(&["apply"]).expect_code(0);
    assert_eq!(calls(&log, "test"), 1);
}

#[test]
fn a_failing_batch_is_narrowed_down_to_the_failing_sites() {
    let f = Fleet::start(&HOSTS);
    let log = f.repo.path().join("calls.log");
    let (test, reload) = logged(&f, &log);
    for host in HOSTS {
        f.write_site(
            host,
            "auto",
            "headers:\n  X-Version: '1'\n",
            &test,
            &reload,
            "",
        );
    }
    f.repo.commit_all("version 1");
    f.repo.run(&["apply"]).expect_code(0);
    let before = std::fs::read(f.include("c.test")).expect("c.test include");

    for host in HOSTS {
        let value = if host == "c.test" { "BREAK" } else { "2" };
        let extra = format!("headers:\n  X-Version: '{value}'\n");
        f.write_site(host, "auto", &extra, &test, &reload, "");
    }
    f.repo
        .commit_all("version 2, one site breaks the config test");
    let out = f.repo.run(&["apply", "--format", "json"]);
    out.expect_code(1);
    let rec = out.json();
    for host in HOSTS {
        let want = if host == "c.test" {
            "failed"
        } else {
            "applied"
        };
        assert_eq!(results(site_record(&rec, host)), [want], "{host}: {rec}");
        let served = f.served(host, "x-version");
        let expect = if host == "c.test" { "1" } else { "2" };
        assert_eq!(served.as_deref(), Some(expect), "{host}");
    }
    let message = site_record(&rec, "c.test")["actions"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("test failed"), "{message}");
    assert!(
        message.contains("c.test.conf"),
        "the tool's own words: {message}"
    );
    assert_eq!(
        std::fs::read(f.include("c.test")).expect("c.test include"),
        before,
        "the failing site's previous file is back"
    );
    assert!(calls(&log, "reload") <= 2, "one reload for the batch");
}

#[test]
fn a_site_of_a_batch_that_is_not_served_is_restored_alone() {
    let f = Fleet::start(&HOSTS[..3]);
    let log = f.repo.path().join("calls.log");
    let (test, reload) = logged(&f, &log);
    for host in &HOSTS[..3] {
        f.write_site(
            host,
            "auto",
            "headers:\n  X-Ok: 'yes'\n",
            &test,
            &reload,
            "",
        );
    }
    // b.test's file is one nginx never includes: written, tested, reloaded, never served.
    let unused = f.nginx.path().join("unused/b.test.conf");
    let yaml = std::fs::read_to_string(f.repo.path().join("sites/b.test.yaml")).expect("yaml");
    let yaml = yaml.replace(
        &f.include("b.test").display().to_string(),
        &unused.display().to_string(),
    );
    f.repo.write("sites/b.test.yaml", &yaml);
    f.repo.commit_all("three sites, one never served");
    let out = f.repo.run(&["apply", "--format", "json", "--timeout", "2"]);
    out.expect_code(1);
    let rec = out.json();
    assert_eq!(results(site_record(&rec, "a.test")), ["applied"], "{rec}");
    assert_eq!(results(site_record(&rec, "c.test")), ["applied"], "{rec}");
    assert_eq!(results(site_record(&rec, "b.test")), ["failed"], "{rec}");
    assert!(!unused.exists(), "an unverified file was left in place");
    assert_eq!(f.served("a.test", "x-ok").as_deref(), Some("yes"));
    assert_eq!(f.served("c.test", "x-ok").as_deref(), Some("yes"));
}
