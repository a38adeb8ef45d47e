//! Large runs (issue #13): progress off a terminal at `-v`, and a pull request's Markdown over
//! a fleet that stays under GitHub's comment limit while naming every unknown site first.

use siteward::pki::{Ca, Validity};

use super::reconcile::Fleet;
use super::support::nginx::{Nginx, Vhost};
use super::support::{Repo, refused_port};

/// `count` observed sites named `{prefix}NN.test` in sync on one nginx, and a server that
/// accepts connections (the kernel's backlog) and never answers, with its port.
fn observed_fleet_and_a_silent_server(
    prefix: &str,
    count: usize,
) -> (Fleet, std::net::TcpListener, u16) {
    let hosts: Vec<String> = (0..count).map(|i| format!("{prefix}{i:02}.test")).collect();
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let f = Fleet::start(&names);
    for host in &names {
        f.site(host, "observe", "");
    }
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    (f, silent, port)
}

/// Off a terminal, `-v` prints a progress line every 2 s naming the site holding the run up;
/// the default verbosity and `-q` print none.
#[test]
fn issue_13_verbose_runs_print_progress_lines_naming_the_slowest_site() {
    let (f, silent, port) = observed_fleet_and_a_silent_server("p", 24);
    f.repo.write(
        "sites/slow.test.yaml",
        &format!("name: slow.test\nurl: https://slow.test/\nconnect: 127.0.0.1:{port}\n"),
    );
    f.repo.commit_all("24 sites and one that never answers");

    let verbose = f.repo.run(&["-v", "plan", "--timeout", "3"]);
    verbose.expect_code(1);
    let line = verbose
        .stderr
        .lines()
        .find(|l| l.starts_with("info: observe ") && l.contains("/25 sites"))
        .unwrap_or_else(|| panic!("no progress line:\n{}", verbose.stderr));
    assert!(
        line.contains(", slowest: slow.test ("),
        "the slow site is not named first: {line}"
    );
    for args in [
        &["plan", "--timeout", "3"][..],
        &["-q", "plan", "--timeout", "3"],
    ] {
        let quiet = f.repo.run(args);
        assert!(
            !quiet.stderr.contains("sites, slowest") && !quiet.stderr.contains("info:"),
            "{args:?}: {}",
            quiet.stderr
        );
    }
    drop(silent);
}

/// Recording has its own progress: at `-v`, a run whose notification target never answers
/// prints `record` lines naming the step under way, and the record still lands.
#[test]
fn issue_13_verbose_recording_names_the_step_under_way() {
    let (f, silent, port) = observed_fleet_and_a_silent_server("r", 21);
    f.repo.write(
        "siteward.yaml",
        &format!(
            "notify:\n  - name: ops\n    url: http://127.0.0.1:{port}/hook\n    format: json\n    \
             events: [drift_started]\n"
        ),
    );
    f.repo
        .commit_all("21 sites told to a receiver that never answers");
    // The first record is the baseline: nothing to tell.
    f.repo.run(&["plan", "--record"]).expect_code(0);

    f.site("r00.test", "observe", "headers:\n  X-Record: two\n");
    f.repo.commit_all("r00 drifts");
    let verbose = f.repo.run(&["-v", "plan", "--record", "--timeout", "2"]);
    verbose.expect_code(2);
    let line = verbose
        .stderr
        .lines()
        .find(|l| l.starts_with("info: record 0/2 steps"))
        .unwrap_or_else(|| panic!("no record progress line:\n{}", verbose.stderr));
    assert!(line.contains(", now: notify ("), "{line}");
    let log = f
        .repo
        .run(&["log", "--format", "json", "--site", "r00.test"]);
    log.expect_code(0);
    assert_eq!(
        log.json()["entries"].as_array().map(Vec::len),
        Some(2),
        "both plan runs are recorded: {}",
        log.stdout
    );
    drop(silent);
}

/// A plan over 1,000 sites: the JSON has every site; the Markdown stays under 60,000
/// characters, names every unknown site before any drift, collapses the in-sync sites to a
/// count, details the largest changes first and says what it left out.
#[test]
fn issue_13_markdown_of_a_large_fleet_stays_under_the_limit() {
    let ca = Ca::new("scale test root").expect("ca");
    let mut wildcard = Vhost::new(
        "*.bulk.test",
        ca.leaf(&["*.bulk.test"], Validity::days(60)).expect("leaf"),
    );
    wildcard.config = "  add_header X-Content-Type-Options nosniff always;\n".into();
    let nginx = Nginx::start(&[wildcard]);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    let dead = refused_port();
    let unknown = ["s0100.bulk.test", "s0500.bulk.test", "s0999.bulk.test"];
    for i in 0..1000 {
        let host = format!("s{i:04}.bulk.test");
        let connect = if unknown.contains(&host.as_str()) {
            format!("127.0.0.1:{}", dead.port)
        } else {
            nginx.https_addr()
        };
        // Every fourth site drifts by one header, every 40th by three.
        let headers = match i % 40 {
            0 => {
                "headers:\n  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n  X-Content-Type-Options: absent\n"
            }
            n if n % 4 == 1 => "headers:\n  X-Frame-Options: DENY\n",
            _ => "",
        };
        repo.write(
            &format!("sites/{host}.yaml"),
            &format!(
                "name: {host}\nurl: https://{host}/\nconnect: {connect}\nca: ca.pem\n{headers}"
            ),
        );
    }
    repo.commit_all("a fleet of 1,000 sites");

    let json = repo.run(&["plan", "--format", "json"]);
    json.expect_code(1);
    let doc = json.json();
    assert_eq!(doc["sites"].as_array().map(Vec::len), Some(1000));
    assert_eq!(doc["summary"]["unknown"], 3, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["drift"], 275, "{}", doc["summary"]);

    let md = repo.run(&["plan", "--format", "markdown"]);
    md.expect_code(1);
    let md = md.stdout;
    assert!(
        md.chars().count() <= 60_000,
        "{} characters",
        md.chars().count()
    );
    let first_drift = md.find("⚠️ drift").expect("a drift row");
    for host in unknown {
        let at = md.find(host).unwrap_or_else(|| panic!("{host} not named"));
        assert!(at < first_drift, "{host} comes after a drift row");
    }
    assert!(md.contains("| ✅ 722 site(s) in sync |"), "{md}");
    let details = md
        .split("<details>")
        .find(|d| d.contains(": drift"))
        .expect("drift details");
    assert!(details.contains("3 change(s)"), "largest first: {details}");
    let note = md
        .lines()
        .find(|l| l.starts_with("> Summarised to stay under 60000 characters"))
        .unwrap_or_else(|| panic!("no summary of what was left out:\n{md}"));
    assert!(
        note.contains("722 site(s) in sync are shown as a count"),
        "{note}"
    );
    assert!(
        note.contains("more site(s) with changes are not shown"),
        "{note}"
    );
    assert!(note.contains("`siteward plan --format json`"), "{note}");
}
