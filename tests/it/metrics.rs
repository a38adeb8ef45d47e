//! `--metrics FILE` on `plan`, `check` and `reconcile` against the real nginx fleet of
//! [`super::check`]: the file is parsed with `prometheus-parse`, a Prometheus text-format
//! parser, and its values compared with what the same runs print as JSON.

use std::collections::BTreeMap;

use prometheus_parse::{Sample, Scrape, Value};

use super::check::fleet;

/// The samples of the metrics file at `path`, which must parse as Prometheus text.
fn scrape(path: &std::path::Path) -> Vec<Sample> {
    let text = std::fs::read_to_string(path).expect("metrics file written");
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.split(' ').count() == 2),
        "no timestamps (textfile collector): {text}"
    );
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text format")
        .samples
}

/// `metric{site=SITE, extra labels…}` as a number; panics unless it is one gauge sample.
fn gauge(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:#?}");
    match found[0].value {
        Value::Gauge(v) => v,
        ref other => panic!("{metric} is not a gauge: {other:?}"),
    }
}

/// Sites that have a sample of `metric`, sorted.
fn sites_with(samples: &[Sample], metric: &str) -> Vec<String> {
    let mut sites: Vec<String> = samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter_map(|s| s.labels.get("site").map(str::to_owned))
        .collect();
    sites.sort();
    sites.dedup();
    sites
}

#[test]
fn metrics_files_parse_and_agree_with_the_json_output() {
    let f = fleet();
    let out = tempfile::tempdir().expect("temp dir");

    // plan: sync state, health, pending changes and certificate days per site.
    let prom = out.path().join("siteward-plan.prom");
    let run = f.repo.run(&[
        "plan",
        "--format",
        "json",
        "--timeout",
        "5",
        "--metrics",
        prom.to_str().expect("utf-8"),
    ]);
    run.expect_code(1);
    let plan = run.json();
    let samples = scrape(&prom);
    let plan_sites: BTreeMap<String, &serde_json::Value> = plan["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| (s["site"].as_str().expect("site").to_owned(), s))
        .collect();
    assert_eq!(plan_sites.len(), 4);
    for (site, p) in &plan_sites {
        let labels = |state: &'static str| {
            [
                ("command", "plan"),
                ("site", site.as_str()),
                ("state", state),
            ]
        };
        for state in ["in_sync", "drift", "unknown"] {
            let want = if p["sync"] == state { 1.0 } else { 0.0 };
            assert_eq!(
                gauge(&samples, "siteward_site_sync", &labels(state)),
                want,
                "{site} {state}"
            );
        }
        for state in ["healthy", "degraded", "down", "unknown"] {
            let want = if p["health"] == state { 1.0 } else { 0.0 };
            assert_eq!(
                gauge(&samples, "siteward_site_health", &labels(state)),
                want,
                "{site} {state}"
            );
        }
        let changes = p["changes"].as_array().expect("changes").len() as f64;
        assert_eq!(
            gauge(&samples, "siteward_site_changes_pending", &[("site", site)]),
            changes
        );
    }
    assert_eq!(plan_sites["refused.test"]["sync"], "unknown");
    // Certificates: 90 and 5 days from issue; nothing for the site that does not answer.
    let days = |site| {
        gauge(
            &samples,
            "siteward_site_certificate_days_left",
            &[("site", site)],
        )
    };
    assert!(
        (89.0..=90.0).contains(&days("good.test")),
        "{}",
        days("good.test")
    );
    assert!(
        (4.0..=5.0).contains(&days("bad.test")),
        "{}",
        days("bad.test")
    );
    assert_eq!(
        sites_with(&samples, "siteward_site_certificate_days_left"),
        ["bad.test", "good.test", "legacy.test"]
    );
    let expiry = gauge(
        &samples,
        "siteward_site_certificate_expiry_timestamp_seconds",
        &[("site", "good.test")],
    );
    let finished = gauge(
        &samples,
        "siteward_last_run_timestamp_seconds",
        &[("command", "plan")],
    );
    let ahead = (expiry - finished) / 86_400.0;
    assert!((88.0..=91.0).contains(&ahead), "{ahead} days");
    assert_eq!(
        gauge(
            &samples,
            "siteward_last_run_exit_code",
            &[("command", "plan")]
        ),
        1.0
    );
    assert_eq!(
        gauge(&samples, "siteward_last_run_sites", &[("command", "plan")]),
        4.0
    );
    assert!(
        gauge(
            &samples,
            "siteward_last_run_duration_seconds",
            &[("command", "plan")]
        ) >= 0.0
    );
    assert!(sites_with(&samples, "siteward_site_grade_score").is_empty());

    // check: the Observatory score of every observed site, as the check JSON says.
    let prom = out.path().join("siteward-check.prom");
    let run = f.repo.run(&[
        "check",
        "--format",
        "json",
        "--timeout",
        "5",
        "--metrics",
        prom.to_str().expect("utf-8"),
    ]);
    run.expect_code(1);
    let check = run.json();
    let samples = scrape(&prom);
    for site in check["sites"].as_array().expect("sites") {
        let name = site["site"].as_str().expect("site");
        match site["score"].as_f64() {
            Some(score) => assert_eq!(
                gauge(
                    &samples,
                    "siteward_site_grade_score",
                    &[("command", "check"), ("site", name)]
                ),
                score
            ),
            None => assert!(
                !sites_with(&samples, "siteward_site_grade_score").contains(&name.to_owned())
            ),
        }
    }
    assert_eq!(
        gauge(
            &samples,
            "siteward_site_grade_score",
            &[("site", "good.test")]
        ),
        115.0
    );
    assert!(sites_with(&samples, "siteward_site_sync").is_empty());
    assert_eq!(
        gauge(
            &samples,
            "siteward_last_run_exit_code",
            &[("command", "check")]
        ),
        1.0
    );

    // reconcile: the run as recorded.
    f.repo.commit_all("fleet");
    let prom = out.path().join("siteward-reconcile.prom");
    f.repo
        .run(&[
            "reconcile",
            "--timeout",
            "5",
            "--metrics",
            prom.to_str().expect("utf-8"),
        ])
        .expect_code(1);
    let samples = scrape(&prom);
    assert_eq!(
        gauge(
            &samples,
            "siteward_site_sync",
            &[
                ("command", "reconcile"),
                ("site", "refused.test"),
                ("state", "unknown")
            ]
        ),
        1.0
    );
    assert_eq!(
        gauge(
            &samples,
            "siteward_last_run_sites",
            &[("command", "reconcile")]
        ),
        4.0
    );
    assert_eq!(
        sites_with(&samples, "siteward_site_certificate_days_left"),
        ["bad.test", "good.test", "legacy.test"]
    );
    // Only the metrics files: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 3);
}

#[test]
fn a_metrics_file_in_a_missing_directory_is_refused_before_anything_runs() {
    let repo = super::support::Repo::new();
    let run = repo.run(&["plan", "--metrics", "/no/such/dir/siteward.prom"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("`--metrics /no/such/dir/siteward.prom`: its directory does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_input_still_writes_a_failed_run() {
    let repo = super::support::Repo::new();
    repo.write(
        "sites/bad.test.yaml",
        "name: bad.test\nurl: https://bad.test/\nsync: sometimes\n",
    );
    let out = tempfile::tempdir().expect("temp dir");
    for command in ["plan", "check"] {
        let prom = out.path().join(format!("{command}.prom"));
        repo.run(&[command, "--metrics", prom.to_str().expect("utf-8")])
            .expect_code(1);
        let samples = scrape(&prom);
        assert_eq!(
            gauge(
                &samples,
                "siteward_last_run_exit_code",
                &[("command", command)]
            ),
            1.0
        );
        assert_eq!(
            gauge(&samples, "siteward_last_run_sites", &[("command", command)]),
            0.0
        );
        assert!(sites_with(&samples, "siteward_site_sync").is_empty());
    }
}
