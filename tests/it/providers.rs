//! Providers and transports against the real thing: nginx on loopback managed locally and over
//! a real sshd, the `_headers` provider, rollback on test/reload failure, and the proof that
//! nothing passed over SSH can inject a command.

use std::path::{Path, PathBuf};

use siteward::observe::ObserveOpts;
use siteward::pki::{Ca, Validity};
use siteward::provider::{ApplyOutcome, Provider, ProviderError, Stage};
use siteward::secret::RunSecrets;
use siteward::spec::Site;
use siteward::transport::{Timeouts, Transport};
use siteward::verify::Verify;

use super::support::Repo;
use super::support::nginx::{Nginx, Vhost};
use super::support::sshd::Sshd;

const HOST: &str = "a.test";

/// A real nginx serving `a.test`, whose server block includes the site's managed file through
/// a glob (so the file may be absent), and the CA that signed its certificate.
struct Web {
    ca: Ca,
    nginx: Nginx,
}

impl Web {
    fn start() -> Web {
        let ca = Ca::new("providers test root").expect("ca");
        let cert = ca.leaf(&[HOST], Validity::days(30)).expect("leaf");
        let mut v = Vhost::new(HOST, cert);
        // The include path is only known once the prefix exists; patched in below.
        v.config = "  include INCLUDE;\n".to_owned();
        let nginx = Nginx::start(&[]);
        let include = format!("{}/siteward/{HOST}[.]conf", nginx.path().display());
        v.config = v.config.replace("INCLUDE", &include);
        nginx.add_vhost(&v);
        nginx.reload();
        Web { ca, nginx }
    }

    /// The managed include file.
    fn include(&self) -> PathBuf {
        self.nginx.path().join(format!("siteward/{HOST}.conf"))
    }

    /// A site file for `a.test` on this nginx with `extra` top-level YAML and `manage` lines.
    fn site(&self, repo: &Repo, extra: &str, manage: &str) -> Site {
        repo.write("ca.pem", &self.ca.cert_pem);
        let yaml = format!(
            "name: {HOST}\nurl: https://{HOST}/\nsync: auto\nconnect: {}\nconnect_http: {}\n\
             ca: ca.pem\n{extra}manage:\n  server:\n{manage}",
            self.nginx.https_addr(),
            self.nginx.http_addr()
        );
        load_site(repo, &yaml)
    }

    /// `manage.server` lines for the nginx provider with this nginx's commands.
    fn manage(&self, config: &Path) -> String {
        format!(
            "    provider: nginx\n    config: {}\n    test_command: {}\n    reload_command: {}\n",
            config.display(),
            self.nginx.command("-t"),
            self.nginx.command("-s reload")
        )
    }

    /// The headers `a.test` serves now (once a reload the provider started is over).
    async fn headers(&self) -> reqwest::header::HeaderMap {
        self.nginx.wait_settled();
        let ca = reqwest::Certificate::from_pem(self.ca.cert_pem.as_bytes()).expect("pem");
        let addr = self.nginx.https_addr().parse().expect("addr");
        let client = reqwest::Client::builder()
            .tls_certs_only([ca])
            .resolve(HOST, addr)
            .no_proxy()
            .build()
            .expect("client");
        let resp = client
            .get(format!("https://{HOST}/"))
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), 200);
        resp.headers().clone()
    }
}

/// Writes `yaml` as the repo's only site and loads it through the real loader.
#[track_caller]
pub(super) fn load_site(repo: &Repo, yaml: &str) -> Site {
    repo.write(&format!("sites/{HOST}.yaml"), yaml);
    let state = siteward::load::load_repo(repo.path()).unwrap_or_else(|e| match e {
        siteward::load::LoadError::Invalid(p) => panic!("invalid site: {p:?}\n{yaml}"),
        e => panic!("{e}"),
    });
    state.sites.into_values().next().expect("one site")
}

pub(super) fn provider(site: &Site, repo: &Repo) -> (Provider, Transport) {
    let p = Provider::for_site(site, repo.path())
        .expect("provider")
        .expect("manage.server");
    let spec = &site.manage.server.as_ref().expect("server").transport;
    let t = Transport::from_spec(spec, repo.path(), Timeouts::default()).expect("transport");
    (p, t)
}

/// Applies `site` through `p` the way `apply` does: secrets resolved once, verification by
/// observing and diffing again (10 s request timeout).
pub(super) async fn apply(
    p: &Provider,
    site: &Site,
    t: &Transport,
    repo: &Repo,
) -> Result<ApplyOutcome, ProviderError> {
    let secrets = RunSecrets::resolve(&[site], repo.path());
    let opts = ObserveOpts {
        concurrency: 1,
        per_host: 4,
        timeout: std::time::Duration::from_secs(10),
        progress: false,
        deadline: None,
        grade: false,
    };
    let verify = Verify::everything(repo.path(), opts, &secrets);
    let site_secrets = secrets.site(site.name.as_str()).expect("secrets resolve");
    p.apply(site, t, site_secrets, &verify).await
}

pub(super) fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Applies, adds, changes and removes headers and a redirect, checking what nginx serves.
async fn add_change_remove(web: &Web, repo: &Repo, manage: &str) {
    let with = "headers:\n  X-Frame-Options: DENY\n  X-Siteward-Test: 'a \"quoted\" \\ value; }'\n\
                redirects:\n  - {from: 'http://a.test/', to: 'https://a.test/', status: 301}\n";
    let site = web.site(repo, with, manage);
    let (p, t) = provider(&site, repo);
    let out = apply(&p, &site, &t, repo).await.expect("first apply");
    assert!(out.changed && out.verified && out.before.is_none());
    let h = web.headers().await;
    assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
    assert_eq!(
        header(&h, "x-siteward-test"),
        Some("a \"quoted\" \\ value; }")
    );
    let text = std::fs::read_to_string(web.include()).expect("include");
    assert!(
        text.starts_with("# managed by siteward — do not edit; site a.test\n"),
        "{text}"
    );
    assert!(
        text.contains("return 301 https://$host$request_uri;"),
        "{text}"
    );
    assert_eq!(
        p.observe(&site, &t).await.expect("observe").text,
        Some(out.after.clone())
    );

    // A second apply of the same state touches nothing.
    let again = apply(&p, &site, &t, repo).await.expect("second apply");
    assert!(!again.changed);

    // Change one header, make the other absent.
    let changed = "headers:\n  X-Frame-Options: SAMEORIGIN\n  X-Siteward-Test: absent\n";
    let site = web.site(repo, changed, manage);
    let (p, t) = provider(&site, repo);
    let out = apply(&p, &site, &t, repo).await.expect("change apply");
    assert!(out.changed);
    let h = web.headers().await;
    assert_eq!(header(&h, "x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(header(&h, "x-siteward-test"), None);
    let text = std::fs::read_to_string(web.include()).expect("include");
    assert!(
        !text.contains("X-Siteward-Test") && !text.contains("return"),
        "{text}"
    );
}

#[tokio::test]
async fn nginx_local_adds_changes_and_removes_headers() {
    let web = Web::start();
    let repo = Repo::new();
    add_change_remove(&web, &repo, &web.manage(&web.include())).await;
}

#[tokio::test]
async fn nginx_over_ssh_adds_changes_and_removes_headers() {
    let web = Web::start();
    let sshd = Sshd::start();
    let repo = Repo::new();
    let manage = format!("{}{}", web.manage(&web.include()), sshd.transport_yaml());
    add_change_remove(&web, &repo, &manage).await;
}

/// Applies `X-Version: 1`, then `X-Version: 2` with `manage` (a broken step) and checks that
/// version 1 is still in the file and served, and returns the error.
async fn second_apply_fails(web: &Web, repo: &Repo, manage: &str) -> ProviderError {
    let site = web.site(
        repo,
        "headers:\n  X-Version: '1'\n",
        &web.manage(&web.include()),
    );
    let (p, t) = provider(&site, repo);
    apply(&p, &site, &t, repo).await.expect("good apply");
    let good = std::fs::read(web.include()).expect("include");

    let site = web.site(repo, "headers:\n  X-Version: '2'\n", manage);
    let (p, t) = provider(&site, repo);
    let err = apply(&p, &site, &t, repo)
        .await
        .expect_err("broken apply must fail");
    assert_eq!(
        std::fs::read(web.include()).expect("include"),
        good,
        "{err}"
    );
    assert_eq!(header(&web.headers().await, "x-version"), Some("1"));
    err
}

#[tokio::test]
async fn nginx_failed_test_command_restores_the_old_config() {
    let web = Web::start();
    let repo = Repo::new();
    let manage = format!(
        "    provider: nginx\n    config: {}\n    test_command: sh -c 'echo config is broken >&2; exit 1'\n",
        web.include().display()
    );
    let err = second_apply_fails(&web, &repo, &manage).await;
    assert_eq!(err.stage(), Stage::Test);
    let msg = err.to_string();
    assert!(
        msg.contains(
            "site `a.test`: nginx test failed (previous config restored): config is broken"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn nginx_reload_failure_rolls_back() {
    let web = Web::start();
    let repo = Repo::new();
    let manage = format!(
        "    provider: nginx\n    config: {}\n    test_command: {}\n    reload_command: 'false'\n",
        web.include().display(),
        web.nginx.command("-t")
    );
    let err = second_apply_fails(&web, &repo, &manage).await;
    assert_eq!(err.stage(), Stage::Reload, "{err}");
    assert!(err.to_string().contains("exited with status 1"), "{err}");
}

#[tokio::test]
async fn nginx_real_config_error_is_reported_and_removed() {
    let web = Web::start();
    let repo = Repo::new();
    let site = web.site(
        &repo,
        "headers:\n  X-Version: '1'\n",
        &web.manage(&web.include()),
    );
    let (p, t) = provider(&site, &repo);
    apply(&p, &site, &t, &repo).await.expect("good apply");

    // A file placed where nginx includes it at `http {}` level: `if` is not allowed there, and
    // the real `nginx -t` says so.
    let misplaced = web.nginx.path().join("sites/zz-misplaced.conf");
    let redirect =
        "headers:\n  X-Other: x\nredirects:\n  - {from: 'http://a.test/', to: 'https://a.test/'}\n";
    let site = web.site(&repo, redirect, &web.manage(&misplaced));
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo)
        .await
        .expect_err("nginx -t must fail");
    assert_eq!(err.stage(), Stage::Test);
    let msg = err.to_string();
    assert!(
        msg.contains("\"if\" directive is not allowed here"),
        "{msg}"
    );
    assert!(!misplaced.exists(), "a broken config was left in place");
    assert_eq!(header(&web.headers().await, "x-version"), Some("1"));
}

#[tokio::test]
async fn nginx_secret_header_is_served_but_never_returned() {
    let web = Web::start();
    let repo = Repo::new();
    repo.write("secrets/token", "s3cret-token-value\n");
    let site = web.site(
        &repo,
        "headers:\n  X-Token: file:secrets/token\n",
        &web.manage(&web.include()),
    );
    let (p, t) = provider(&site, &repo);
    let secrets = RunSecrets::resolve(&[&site], repo.path());
    let site_secrets = secrets.site(site.name.as_str()).expect("secrets");
    let rendered = p.render(&site, site_secrets).expect("render");
    assert!(!rendered.text.contains("s3cret") && !format!("{rendered:?}").contains("s3cret"));
    let out = apply(&p, &site, &t, &repo).await.expect("apply");
    assert!(out.after.contains("<secret sha256:") && !out.after.contains("s3cret"));
    assert_eq!(
        header(&web.headers().await, "x-token"),
        Some("s3cret-token-value")
    );
    let observed = p
        .observe(&site, &t)
        .await
        .expect("observe")
        .text
        .expect("file");
    assert_eq!(observed, rendered.text);
}

#[tokio::test]
async fn nginx_refuses_dollar_values() {
    let web = Web::start();
    let repo = Repo::new();
    let site = web.site(
        &repo,
        "headers:\n  X-Ip: '$remote_addr'\n",
        &web.manage(&web.include()),
    );
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo)
        .await
        .expect_err("`$` must be refused");
    assert_eq!(err.stage(), Stage::Render);
    assert!(err.to_string().contains("`X-Ip` contains `$`"), "{err}");
    assert!(!web.include().exists());
}

/// Applies the `_headers` provider twice and checks foreign lines survive byte for byte.
async fn headers_file_keeps_foreign_lines(transport_yaml: &str) {
    let repo = Repo::new();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("public/_headers");
    let foreign = "# hand written\n/assets/*\n  Cache-Control: public, max-age=31536000\n";
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, foreign).expect("write");
    let manage = format!(
        "    provider: headers-file\n    config: {}\n{transport_yaml}",
        file.display()
    );
    let yaml = |headers: &str| {
        format!(
            "name: {HOST}\nurl: https://{HOST}/\nheaders:\n{headers}manage:\n  server:\n{manage}"
        )
    };
    let site = load_site(
        &repo,
        &yaml("  X-Frame-Options: DENY\n  Referrer-Policy: no-referrer\n"),
    );
    let (p, t) = provider(&site, &repo);
    let out = apply(&p, &site, &t, &repo).await.expect("apply");
    assert!(out.changed && !out.verified);
    let text = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        text,
        format!(
            "{foreign}\n# siteward:begin\n# managed by siteward — do not edit between these markers; \
             site a.test\n/*\n  Referrer-Policy: no-referrer\n  X-Frame-Options: DENY\n# siteward:end\n"
        )
    );
    // Someone adds lines after the block; a change keeps them too.
    std::fs::write(&file, format!("{text}/docs/*\n  X-Robots-Tag: noindex\n")).expect("append");
    let site = load_site(&repo, &yaml("  X-Frame-Options: SAMEORIGIN\n"));
    let (p, t) = provider(&site, &repo);
    assert!(apply(&p, &site, &t, &repo).await.expect("apply").changed);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.starts_with(foreign), "{text}");
    assert!(
        text.ends_with(
            "  X-Frame-Options: SAMEORIGIN\n# siteward:end\n/docs/*\n  X-Robots-Tag: noindex\n"
        ),
        "{text}"
    );
    assert!(!text.contains("Referrer-Policy"), "{text}");
    assert!(!apply(&p, &site, &t, &repo).await.expect("again").changed);
}

#[tokio::test]
async fn headers_file_local_preserves_foreign_lines() {
    headers_file_keeps_foreign_lines("").await;
}

#[tokio::test]
async fn headers_file_over_ssh_preserves_foreign_lines() {
    let sshd = Sshd::start();
    headers_file_keeps_foreign_lines(&sshd.transport_yaml()).await;
}

/// A name made to break out of any quoting: spaces, `;`, `$()`, backticks, both quotes, newline.
const EVIL: &str = "a b;touch PWNED $(touch PWNED2) `touch PWNED3`'\"\n";

/// Writes, reads, copies, runs with and removes evil names and values through `t`, then
/// checks that exactly the intended files exist and no command ran.
async fn no_injection(t: &Transport) {
    let dir = tempfile::tempdir().expect("dir");
    let sub = dir.path().join("sub dir $(touch PWNED4);x");
    let file = sub.join(EVIL);
    t.write(&file, EVIL.as_bytes()).await.expect("write");
    assert_eq!(
        std::fs::read(&file).expect("file with the exact name"),
        EVIL.as_bytes()
    );
    assert_eq!(
        t.read(&file).await.expect("read"),
        Some(EVIL.as_bytes().to_vec())
    );
    let copy = sub.join(format!("{EVIL}.bak"));
    t.copy(&file, &copy).await.expect("copy");
    assert_eq!(std::fs::read(&copy).expect("copy"), EVIL.as_bytes());
    let argv = [
        "printf".to_owned(),
        "%s|".to_owned(),
        EVIL.to_owned(),
        "$HOME".to_owned(),
    ];
    let out = t.run(&argv).await.expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{EVIL}|$HOME|")
    );
    t.remove(&copy).await.expect("remove");
    assert!(!copy.exists());
    assert_eq!(t.read(&copy).await.expect("read absent"), None);

    let mut names: Vec<_> = std::fs::read_dir(&sub)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from(EVIL)]);
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    // Where a stray `touch` would land: the directory commands run in (the login's home over
    // SSH), this process's directory, and the test's own.
    let out = t.run(&["pwd".to_owned()]).await.expect("pwd");
    let cwd = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    for pwned in ["PWNED", "PWNED2", "PWNED3", "PWNED4"] {
        for root in [cwd.as_path(), Path::new("."), dir.path()] {
            assert!(
                !root.join(pwned).exists(),
                "{pwned} was created in {}",
                root.display()
            );
        }
    }
}

#[tokio::test]
async fn ssh_transport_cannot_be_injected() {
    let sshd = Sshd::start();
    let spec = siteward::spec::Transport {
        host: Some(sshd.url().parse().expect("target")),
        identity: Some(sshd.identity()),
        known_hosts: Some(sshd.known_hosts()),
        ssh_options: vec!["ServerAliveInterval=5".parse().expect("valid option")],
    };
    let t = Transport::from_spec(&spec, Path::new("/"), Timeouts::default()).expect("ssh");
    no_injection(&t).await;
}

/// Issue #16: allowed options, written in any spelling ssh itself accepts, reach the real ssh in
/// the one spelling siteward checked (ssh refuses an unknown option name outright).
#[tokio::test]
async fn ssh_options_in_any_spelling_work_against_a_real_sshd() {
    let sshd = Sshd::start();
    let options = [
        "serveraliveinterval 5",
        "\"Compression\" = YES",
        "ConnectionAttempts=2",
        "loglevel=error",
        "TCPKeepAlive \"yes\"",
        "IPQoS af21 cs1",
        "StrictHostKeyChecking=yes",
    ];
    let spec = siteward::spec::Transport {
        host: Some(sshd.url().parse().expect("target")),
        identity: Some(sshd.identity()),
        known_hosts: Some(sshd.known_hosts()),
        ssh_options: options
            .iter()
            .map(|o| o.parse().expect("allowed option"))
            .collect(),
    };
    let t = Transport::from_spec(&spec, Path::new("/"), Timeouts::default()).expect("ssh");
    let out = t
        .run(&["echo".to_owned(), "ok".to_owned()])
        .await
        .expect("ssh runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok", "{out:?}");
    // The bypasses of the old deny-list are not options at all.
    for refused in [
        "StrictHostKeyChecking=false",
        "UserKnownHostsFile=/dev//null",
        "SendEnv=*",
        "ForwardAgent=yes",
        "Hostname=127.0.0.2",
        "RemoteForward=2222 localhost:22",
    ] {
        assert!(
            refused.parse::<siteward::spec::SshOption>().is_err(),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn local_transport_cannot_be_injected() {
    let t = Transport::from_spec(&Default::default(), Path::new("/"), Timeouts::default())
        .expect("local");
    no_injection(&t).await;
}

#[tokio::test]
async fn ssh_refuses_an_unknown_host_key() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().expect("dir");
    let empty = dir.path().join("known_hosts");
    std::fs::write(&empty, "").expect("write");
    let spec = siteward::spec::Transport {
        host: Some(sshd.url().parse().expect("target")),
        identity: Some(sshd.identity()),
        known_hosts: Some(empty),
        ssh_options: Vec::new(),
    };
    let t = Transport::from_spec(&spec, Path::new("/"), Timeouts::default()).expect("ssh");
    let err = t
        .run(&["true".to_owned()])
        .await
        .expect_err("host key not pinned");
    assert!(
        err.to_string().contains("Host key verification failed"),
        "{err}"
    );
}

#[tokio::test]
async fn commands_are_killed_at_the_deadline() {
    let timeouts = Timeouts {
        command: std::time::Duration::from_millis(300),
        ..Timeouts::default()
    };
    let t = Transport::from_spec(&Default::default(), Path::new("/"), timeouts).expect("local");
    let start = std::time::Instant::now();
    let err = t
        .run(&["sleep".to_owned(), "120".to_owned()])
        .await
        .expect_err("timeout");
    // Killed at the deadline, not waited for: far below the command's two minutes, with room
    // for a loaded machine.
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    assert!(err.to_string().contains("did not finish"), "{err}");
}

#[tokio::test]
async fn nginx_unverifiable_change_is_rolled_back() {
    let web = Web::start();
    let repo = Repo::new();
    // nginx never includes this file: test and reload pass, but the header is never served.
    let unused = web.nginx.path().join("unused/a.test.conf");
    let site = web.site(&repo, "headers:\n  X-Never: served\n", &web.manage(&unused));
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo)
        .await
        .expect_err("verify must fail");
    assert_eq!(err.stage(), Stage::Verify, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("header `x-never` is not sent, expected `served`"),
        "{msg}"
    );
    assert!(!unused.exists(), "an unverified config was left in place");
}

/// Property (issue #16): any printable header value either renders into an include that the
/// real `nginx -t` accepts and nginx then serves exactly that value — checked by the apply's own
/// verification and by reading the response — or, with a `$` nginx would expand, is refused
/// before anything is written.
#[test]
fn nginx_round_trips_any_printable_value_or_refuses_it() {
    use proptest::test_runner::{Config, TestRunner};
    let web = Web::start();
    let repo = Repo::new();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    });
    let values = proptest::string::string_regex("[ -~]{1,40}").expect("regex");
    runner
        .run(&values, |value| {
            let trimmed = value.trim();
            if trimmed.is_empty()
                || trimmed == "absent"
                || trimmed.starts_with("env:")
                || trimmed.starts_with("file:")
            {
                return Ok(());
            }
            let quoted = trimmed.replace('\'', "''");
            let site = web.site(
                &repo,
                &format!("headers:\n  X-Prop: '{quoted}'\n"),
                &web.manage(&web.include()),
            );
            let (p, t) = provider(&site, &repo);
            let before = std::fs::read(web.include()).ok();
            let result = runtime.block_on(apply(&p, &site, &t, &repo));
            if trimmed.contains('$') {
                let err = result.expect_err("a `$` value must be refused");
                assert_eq!(err.stage(), Stage::Render, "{err}");
                assert_eq!(std::fs::read(web.include()).ok(), before, "file touched");
            } else {
                result.unwrap_or_else(|e| panic!("`{trimmed}`: {e}"));
                let served = runtime.block_on(web.headers());
                assert_eq!(
                    header(&served, "x-prop"),
                    Some(trimmed),
                    "value `{trimmed}`"
                );
            }
            Ok(())
        })
        .expect("property");
}
