//! The `apache` and `htaccess` providers against a real Apache 2.4 on loopback (its own
//! ServerRoot, mod_headers, mod_rewrite, mod_ssl), locally and over a real sshd: headers and
//! the https redirect added, changed and removed; a config Apache refuses (`apache2 -t`, or a
//! `.htaccess` that makes it answer 500) never left in place; WordPress's `.htaccess` block
//! kept byte for byte; values that try to break out of Apache's syntax served literally.

use std::path::PathBuf;

use siteward::pki::{Ca, Validity};
use siteward::plan::{Action, Change, Resource, Step};
use siteward::provider::Stage;
use siteward::spec::Site;

use super::providers::{apply, header, load_site, provider};
use super::support::Repo;
use super::support::apache::{Apache, Vhost};
use super::support::sshd::Sshd;

const HOST: &str = "a.test";

/// WordPress's own block, as WordPress writes it (the file must keep it byte for byte).
const WORDPRESS: &str = "# BEGIN WordPress\n# The directives (lines) between \"BEGIN WordPress\" \
    and \"END WordPress\" are\n# dynamically generated.\n<IfModule mod_rewrite.c>\nRewriteEngine On\n\
    RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]\nRewriteBase /\n\
    RewriteRule ^index\\.php$ - [L]\nRewriteCond %{REQUEST_FILENAME} !-f\n\
    RewriteCond %{REQUEST_FILENAME} !-d\nRewriteRule . /index.php [L]\n</IfModule>\n\n\
    # END WordPress\n";

/// A real Apache serving `a.test` on http and https, including the site's include file (which
/// may be absent: `IncludeOptional`), with the CA that signed its certificate.
struct Web {
    ca: Ca,
    apache: Apache,
}

impl Web {
    /// Apache with `AllowOverride` `allow` for the docroot, every module loaded.
    fn start(allow: &str) -> Web {
        Web::start_without(allow, &[])
    }

    /// As [`Web::start`], without the modules named in `without`.
    fn start_without(allow: &str, without: &'static [&'static str]) -> Web {
        let ca = Ca::new("apache test root").expect("ca");
        let cert = ca.leaf(&[HOST], Validity::days(30)).expect("leaf");
        let apache = Apache::start_without(&[], without);
        let mut v = Vhost::new(HOST, cert);
        v.allow_override = allow.to_owned();
        v.files.push((
            "hello-world/index.html".into(),
            "<h1>Hello world</h1>\n".into(),
        ));
        v.config = format!(
            "  IncludeOptional {}/siteward/{HOST}.conf\n",
            apache.path().display()
        );
        apache.add_vhost(&v);
        apache.reload();
        Web { ca, apache }
    }

    /// The managed include file.
    fn include(&self) -> PathBuf {
        self.apache.path().join(format!("siteward/{HOST}.conf"))
    }

    /// The site's `.htaccess`.
    fn htaccess(&self) -> PathBuf {
        self.apache.docroot(HOST).join(".htaccess")
    }

    /// A site file for `a.test` on this Apache with `extra` top-level YAML and `manage` lines.
    fn site(&self, repo: &Repo, extra: &str, manage: &str) -> Site {
        load_site(repo, &self.yaml(repo, extra, manage))
    }

    fn yaml(&self, repo: &Repo, extra: &str, manage: &str) -> String {
        repo.write("ca.pem", &self.ca.cert_pem);
        format!(
            "name: {HOST}\nurl: https://{HOST}/\nsync: auto\nconnect: {}\nconnect_http: {}\n\
             ca: ca.pem\n{extra}manage:\n  server:\n{manage}",
            self.apache.https_addr(),
            self.apache.http_addr()
        )
    }

    /// `manage.server` lines for the apache provider with this Apache's commands.
    fn manage_apache(&self) -> String {
        format!(
            "    provider: apache\n    config: {}\n    test_command: {}\n    reload_command: {}\n",
            self.include().display(),
            self.apache.command("-t"),
            self.apache.command("-k graceful")
        )
    }

    /// `manage.server` lines for the htaccess provider (no commands).
    fn manage_htaccess(&self) -> String {
        format!(
            "    provider: htaccess\n    config: {}\n",
            self.htaccess().display()
        )
    }

    /// The redirect to https on this Apache's https port.
    fn redirect(&self) -> String {
        format!(
            "redirects:\n  - {{from: 'http://{HOST}/', to: 'https://{HOST}:{}/', status: 301}}\n",
            self.apache.https_port
        )
    }

    /// `(status, headers)` of `GET https://a.test/`.
    async fn https(&self) -> (u16, reqwest::header::HeaderMap) {
        let ca = reqwest::Certificate::from_pem(self.ca.cert_pem.as_bytes()).expect("pem");
        let addr = self.apache.https_addr().parse().expect("addr");
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
        (resp.status().as_u16(), resp.headers().clone())
    }

    /// The headers of a 200 answer of `https://a.test/`.
    async fn headers(&self) -> reqwest::header::HeaderMap {
        let (status, headers) = self.https().await;
        assert_eq!(status, 200, "{headers:?}");
        headers
    }

    /// `(status, Location)` of `GET http://a.test/PATH` (not followed).
    async fn http(&self, path: &str) -> (u16, Option<String>) {
        let addr = self.apache.http_addr().parse().expect("addr");
        let client = reqwest::Client::builder()
            .resolve(HOST, addr)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("client");
        let resp = client
            .get(format!("http://{HOST}{path}"))
            .send()
            .await
            .expect("GET");
        let location = header(resp.headers(), "location").map(str::to_owned);
        (resp.status().as_u16(), location)
    }
}

/// Adds, changes and removes headers and the redirect through `manage`, checking what Apache
/// serves and that `file` keeps `foreign` (the file's other lines) byte for byte.
async fn add_change_remove(web: &Web, repo: &Repo, manage: &str, file: &PathBuf, foreign: &str) {
    let with = format!(
        "headers:\n  X-Frame-Options: DENY\n  X-Siteward-Test: 'a \"quoted\" \\ value; }}'\n{}",
        web.redirect()
    );
    let site = web.site(repo, &with, manage);
    let (p, t) = provider(&site, repo);
    let out = apply(&p, &site, &t, repo).await.expect("first apply");
    assert!(
        out.changed && out.verified && out.before.is_none(),
        "{out:?}"
    );
    let h = web.headers().await;
    assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
    assert_eq!(
        header(&h, "x-siteward-test"),
        Some("a \"quoted\" \\ value; }")
    );
    // The upgrade keeps the request's path and query (and runs before WordPress's rewrite).
    let https = web.apache.https_port;
    assert_eq!(
        web.http("/hello-world/?p=1&q=a%20b").await,
        (
            301,
            Some(format!("https://{HOST}:{https}/hello-world/?p=1&q=a%20b"))
        )
    );
    let text = std::fs::read_to_string(file).expect("config");
    assert!(text.ends_with(foreign), "{text}");
    assert_eq!(
        p.observe(&site, &t).await.expect("observe").text,
        Some(out.after.clone())
    );

    // A second apply of the same state touches nothing.
    let again = apply(&p, &site, &t, repo).await.expect("second apply");
    assert!(!again.changed);
    assert_eq!(std::fs::read_to_string(file).expect("config"), text);

    // Change one header, make the other absent, drop the redirect.
    let changed = "headers:\n  X-Frame-Options: SAMEORIGIN\n  X-Siteward-Test: absent\n";
    let site = web.site(repo, changed, manage);
    let (p, t) = provider(&site, repo);
    assert!(apply(&p, &site, &t, repo).await.expect("change").changed);
    let h = web.headers().await;
    assert_eq!(header(&h, "x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(header(&h, "x-siteward-test"), None);
    assert_eq!(web.http("/").await, (200, None));
    let text = std::fs::read_to_string(file).expect("config");
    assert!(
        !text.contains("X-Siteward-Test") && !text.contains("RewriteCond %{HTTPS}"),
        "{text}"
    );
    assert!(text.ends_with(foreign), "{text}");

    // Nothing left to manage: the file keeps only siteward's (empty) part and the rest.
    let site = web.site(repo, "headers:\n  X-Frame-Options: absent\n", manage);
    let (p, t) = provider(&site, repo);
    assert!(apply(&p, &site, &t, repo).await.expect("remove").changed);
    assert_eq!(header(&web.headers().await, "x-frame-options"), None);
    assert!(
        std::fs::read_to_string(file)
            .expect("config")
            .ends_with(foreign)
    );
}

#[tokio::test]
async fn apache_local_adds_changes_and_removes_headers_and_the_redirect() {
    let web = Web::start("None");
    let repo = Repo::new();
    add_change_remove(&web, &repo, &web.manage_apache(), &web.include(), "").await;
    let text = std::fs::read_to_string(web.include()).expect("include");
    assert_eq!(text, "# managed by siteward — do not edit; site a.test\n");
}

#[tokio::test]
async fn apache_over_ssh_adds_changes_and_removes_headers_and_the_redirect() {
    let web = Web::start("None");
    let sshd = Sshd::start();
    let repo = Repo::new();
    let manage = format!("{}{}", web.manage_apache(), sshd.transport_yaml());
    add_change_remove(&web, &repo, &manage, &web.include(), "").await;
}

/// Debian ships mod_rewrite disabled: the redirect's `RewriteEngine` then fails the real
/// `apache2 -t`, and the include that served `X-Version: 1` stays in place and served.
#[tokio::test]
async fn apache_config_test_failure_keeps_the_old_config_serving() {
    let web = Web::start_without("None", &["rewrite_module"]);
    let repo = Repo::new();
    let site = web.site(&repo, "headers:\n  X-Version: '1'\n", &web.manage_apache());
    let (p, t) = provider(&site, &repo);
    apply(&p, &site, &t, &repo).await.expect("good apply");
    let good = std::fs::read(web.include()).expect("include");

    let broken = format!("headers:\n  X-Version: '2'\n{}", web.redirect());
    let site = web.site(&repo, &broken, &web.manage_apache());
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo)
        .await
        .expect_err("apache2 -t must fail");
    assert_eq!(err.stage(), Stage::Test, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("apache test failed (previous config restored)")
            && msg.contains("Invalid command 'RewriteEngine'"),
        "{msg}"
    );
    assert_eq!(std::fs::read(web.include()).expect("include"), good);
    assert_eq!(header(&web.headers().await, "x-version"), Some("1"));
}

/// A reload that fails (here: a reload command that always fails) restores the include.
#[tokio::test]
async fn apache_reload_failure_restores_the_include() {
    let web = Web::start("None");
    let repo = Repo::new();
    let site = web.site(&repo, "headers:\n  X-Version: '1'\n", &web.manage_apache());
    let (p, t) = provider(&site, &repo);
    apply(&p, &site, &t, &repo).await.expect("good apply");
    let good = std::fs::read(web.include()).expect("include");
    let manage = format!(
        "    provider: apache\n    config: {}\n    test_command: {}\n    reload_command: 'false'\n",
        web.include().display(),
        web.apache.command("-t")
    );
    let site = web.site(&repo, "headers:\n  X-Version: '2'\n", &manage);
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo).await.expect_err("reload fails");
    assert_eq!(err.stage(), Stage::Reload, "{err}");
    assert_eq!(std::fs::read(web.include()).expect("include"), good);
    assert_eq!(header(&web.headers().await, "x-version"), Some("1"));
}

#[tokio::test]
async fn htaccess_local_keeps_wordpress_byte_for_byte() {
    let web = Web::start("All");
    let repo = Repo::new();
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    add_change_remove(
        &web,
        &repo,
        &web.manage_htaccess(),
        &web.htaccess(),
        WORDPRESS,
    )
    .await;
    assert_eq!(
        std::fs::read_to_string(web.htaccess()).expect("htaccess"),
        format!(
            "# BEGIN siteward\n# managed by siteward — do not edit between these markers; \
             site a.test\n# END siteward\n\n{WORDPRESS}"
        )
    );
}

#[tokio::test]
async fn htaccess_over_ssh_keeps_wordpress_byte_for_byte() {
    let web = Web::start("All");
    let sshd = Sshd::start();
    let repo = Repo::new();
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    let manage = format!("{}{}", web.manage_htaccess(), sshd.transport_yaml());
    add_change_remove(&web, &repo, &manage, &web.htaccess(), WORDPRESS).await;
}

/// `AllowOverride Indexes` does not allow `Header`: Apache answers 500 for the whole
/// directory once the block is there. Verification sees it and the old file comes back.
#[tokio::test]
async fn htaccess_block_that_makes_apache_answer_500_is_restored() {
    let web = Web::start("Indexes");
    let repo = Repo::new();
    let mine = "# hand written\r\nDirectoryIndex index.html\n";
    std::fs::write(web.htaccess(), mine).expect(".htaccess");
    let site = web.site(
        &repo,
        "headers:\n  X-Frame-Options: DENY\n",
        &web.manage_htaccess(),
    );
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo)
        .await
        .expect_err("a 500 must fail verification");
    assert_eq!(err.stage(), Stage::Verify, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("(previous config restored)")
            && msg.contains("header `x-frame-options` is not sent"),
        "{msg}"
    );
    assert_eq!(std::fs::read_to_string(web.htaccess()).expect("file"), mine);
    let (status, _) = web.https().await;
    assert_eq!(status, 200);
    let log = std::fs::read_to_string(web.apache.path().join("logs/error.log")).expect("log");
    assert!(log.contains("Header not allowed here"), "{log}");
}

/// Values made to break out of Apache's quoting, mod_headers' format strings and any shell:
/// quotes, `;`, `$()`, backticks, `%{VAR}e`, backslashes before `n` and at the end.
const EVIL: &str = r#"a "b" 'c'; $(touch PWNED) `touch PWNED2` %{HOME}e 100% \n\t \"#;

/// `EVIL` as a single-quoted YAML scalar.
fn evil_yaml() -> String {
    format!("'{}'", EVIL.replace('\'', "''"))
}

async fn values_are_served_literally(web: &Web, manage: &str, file: &PathBuf) {
    let repo = Repo::new();
    let extra = format!("headers:\n  X-Evil: {}\n  X-Plain: ok\n", evil_yaml());
    let site = web.site(&repo, &extra, manage);
    let (p, t) = provider(&site, &repo);
    apply(&p, &site, &t, &repo).await.expect("apply");
    let h = web.headers().await;
    assert_eq!(header(&h, "x-evil"), Some(EVIL));
    assert_eq!(header(&h, "x-plain"), Some("ok"));
    // One line per header: nothing became a directive of its own.
    let text = std::fs::read_to_string(file).expect("file");
    assert_eq!(text.matches("Header always set").count(), 2, "{text}");
    for pwned in ["PWNED", "PWNED2"] {
        assert!(!PathBuf::from(pwned).exists());
        assert!(!web.apache.path().join(pwned).exists());
    }

    // `${VAR}` would be expanded by Apache itself: refused before anything is written.
    let extra = "headers:\n  X-Home: '${HOME} and ${APACHE_RUN_USER}'\n";
    let site = web.site(&repo, extra, manage);
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo).await.expect_err("`${` refused");
    assert_eq!(err.stage(), Stage::Render, "{err}");
    assert!(err.to_string().contains("`X-Home` contains `${`"), "{err}");
    assert_eq!(std::fs::read_to_string(file).expect("file"), text);

    // A newline cannot get into a value at all: the site file is refused at load.
    let yaml = web.yaml(
        &repo,
        "headers:\n  X-Nl: \"a\\nHeader set X-Injected 1\"\n",
        manage,
    );
    let (_, problems) = siteward::load::load_sources(&[siteward::load::Source {
        path: format!("sites/{HOST}.yaml"),
        text: yaml,
    }]);
    assert!(
        !problems.is_empty(),
        "a newline in a header value was accepted"
    );
}

#[tokio::test]
async fn apache_values_cannot_break_out_of_the_header_line() {
    let web = Web::start("None");
    values_are_served_literally(&web, &web.manage_apache(), &web.include()).await;
}

#[tokio::test]
async fn htaccess_values_cannot_break_out_of_the_header_line() {
    let web = Web::start("All");
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    values_are_served_literally(&web, &web.manage_htaccess(), &web.htaccess()).await;
    assert!(
        std::fs::read_to_string(web.htaccess())
            .expect("file")
            .ends_with(WORDPRESS)
    );
}

fn change(resource: Resource, key: &str, action: Action, desired: Option<&str>) -> Change {
    Change {
        resource,
        key: key.to_owned(),
        action,
        live: None,
        desired: desired.map(str::to_owned),
        provider: None,
        applicable: false,
        step: Step::Propose,
        reason: None,
    }
}

/// Proposals for Apache and `.htaccess` sites carry the exact lines for their file.
#[test]
fn advice_is_the_exact_apache_lines() {
    let changes = [
        change(
            Resource::Header,
            "X-Frame-Options",
            Action::Add,
            Some("DENY"),
        ),
        change(
            Resource::Header,
            "X-Pct",
            Action::Change,
            Some(r#"50% "off""#),
        ),
        change(Resource::Header, "server", Action::Remove, None),
        change(
            Resource::Redirect,
            "http://a.test/",
            Action::Add,
            Some("301 https://a.test/"),
        ),
    ];
    for keyword in ["apache", "htaccess"] {
        let kind = siteward::provider::kind(keyword.parse().expect("keyword"));
        let advice = kind.advice(&changes);
        for line in [
            "Header always set X-Frame-Options \"DENY\"",
            "Header always set X-Pct \"50%% \\\"off\\\"\"",
            "Header always unset server",
            "RewriteRule ^ https://a.test/ [R=301,L,NE]",
            "```apache",
        ] {
            assert!(
                advice.contains(line),
                "{keyword}: `{line}` missing:\n{advice}"
            );
        }
    }
    let htaccess = siteward::provider::kind("htaccess".parse().expect("keyword"));
    assert!(htaccess.advice(&changes).contains("# BEGIN siteward"));
}

/// The whole loop through the real binary: plan names the provider and an `apply` step,
/// apply serves the change, a second plan is in sync.
#[test]
fn apply_through_the_binary_with_htaccess() {
    let web = Web::start("All");
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    let repo = Repo::new();
    let yaml = web.yaml(
        &repo,
        &format!("headers:\n  X-Frame-Options: DENY\n{}", web.redirect()),
        &web.manage_htaccess(),
    );
    repo.write(&format!("sites/{HOST}.yaml"), &yaml);
    repo.commit_all("htaccess site");
    let plan = repo.run(&["plan", "--format", "json"]);
    plan.expect_code(2);
    let doc = plan.json();
    let changes = doc["sites"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{doc}");
    for c in changes {
        assert_eq!(c["provider"], "htaccess", "{doc}");
        assert_eq!(c["step"], "apply", "{doc}");
    }
    repo.run(&["apply"]).expect_code(0);
    repo.run(&["plan"]).expect_code(0);
    let text = std::fs::read_to_string(web.htaccess()).expect("file");
    assert!(
        text.starts_with("# BEGIN siteward\n") && text.ends_with(&format!("\n{WORDPRESS}")),
        "{text}"
    );
}

/// Issue #15 item 4: a `sync: propose` site gets a proposal with the exact lines for the
/// file its provider would edit, and nothing is written.
#[test]
fn proposals_show_the_lines_for_the_sites_own_file() {
    let web = Web::start("All");
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    for (manage, want) in [
        (web.manage_htaccess(), "# BEGIN siteward"),
        (web.manage_apache(), "inside the site's `<VirtualHost>`"),
    ] {
        let repo = Repo::new();
        let yaml = web
            .yaml(&repo, "headers:\n  X-Frame-Options: DENY\n", &manage)
            .replace("sync: auto", "sync: propose");
        repo.write(&format!("sites/{HOST}.yaml"), &yaml);
        repo.commit_all("propose");
        repo.run(&["reconcile"]).expect_code(2);
        let md = repo.git(&["show", &format!("siteward-proposals/{HOST}:PROPOSAL.md")]);
        assert!(
            md.contains(want) && md.contains("Header always set X-Frame-Options \"DENY\""),
            "{md}"
        );
        // Only the site's own syntax: no nginx, no `_headers` lines.
        assert!(
            !md.contains("add_header") && !md.contains("  X-Frame-Options: DENY"),
            "{md}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(web.htaccess()).expect("file"),
        WORDPRESS
    );
    assert!(!web.include().exists());
}

#[tokio::test]
async fn htaccess_over_sftp_only_keeps_wordpress_byte_for_byte() {
    let web = Web::start("All");
    let sshd = Sshd::start_sftp_only();
    let repo = Repo::new();
    std::fs::write(web.htaccess(), WORDPRESS).expect("wordpress .htaccess");
    let manage = format!("{}{}", web.manage_htaccess(), sshd.transport_yaml());
    assert!(manage.contains("host: sftp://"), "{manage}");
    add_change_remove(&web, &repo, &manage, &web.htaccess(), WORDPRESS).await;
}

/// An SFTP-only account runs no command: a provider that needs one fails at its first
/// command, and the file written before it is put back.
#[tokio::test]
async fn apache_over_sftp_only_fails_clearly_and_restores() {
    let web = Web::start("None");
    let sshd = Sshd::start_sftp_only();
    let repo = Repo::new();
    std::fs::create_dir_all(web.include().parent().expect("parent")).expect("mkdir");
    std::fs::write(web.include(), "# before\n").expect("include");
    let manage = format!("{}{}", web.manage_apache(), sshd.transport_yaml());
    let site = web.site(&repo, "headers:\n  X-Frame-Options: DENY\n", &manage);
    let (p, t) = provider(&site, &repo);
    let err = apply(&p, &site, &t, &repo).await.expect_err("no commands");
    assert_eq!(err.stage(), Stage::Test, "{err}");
    assert!(
        err.to_string()
            .contains("only transfers files; `/usr/sbin/apache2` cannot run there"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(web.include()).expect("include"),
        "# before\n"
    );
}

/// Names made to break out of sftp's batch syntax (spaces, quotes, `;`, `$()`, globs,
/// backslashes) are written, read, copied and removed exactly; a newline is refused; no
/// command can run.
#[tokio::test]
async fn sftp_transport_cannot_be_injected() {
    use siteward::transport::{Timeouts, Transport};
    let sshd = Sshd::start_sftp_only();
    let spec = siteward::spec::Transport {
        host: Some(sshd.url().parse().expect("target")),
        identity: Some(sshd.identity()),
        known_hosts: Some(sshd.known_hosts()),
        ssh_options: Vec::new(),
    };
    let t =
        Transport::from_spec(&spec, std::path::Path::new("/"), Timeouts::default()).expect("sftp");
    let dir = tempfile::tempdir().expect("dir");
    // A decoy that a glob in the name would match instead.
    std::fs::write(dir.path().join("a;b axc"), "decoy").expect("decoy");
    let evil = "a;b a*c $(touch PWNED) `touch PWNED2` '\"\\ [x]?";
    let file = dir.path().join(evil);
    t.write(&file, evil.as_bytes()).await.expect("write");
    assert_eq!(std::fs::read(&file).expect("exact name"), evil.as_bytes());
    assert_eq!(
        t.read(&file).await.expect("read"),
        Some(evil.as_bytes().to_vec())
    );
    let copy = dir.path().join(format!("{evil}.bak"));
    t.copy(&file, &copy).await.expect("copy");
    assert_eq!(std::fs::read(&copy).expect("copy"), evil.as_bytes());
    t.remove(&copy).await.expect("remove");
    assert_eq!(t.read(&copy).await.expect("absent"), None);
    t.remove(&copy)
        .await
        .expect("removing an absent file is fine");
    let newline = dir.path().join("x\n!touch PWNED3");
    assert!(t.write(&newline, b"x").await.is_err());
    let err = t
        .run(&["touch".to_owned(), "PWNED4".to_owned()])
        .await
        .expect_err("no commands over sftp");
    assert!(err.to_string().contains("only transfers files"), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [evil, "a;b axc"]);
    assert_eq!(
        std::fs::read(dir.path().join("a;b axc")).expect("decoy"),
        b"decoy"
    );
    for pwned in ["PWNED", "PWNED2", "PWNED3", "PWNED4"] {
        assert!(!std::path::Path::new(pwned).exists() && !dir.path().join(pwned).exists());
    }
}
