//! Issue #16, items 5, 6 and 8, against a real nginx and the real binary: requests stay on the
//! site (a listener on another loopback address records every connection), an unanswered
//! redirect source is unknown and never "fixed", and values from a server or from YAML are
//! escaped for the terminal and for Markdown.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use siteward::pki::{Ca, Validity};

use super::reconcile::Fleet;
use super::support::nginx::{Nginx, Vhost};
use super::support::{Repo, refused_port};

/// A plain-HTTP server on 127.0.0.2 that counts the connections it accepts and answers each
/// with `200 ok`: another origin the site must not make siteward talk to.
struct Elsewhere {
    port: u16,
    seen: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Elsewhere {
    fn start() -> Elsewhere {
        let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        s.fetch_add(1, Ordering::SeqCst);
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut buf = [0u8; 4096];
                        let _ = conn.read(&mut buf);
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Elsewhere { port, seen, stop }
    }

    fn connections(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A repo with `ca.pem` and a nginx serving `a.test` with extra server lines.
fn served(config: &str) -> (Nginx, Repo) {
    let ca = Ca::new("harden test root").expect("ca");
    let mut v = Vhost::new(
        "a.test",
        ca.leaf(&["a.test"], Validity::days(60)).expect("leaf"),
    );
    v.config = config.to_owned();
    let nginx = Nginx::start(&[v]);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    (nginx, repo)
}

fn site_yaml(nginx: &Nginx, extra: &str) -> String {
    format!(
        "name: a.test\nurl: https://a.test/\nconnect: {}\nconnect_http: {}\nca: ca.pem\n{extra}",
        nginx.https_addr(),
        nginx.http_addr()
    )
}

#[test]
fn issue_16_redirect_hops_to_another_host_are_recorded_not_followed() {
    let other = Elsewhere::start();
    let away = format!("http://127.0.0.2:{}/x", other.port);
    let (nginx, repo) = served(&format!("  location = /away {{ return 302 {away}; }}\n"));

    // The desired target is the site itself: the hop to 127.0.0.2 is reported, not requested.
    repo.write(
        "sites/a.test.yaml",
        &site_yaml(
            &nginx,
            "redirects:\n  - {from: 'http://a.test/away', to: 'https://a.test/', status: 301}\n",
        ),
    );
    let plan = repo.run(&["plan", "--format", "json"]);
    plan.expect_code(2);
    let change = &plan.json()["sites"][0]["changes"][0];
    assert_eq!(change["key"], "http://a.test/away");
    assert_eq!(change["live"], format!("302 {away}"));
    assert_eq!(other.connections(), 0, "siteward connected to {away}");

    // When the desired redirect names that host, the hop is followed.
    repo.write(
        "sites/a.test.yaml",
        &site_yaml(
            &nginx,
            &format!("redirects:\n  - {{from: 'http://a.test/away', to: '{away}', status: 302}}\n"),
        ),
    );
    repo.run(&["plan", "--format", "json"]).expect_code(0);
    assert!(other.connections() > 0, "the named target was not followed");
}

#[tokio::test]
async fn issue_16_a_check_never_requests_another_origin() {
    use siteward::observe::limits::HostLimits;
    use siteward::probe::{checks, http::Http};

    let other = Elsewhere::start();
    let http = Http {
        https: reqwest::Client::new(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        limits: HostLimits::new(2),
        timeout: Duration::from_secs(2),
        https_addr: None,
        http_addr: None,
        connect_hosts: Default::default(),
    };
    let check = |path: &str| siteward::spec::Check {
        name: "c1".into(),
        path: path.into(),
        status: 200,
        body_contains: None,
        max_response_ms: None,
    };
    // The loader refuses these paths; a check built any other way is refused when it runs.
    let closed = refused_port();
    let site = url::Url::parse(&format!("http://127.0.0.1:{}/", closed.port)).expect("url");
    for path in [
        format!("//127.0.0.2:{}/c1", other.port),
        format!("/\\127.0.0.2:{}/c1", other.port),
    ] {
        let outcome = checks::run(&http, &site, &check(&path)).await;
        assert!(!outcome.ok);
        let message = outcome.message.unwrap_or_default();
        assert!(message.starts_with("not run: path `"), "{message}");
    }
    assert_eq!(other.connections(), 0, "a check left the site");

    // The listener does count: a check on its own origin reaches it.
    let own = url::Url::parse(&format!("http://127.0.0.2:{}/", other.port)).expect("url");
    let outcome = checks::run(&http, &own, &check("/c1")).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(other.connections(), 1);
}

#[test]
fn issue_16_an_unanswered_redirect_source_is_unknown_and_never_applied() {
    let f = Fleet::start(&["a.test"]);
    let refused = refused_port();
    let closed = refused.port;
    f.site(
        "a.test",
        "auto",
        &format!(
            "connect_http: 127.0.0.1:{closed}\nredirects:\n  \
             - {{from: 'http://a.test/', to: 'https://a.test/', status: 301}}\n"
        ),
    );
    f.repo.commit_all("a redirect whose source does not answer");

    let plan = f.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(1);
    let site = &plan.json()["sites"][0];
    assert_eq!(site["changes"], serde_json::json!([]), "{site}");
    assert_eq!(
        site["unobserved"],
        serde_json::json!(["redirect http://a.test/"])
    );
    let warning = site["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.starts_with("redirect from `http://a.test/` could not be observed")
            && warning.contains(&format!("`127.0.0.1:{closed}` from `connect_http`")),
        "{site}"
    );
    let text = f.repo.run(&["plan"]);
    text.expect_code(1);
    assert!(
        text.stdout
            .contains("warning: redirect from `http://a.test/` could not be observed"),
        "{}",
        text.stdout
    );

    // `reconcile` on `sync: auto` writes, tests and reloads nothing, and says why it exits 1.
    let run = f.repo.run(&["reconcile"]);
    run.expect_code(1);
    assert!(!f.include("a.test").exists(), "siteward wrote its file");
    assert!(
        run.stdout.contains("could not be observed"),
        "{}",
        run.stdout
    );
}

/// The parts of Markdown `md` that render as Markdown: code spans and fenced blocks removed
/// (CommonMark: a span closes at the next backtick run of the same length).
fn rendered_parts(md: &str) -> String {
    let mut out = String::new();
    let mut in_fence: Option<String> = None;
    for line in md.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &in_fence {
            Some(f) if ticks.len() >= f.len() && line.trim_end() == ticks => in_fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => in_fence = Some(ticks),
            None => {
                let chars: Vec<char> = line.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    if chars[i] == '\\' {
                        i += 2;
                        continue;
                    }
                    if chars[i] != '`' {
                        out.push(chars[i]);
                        i += 1;
                        continue;
                    }
                    let n = chars[i..].iter().take_while(|c| **c == '`').count();
                    let close = (i + n..chars.len()).find(|&j| {
                        chars[j..].iter().take_while(|c| **c == '`').count() == n
                            && (j == 0 || chars[j - 1] != '`')
                    });
                    i = close.map_or(i + n, |j| j + n);
                }
                out.push('\n');
            }
        }
    }
    out
}

#[track_caller]
fn assert_inert_markdown(md: &str) {
    assert!(
        !md.contains('\x1b') && !md.contains('\x07'),
        "raw control bytes:\n{md}"
    );
    let live = rendered_parts(md);
    for tag in ["<h1", "<img", "</details><"] {
        assert!(!live.contains(tag), "live `{tag}` outside code:\n{live}");
    }
    assert_eq!(
        live.matches("<details>").count(),
        live.matches("</details>").count(),
        "unbalanced details:\n{live}"
    );
}

#[test]
fn issue_16_certificate_names_cannot_drive_a_terminal_or_inject_markdown() {
    let hostile = [
        "other.test",
        "\x1b]0;pwned\x07\x1b[2J.test",
        "</details><h1>x</h1><img src=x onerror=alert(1)>",
    ];
    let ca = Ca::new("harden test root").expect("ca");
    let v = Vhost::new(
        "a.test",
        ca.leaf(&hostile, Validity::days(60)).expect("leaf"),
    );
    let nginx = Nginx::start(&[v]);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    repo.write(
        "sites/a.test.yaml",
        &format!("{}sync: propose\n", site_yaml(&nginx, "")),
    );
    repo.commit_all("a site whose certificate names are hostile");

    // The names do reach the plan (JSON escapes them itself).
    let json = repo.run(&["plan", "--format", "json"]);
    assert!(json.stdout.contains("\\u001b]0;pwned"), "{}", json.stdout);
    assert!(
        json.stdout.contains("</details><h1>x</h1>"),
        "{}",
        json.stdout
    );

    let text = repo.run(&["plan"]);
    assert!(
        !text.stdout.contains('\x1b') && !text.stdout.contains('\x07'),
        "{:?}",
        text.stdout
    );
    assert!(
        text.stdout.contains("\\x1b]0;pwned\\x07\\x1b[2J.test"),
        "{}",
        text.stdout
    );

    let md = repo.run(&["plan", "--format", "markdown"]);
    assert_inert_markdown(&md.stdout);
    assert!(
        md.stdout
            .contains("**warning:** https requests were refused")
            && md
                .stdout
                .contains("&lt;/details&gt;&lt;h1&gt;x&lt;/h1&gt;&lt;img src=x"),
        "{}",
        md.stdout
    );

    // The proposal that `reconcile` writes for the drift is inert too.
    let run = repo.run(&["reconcile"]);
    assert!(
        !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("\\x1b]0;pwned"), "{}", run.stdout);
    let proposal = repo.git(&["show", "siteward-proposals/a.test:PROPOSAL.md"]);
    assert_inert_markdown(&proposal);
    assert!(proposal.contains("\\x1b]0;pwned"), "{proposal}");
}

/// An applied redirect whose source does not answer when verified has no change in the plan
/// (unknown is not drift), yet it is not verified either.
#[tokio::test]
async fn issue_16_an_applied_redirect_that_cannot_be_observed_is_not_verified() {
    let (nginx, repo) = served("");
    let refused = refused_port();
    let closed = refused.port;
    repo.write(
        "sites/a.test.yaml",
        &format!(
            "name: a.test\nurl: https://a.test/\nconnect: {}\nconnect_http: 127.0.0.1:{closed}\n\
             ca: ca.pem\nredirects:\n  - {{from: 'http://a.test/', to: 'https://a.test/'}}\n",
            nginx.https_addr()
        ),
    );
    let state = siteward::load::load_repo(repo.path()).expect("valid repo");
    let site = state.sites.values().next().expect("one site");
    let applied = siteward::plan::Change {
        resource: siteward::plan::Resource::Redirect,
        key: "http://a.test/".into(),
        action: siteward::plan::Action::Add,
        live: None,
        desired: Some("301 https://a.test/".into()),
        provider: Some("nginx".into()),
        applicable: true,
        step: siteward::plan::Step::Apply,
        reason: None,
    };
    let opts = siteward::observe::ObserveOpts {
        concurrency: 1,
        per_host: 2,
        timeout: Duration::from_secs(2),
        progress: false,
        deadline: None,
        grade: false,
    };
    let secrets = siteward::secret::RunSecrets::resolve(&[site], repo.path());
    let verify = siteward::verify::Verify::new(repo.path(), opts, &secrets, &[applied]);
    let err = verify.once(site).await.expect_err("not verified");
    assert_eq!(err, "redirect http://a.test/ could not be observed");
}

#[test]
fn issue_16_validate_shows_control_characters_from_the_file_as_escapes() {
    let repo = Repo::new();
    repo.write(
        "sites/a.yaml",
        "name: a\nurl: https://a.example/\n\"x\\e[31mred\": 1\nowner: \"ops\\a\"\n",
    );
    let run = repo.run(&["validate"]);
    run.expect_code(1);
    assert!(
        !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
        "{:?}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("sites/a.yaml:3:1: unknown key `x\\x1b[31mred` in site"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("sites/a.yaml:4:8: owner: `ops\\u{7}` contains the control character"),
        "{}",
        run.stdout
    );
}

/// A pull request cannot make `plan` run PHP from the state repo: a local WordPress root inside
/// the repo is refused before anything runs (the repo's `wp-load.php` would write a marker), and
/// the reason is reported. The site itself answers (real nginx), so observation gets that far.
#[test]
fn a_local_wordpress_root_inside_the_state_repo_is_never_run() {
    let f = Fleet::start(&["a.test"]);
    let marker = f.repo.path().join("ran");
    f.repo.write(
        "wp/wp-load.php",
        &format!("<?php file_put_contents('{}', 'x');\n", marker.display()),
    );
    f.repo.write(
        "sites/a.test.yaml",
        &format!(
            "name: a.test\nurl: https://a.test:{}/\nconnect: {}\nca: ca.pem\n\
             manage:\n  software: {{provider: wordpress, path: wp}}\n",
            f.nginx.https_port,
            f.nginx.https_addr()
        ),
    );
    f.repo
        .commit_all("a site whose WordPress root is in the repo");
    let out = f.repo.run(&["plan", "--format", "json"]);
    assert!(!marker.exists(), "PHP from the state repo ran");
    assert!(
        out.stdout.contains("must not be inside the state repo"),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    // Never guessed: the site's software could not be read, so the site is unknown.
    assert_eq!(out.json()["sites"][0]["sync"], "unknown", "{}", out.stdout);
}

/// A pull request cannot make `plan` send a site's WordPress application password somewhere
/// new: with `--changed-since BASE`, the password goes only where BASE sends it. Two vhosts of
/// a real nginx stand for the site and for the server a pull request points `url` at; their
/// access logs show the Basic-auth user of every request that carried the password.
#[test]
fn a_pull_request_cannot_send_an_application_password_to_a_new_destination() {
    const VAR: &str = "SW_TEST_BOUND_APP_PASSWORD";
    let password = format!("bound-{}", std::process::id());
    let env = [(VAR, password.as_str())];
    let logs = tempfile::tempdir().expect("log dir");
    let ca = Ca::new("binding test root").expect("ca");
    let vhosts: Vec<Vhost> = ["trusted.test", "elsewhere.test"]
        .iter()
        .map(|host| {
            let mut v = Vhost::new(host, ca.leaf(&[host], Validity::days(60)).expect("leaf"));
            v.config = format!("  access_log {}/{host}.log;\n", logs.path().display());
            v
        })
        .collect();
    let nginx = Nginx::start(&vhosts);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    let site = |host: &str, label: &str| {
        repo.write(
            "sites/shop.test.yaml",
            &format!(
                "name: shop.test\nurl: https://{host}/\nconnect: {}\nca: ca.pem\n\
                 labels: {{team: {label}}}\nmanage:\n  software: {{provider: wordpress, via: rest, \
                 username: sw-admin, app_password: \"env:{VAR}\"}}\n",
                nginx.https_addr()
            ),
        );
    };
    // Requests to `host` that carried the password (the Basic-auth user in the log).
    let logins = |host: &str| {
        std::fs::read_to_string(logs.path().join(format!("{host}.log")))
            .unwrap_or_default()
            .matches(" - sw-admin [")
            .count()
    };
    site("trusted.test", "web");
    repo.commit_all("base: the password goes to the site");
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_owned();

    // The pull request points `url` elsewhere: the password is withheld, and the plan says so.
    site("elsewhere.test", "web");
    repo.commit_all("pull request: url elsewhere");
    let out = repo.run_env(
        &["plan", "--changed-since", &base, "--format", "json"],
        &env,
    );
    assert!(
        out.stdout.contains("application password withheld") && out.stdout.contains("(url)"),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        logins("elsewhere.test"),
        0,
        "the password was sent elsewhere"
    );
    assert!(!out.stdout.contains(&password) && !out.stderr.contains(&password));
    // Without a base to compare with, the checkout is trusted and the password goes along:
    // what the binding above prevents.
    repo.run_env(&["plan", "--format", "json"], &env);
    assert!(
        logins("elsewhere.test") > 0,
        "no login reached the other vhost"
    );

    // A pull request that leaves the destination alone: the password goes where it went.
    site("trusted.test", "shop");
    repo.commit_all("pull request: another label only");
    let out = repo.run_env(
        &["plan", "--changed-since", &base, "--format", "json"],
        &env,
    );
    assert!(!out.stdout.contains("withheld"), "{}", out.stdout);
    assert!(logins("trusted.test") > 0, "{}", out.stdout);

    // A pull request that changes only the content of the `ca` file: withheld again.
    repo.write("ca.pem", &format!("{}\n", ca.cert_pem));
    repo.commit_all("pull request: the CA file changes");
    let before = logins("trusted.test");
    let out = repo.run_env(
        &["plan", "--changed-since", &base, "--format", "json"],
        &env,
    );
    assert!(
        out.stdout
            .contains("this revision changes the `ca` file `ca.pem`"),
        "{}",
        out.stdout
    );
    assert_eq!(logins("trusted.test"), before, "the password went out");
}
