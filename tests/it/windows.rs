//! Change windows (`windows:`) against a real nginx: inside a freeze `plan` shows the changes
//! as `skip` with the window's reason, `reconcile` holds them (action result `held`, exit 2)
//! and nginx is not touched; `--ignore-windows` needs `--reason`, then acts and the record says
//! who overrode which windows and why. Bad window syntax is a located problem.

use super::reconcile::{Fleet, results, site_record};

/// A freeze that covers every run of this test, set by a policy (deep-merged under the site).
const FREEZE: &str = "name: freeze\ndefaults:\n  windows:\n    \
- {from: 2000-01-01, to: 2999-12-31, timezone: Europe/Amsterdam, reason: Black Friday freeze}\n";

#[test]
fn a_freeze_holds_changes_until_overridden_with_a_reason() {
    let f = Fleet::start(&["a.test"]);
    f.repo.write("policies/freeze.yaml", FREEZE);
    f.site(
        "a.test",
        "auto",
        "policies: [freeze]\nheaders:\n  X-Team: web-ops\n",
    );
    f.repo.commit_all("a header, frozen");
    let reason = "held: inside the change window `2000-01-01 to 2999-12-31` (Europe/Amsterdam): \
                  Black Friday freeze";

    // The plan shows what apply will do: skip, with the window's reason.
    let plan = f.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(2);
    let plan = plan.json();
    let change = &site_record(&plan, "a.test")["changes"][0];
    assert_eq!(change["step"], "skip");
    assert_eq!(change["reason"], reason);

    // reconcile holds the change: recorded as `held`, exit 2, nothing served.
    f.repo.run(&["reconcile"]).expect_code(2);
    assert_eq!(f.served("a.test", "x-team"), None);
    let rec = f.last_record();
    let site = site_record(&rec, "a.test");
    assert_eq!(results(site), ["held"]);
    assert_eq!(site["actions"][0]["message"], reason);
    assert_eq!(rec["summary"]["held"], 1);
    assert!(rec["run"].get("windows_overridden").is_none());

    // Overriding needs a reason; without one nothing runs.
    let refused = f.repo.run(&["reconcile", "--ignore-windows"]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("--reason"), "{}", refused.stderr);
    let blank = f.repo.run(&["apply", "--ignore-windows", "--reason", " "]);
    blank.expect_code(1);
    assert!(
        blank
            .stderr
            .contains("say why the change windows are overridden"),
        "{}",
        blank.stderr
    );
    assert_eq!(f.served("a.test", "x-team"), None);

    // With a reason the change is applied, and the record says who and why.
    f.repo
        .run_env(
            &["reconcile", "--ignore-windows", "--reason", "hotfix OPS-7"],
            &[("USER", "alice")],
        )
        .expect_code(0);
    assert_eq!(f.served("a.test", "x-team").as_deref(), Some("web-ops"));
    let rec = f.last_record();
    assert_eq!(results(site_record(&rec, "a.test")), ["applied"]);
    assert_eq!(
        rec["run"]["windows_overridden"],
        serde_json::json!({"by": "alice", "reason": "hotfix OPS-7", "sites": ["a.test"]})
    );
}

#[test]
fn repo_wide_windows_hold_every_site_and_bad_windows_are_located() {
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        "windows:\n  - {from: 2000-01-01, to: 2999-12-31, reason: change freeze}\n",
    );
    f.site("a.test", "auto", "headers:\n  X-Team: web-ops\n");
    f.repo.commit_all("repo-wide freeze");
    let plan = f.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(2);
    let plan = plan.json();
    let change = &site_record(&plan, "a.test")["changes"][0];
    assert_eq!(change["step"], "skip");
    assert!(
        change["reason"]
            .as_str()
            .is_some_and(|r| r.ends_with("(UTC): change freeze")),
        "{change}"
    );

    f.site(
        "a.test",
        "auto",
        "windows:\n  - {deny: \"Fry 16:00 - Mon 08:00\", timezone: Europe/Amsterdam}\n  \
         - {deny: \"Fri 16:00 - Mon 08:00\", timezone: Mars/Olympus}\n  \
         - {from: 2026-12-01}\n",
    );
    let run = f.repo.run(&["validate"]);
    run.expect_code(1);
    let out = format!("{}{}", run.stdout, run.stderr);
    for problem in [
        "sites/a.test.yaml:7:12: window.deny: `Fry` is not a day",
        "sites/a.test.yaml:8:47: window.timezone: `Mars/Olympus` is not a time zone",
        "sites/a.test.yaml:9:6: window: write either",
    ] {
        assert!(out.contains(problem), "{problem} in:\n{out}");
    }
    // Invalid input touches nothing.
    f.repo
        .run(&["reconcile", "--ignore-windows", "--reason", "x"])
        .expect_code(1);
    assert_eq!(f.served("a.test", "x-team"), None);
}
