//! Notifications on transitions (`notify:`) end to end: the real binary against real nginx sites
//! (the [`Fleet`] of `reconcile.rs`), the audit branch as the memory of the previous state, and
//! a real HTTP receiver on loopback ([`Receiver`]) recording what was POSTed.

use super::reconcile::{Fleet, site_record};
use super::support::webhook::{Receiver, Request};
use super::support::{Repo, refused_port};

/// A token no output may show.
fn nonce() -> String {
    format!(
        "{}{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}

/// The `(site, event)` pairs of a `json` payload.
fn events(r: &Request) -> Vec<(String, String)> {
    r.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["site"].as_str().unwrap_or("").to_owned(),
                e["event"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pair(site: &str, event: &str) -> (String, String) {
    (site.to_owned(), event.to_owned())
}

/// The request to `path` (the only one).
#[track_caller]
fn to<'a>(requests: &'a [Request], path: &str) -> &'a Request {
    let found: Vec<&Request> = requests.iter().filter(|r| r.path == path).collect();
    assert_eq!(found.len(), 1, "one request to {path}: {requests:#?}");
    found[0]
}

#[test]
fn drift_is_told_once_in_every_format_and_its_resolution_after_apply() {
    let hook = Receiver::start(200);
    let token = format!("SWHOOKTOKEN{}", nonce());
    let secret_url = hook.url(&format!("/json/{token}"));
    let env = [("SW_TEST_HOOK", secret_url.as_str())];
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: ops-json\n    url: env:SW_TEST_HOOK\n    format: json\n    \
             events: [drift_started, drift_resolved, apply_failed, site_down, site_up, \
             certificate_expiring, proposal_opened]\n\
             \x20 - name: ops-slack\n    url: {}\n    format: slack\n    events: [drift_started, drift_resolved]\n\
             \x20 - name: ops-teams\n    url: {}\n    format: teams\n    events: [drift_started]\n\
             \x20 - name: ops-mattermost\n    url: {}\n    format: mattermost\n    events: [drift_started]\n",
            hook.url("/slack"),
            hook.url("/teams"),
            hook.url("/mattermost"),
        ),
    );
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], code: i32| {
        let out = f.repo.run_env(args, &env);
        out.expect_code(code);
        outputs.push(format!("{args:?}\n{}\n{}", out.stdout, out.stderr));
    };

    // In sync after the first apply: the first record is the baseline, nothing to tell.
    f.site("a.test", "auto", "headers:\n  X-Version: one\n");
    f.repo.commit_all("v1");
    run(&["apply"], 0);
    assert!(hook.take().is_empty(), "the first record tells nothing");

    // Desired state moves on, only observed: in sync → drift, told to every target once.
    f.site("a.test", "observe", "headers:\n  X-Version: two\n");
    f.repo.commit_all("v2, observed");
    run(&["reconcile"], 2);
    let got = hook.take();
    assert_eq!(got.len(), 4, "{got:#?}");
    let json = to(&got, &format!("/json/{token}"));
    assert_eq!(json.method, "POST");
    assert_eq!(json.header("content-type"), Some("application/json"));
    let body = json.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["run"]["command"], "reconcile");
    let record = f.last_record();
    assert_eq!(body["run"]["id"], record["run"]["id"]);
    assert_eq!(events(json), [pair("a.test", "drift_started")]);
    let e = &body["events"][0];
    assert_eq!(
        (e["from"].as_str(), e["to"].as_str()),
        (Some("in_sync"), Some("drift"))
    );
    assert!(
        e["details"].as_str().unwrap_or("").contains("1 change(s)"),
        "{e}"
    );

    let slack = to(&got, "/slack").json();
    assert!(
        slack["text"].as_str().unwrap_or("").contains("1 event(s)"),
        "{slack}"
    );
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert_eq!(slack["blocks"][1]["text"]["type"], "mrkdwn");
    let section = slack["blocks"][1]["text"]["text"].as_str().unwrap_or("");
    assert!(
        section.contains("*drift_started* `a.test` in_sync → drift"),
        "{section}"
    );

    let teams = to(&got, "/teams").json();
    assert_eq!(teams["type"], "message");
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["body"][1]["type"], "FactSet");
    assert_eq!(
        card["content"]["body"][1]["facts"][0]["title"],
        "a.test drift\\_started"
    );

    let mattermost = to(&got, "/mattermost").json();
    let text = mattermost["text"].as_str().unwrap_or("");
    assert!(text.starts_with("#### siteward reconcile run"), "{text}");
    assert!(
        text.contains("| a.test | drift\\_started | in\\_sync → drift |"),
        "{text}"
    );

    let told = record["notifications"].as_array().expect("notifications");
    assert_eq!(told.len(), 4, "{told:#?}");
    for n in told {
        assert_eq!(
            (n["ok"].as_bool(), n["events"].as_u64()),
            (Some(true), Some(1)),
            "{n}"
        );
        assert_eq!(n["attempts"], 1);
    }

    // The same state again, from a scheduled run and from a recorded plan: nothing is told.
    run(&["reconcile"], 2);
    run(&["plan", "--record"], 2);
    assert!(hook.take().is_empty(), "a repeated state is not told again");
    assert!(f.last_record().get("notifications").is_none());

    // Applied: drift → in sync, told to the targets that asked for it.
    f.site("a.test", "auto", "headers:\n  X-Version: two\n");
    f.repo.commit_all("v2, applied");
    run(&["apply"], 0);
    assert_eq!(f.served("a.test", "x-version").as_deref(), Some("two"));
    let got = hook.take();
    assert_eq!(got.len(), 2, "{got:#?}");
    let json = to(&got, &format!("/json/{token}"));
    assert_eq!(events(json), [pair("a.test", "drift_resolved")]);
    let section = to(&got, "/slack").json()["blocks"][1]["text"]["text"].to_string();
    assert!(section.contains("drift_resolved"), "{section}");

    // The secret URL (its token) is in no output and no git object; targets show by name.
    let outputs = outputs.join("\n");
    assert!(
        !outputs.contains(&token),
        "an output shows the secret URL:\n{outputs}"
    );
    let objects = f.repo.git(&["cat-file", "--batch-all-objects", "--batch"]);
    assert!(objects.contains("ops-json"), "records name the target");
    assert!(
        !objects.contains(&token),
        "a git object holds the secret URL"
    );
}

#[test]
fn a_site_that_stops_answering_is_told_down_then_up_and_unknown_drift_is_carried() {
    let hook = Receiver::start(200);
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: ops\n    url: {}\n    events: [site_down, site_up, drift_started]\n",
            hook.url("/hook")
        ),
    );
    f.site("a.test", "observe", "");
    f.repo.commit_all("observed, nothing desired");
    f.repo.run(&["reconcile"]).expect_code(0);
    assert!(hook.take().is_empty());

    // The site's origin refuses connections (and the desired state adds a header, unseen).
    let dead = refused_port();
    let site = std::fs::read_to_string(f.repo.path().join("sites/a.test.yaml")).expect("site");
    let moved = site.replace(&f.nginx.https_addr(), &format!("127.0.0.1:{}", dead.port));
    assert_ne!(moved, site);
    f.repo.write(
        "sites/a.test.yaml",
        &moved.replace("ca: ca.pem\n", "ca: ca.pem\nheaders:\n  X-New: added\n"),
    );
    f.repo.commit_all("origin gone");
    f.repo.run(&["reconcile"]).expect_code(1);
    let got = hook.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(events(&got[0]), [pair("a.test", "site_down")]);
    assert_eq!(got[0].json()["events"][0]["from"], "healthy");
    f.repo.run(&["reconcile"]).expect_code(1);
    assert!(hook.take().is_empty(), "still down: not told again");

    // Back: up, and the drift that could not be seen while it was down is now new.
    f.repo.write(
        "sites/a.test.yaml",
        &site.replace("ca: ca.pem\n", "ca: ca.pem\nheaders:\n  X-New: added\n"),
    );
    f.repo.commit_all("origin back");
    f.repo.run(&["reconcile"]).expect_code(2);
    let got = hook.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    let mut told = events(&got[0]);
    told.sort();
    assert_eq!(
        told,
        [pair("a.test", "drift_started"), pair("a.test", "site_up")]
    );
}

#[test]
fn an_expiring_certificate_is_told_once_under_each_targets_threshold() {
    let hook = Receiver::start(200);
    let f = Fleet::start(&["a.test"]);
    // The fleet's certificates are valid for 60 days.
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: quarter\n    url: {}\n    events: [certificate_expiring]\n    days: 90\n\
             \x20 - name: month\n    url: {}\n    events: [certificate_expiring]\n    days: 30\n",
            hook.url("/quarter"),
            hook.url("/month")
        ),
    );
    f.site("a.test", "observe", "");
    f.repo.commit_all("observed");
    f.repo.run(&["reconcile"]).expect_code(0);
    let got = hook.take();
    assert_eq!(got.len(), 1, "only the 90-day target: {got:#?}");
    let e = &to(&got, "/quarter").json()["events"][0];
    assert_eq!(e["event"], "certificate_expiring");
    let days: i64 = e["to"].as_str().expect("days").parse().expect("a number");
    assert!((58..=60).contains(&days), "{e}");
    assert_eq!(
        site_record(&f.last_record(), "a.test")["certificate_days_left"],
        days
    );
    f.repo.run(&["reconcile"]).expect_code(0);
    assert!(hook.take().is_empty(), "already told");
}

#[test]
fn a_failed_apply_is_told_once_per_series_of_failures() {
    let hook = Receiver::start(200);
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: ops\n    url: {}\n    format: json\n    events: [apply_failed]\n",
            hook.url("/hook")
        ),
    );
    f.write_site(
        "a.test",
        "auto",
        "headers:\n  X-Version: one\n",
        "sh -c 'echo config test says no >&2; exit 1'",
        &f.nginx.command("-s reload"),
        "",
    );
    f.repo.commit_all("a config test that fails");
    f.repo.run(&["apply"]).expect_code(1);
    let got = hook.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(events(&got[0]), [pair("a.test", "apply_failed")]);
    let details = got[0].json()["events"][0]["details"].to_string();
    assert!(details.contains("config test says no"), "{details}");
    f.repo.run(&["apply"]).expect_code(1);
    assert!(
        hook.take().is_empty(),
        "the same failure again is not told again"
    );
}

#[test]
fn failed_deliveries_are_recorded_and_never_change_the_exit_code() {
    let broken = Receiver::start(500);
    let dead = refused_port();
    let token = format!("SWDEADTOKEN{}", nonce());
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: answers-500\n    url: {}\n    events: [certificate_expiring]\n    days: 90\n\
             \x20 - name: refused\n    url: http://127.0.0.1:{}/{token}\n    events: [certificate_expiring]\n    days: 90\n\
             \x20 - name: unset\n    url: env:SW_TEST_UNSET_HOOK\n    events: [certificate_expiring]\n    days: 90\n",
            broken.url(&format!("/{token}")),
            dead.port
        ),
    );
    f.site("a.test", "observe", "");
    f.repo.commit_all("observed");
    let out = f.repo.run(&["reconcile"]);
    out.expect_code(0);
    assert_eq!(broken.take().len(), 3, "a 5xx is retried, boundedly");
    let record = f.last_record();
    let told = record["notifications"].as_array().expect("notifications");
    let by = |name: &str| {
        told.iter()
            .find(|n| n["target"] == name)
            .unwrap_or_else(|| panic!("{name} in {told:#?}"))
    };
    let answered = by("answers-500");
    assert_eq!(
        (answered["ok"].as_bool(), answered["attempts"].as_u64()),
        (Some(false), Some(3))
    );
    assert!(
        answered["error"].as_str().unwrap_or("").contains("500"),
        "{answered}"
    );
    let refused = by("refused");
    assert_eq!(
        (refused["ok"].as_bool(), refused["attempts"].as_u64()),
        (Some(false), Some(3))
    );
    let unset = by("unset");
    assert_eq!(unset["attempts"], 0);
    assert!(
        unset["error"]
            .as_str()
            .unwrap_or("")
            .contains("SW_TEST_UNSET_HOOK"),
        "{unset}"
    );
    for name in ["answers-500", "refused", "unset"] {
        assert!(
            out.stderr
                .contains(&format!("notification to `{name}` failed")),
            "{}",
            out.stderr
        );
    }
    let shown = format!("{}\n{}\n{record}", out.stdout, out.stderr);
    assert!(!shown.contains(&token), "a URL is shown:\n{shown}");
}

#[test]
fn bad_notify_targets_are_located_with_a_suggestion_and_urls_are_not_echoed() {
    let repo = Repo::new();
    repo.write(
        "siteward.yaml",
        "notify:\n  - name: ops\n    url: http://hooks.example.com/SWLEAK\n    evnts: [drift_started]\n\
         \x20 - name: ops\n    url: https://hooks.example.com/x\n    format: slak\n    events: [drift_startd]\n\
         \x20 - name: days\n    url: env:HOOK\n    events: [site_down]\n    days: 7\n",
    );
    let out = repo.run(&["validate", "--format", "json"]);
    out.expect_code(1);
    let problems: Vec<String> = out.json()["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            format!(
                "{}:{}: {}",
                p["path"],
                p["line"],
                p["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let all = problems.join("\n");
    for expected in [
        ":3: notify `ops`.url: plain http is only allowed to a loopback host; use https",
        ":4: unknown key `evnts` in notify target; did you mean `events`?",
        ":2: notify `ops`: missing required key `events`",
        ":7: notify `ops`.format: unknown `slak`; did you mean `slack`?",
        ":8: notify `ops`.events: unknown `drift_startd`; did you mean `drift_started`?",
        ":12: notify `days`.days: only `certificate_expiring` uses it",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
    assert!(!all.contains("SWLEAK"), "{all}");
}

#[test]
fn a_dropped_web_grade_is_told_to_a_target_that_asks_for_it() {
    let hook = Receiver::start(200);
    let f = Fleet::start(&["a.test"]);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: ops\n    url: {}\n    events: [grade_dropped]\n",
            hook.url("/hook")
        ),
    );
    let hardened = "headers:\n  Strict-Transport-Security: max-age=63072000\n  \
                    X-Content-Type-Options: nosniff\n  X-Frame-Options: DENY\n  \
                    Referrer-Policy: no-referrer\n  \
                    Content-Security-Policy: \"default-src 'none'; frame-ancestors 'none'\"\n";
    f.site("a.test", "auto", hardened);
    f.repo.commit_all("hardened");
    f.repo.run(&["apply"]).expect_code(0);
    assert!(hook.take().is_empty());
    let before = site_record(&f.last_record(), "a.test")["grade"].clone();
    assert!(
        before.is_string(),
        "graded because a target asks for grade_dropped"
    );

    // Someone empties siteward's file by hand; the site is only observed from now on.
    std::fs::write(f.include("a.test"), "").expect("empty the include");
    f.nginx.reload();
    f.site("a.test", "observe", hardened);
    f.repo.commit_all("observed");
    f.repo.run(&["reconcile"]).expect_code(2);
    let got = hook.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    let e = &got[0].json()["events"][0];
    assert_eq!(
        (&e["event"], &e["from"]),
        (&"grade_dropped".into(), &before)
    );
    let after = site_record(&f.last_record(), "a.test")["grade"].clone();
    assert_eq!(e["to"], after);
    assert_ne!(after, before);
    f.repo.run(&["reconcile"]).expect_code(2);
    assert!(hook.take().is_empty(), "the same grade again is not told");
}
