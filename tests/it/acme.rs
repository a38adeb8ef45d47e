//! The `acme` certificate provider against the real thing: pebble issuing with real http-01
//! validation through nginx's webroot, nginx serving the new certificate, locally and over a
//! real sshd. Plan reasons, 0600 keys, challenge files removed, restore on failure, a second
//! apply that plans nothing, and no private key anywhere in Git or output.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use siteward::pki::{Ca, Validity};

use super::reconcile::{results, site_record};
use super::support::nginx::{Nginx, Vhost};
use super::support::pebble::Pebble;
use super::support::sshd::Sshd;
use super::support::{Repo, Run, command};

const HOST: &str = "a.test";
const WWW: &str = "www.a.test";
/// A name nginx serves for `a.test` that no certificate covers at first.
const API: &str = "api.a.test";

/// nginx serving `a.test` and `www.a.test` with a short-lived certificate from a test CA for
/// `a.test` only, pebble validating against that nginx, and a state repo trusting both CAs.
struct Acme {
    nginx: Nginx,
    pebble: Pebble,
    repo: Repo,
}

impl Acme {
    fn start() -> Acme {
        let ca = Ca::new("acme test root").expect("ca");
        let mut v = Vhost::new(HOST, ca.leaf(&[HOST], Validity::days(5)).expect("leaf"));
        v.config = format!("  server_name {WWW} {API};\n");
        let nginx = Nginx::start(&[v]);
        let pebble = Pebble::start(nginx.http_port, nginx.https_port);
        let repo = Repo::new();
        repo.write("ca.pem", &format!("{}{}", ca.cert_pem, pebble.root_pem));
        // The account key is created inside the state repo: kept out of Git, as the README says.
        repo.write(".gitignore", "secrets/\n");
        Acme {
            nginx,
            pebble,
            repo,
        }
    }

    fn cert_path(&self) -> PathBuf {
        self.nginx.path().join(format!("certs/{HOST}.crt"))
    }

    fn key_path(&self) -> PathBuf {
        self.nginx.path().join(format!("certs/{HOST}.key"))
    }

    fn challenge_dir(&self) -> PathBuf {
        self.nginx
            .path()
            .join(format!("www/{HOST}/.well-known/acme-challenge"))
    }

    /// Writes `sites/a.test.yaml` wanting `domains` and `key`, managed by `acme` with this
    /// nginx's commands (`test_command` replaced when given) and `transport` lines.
    fn site(&self, domains: &[&str], key: &str, test_command: Option<&str>, transport: &str) {
        self.site_with(domains, key, test_command, transport, 30);
    }

    /// As [`Acme::site`] with a renewal threshold of `min_days` days.
    fn site_with(
        &self,
        domains: &[&str],
        key: &str,
        test_command: Option<&str>,
        transport: &str,
        min_days: u32,
    ) {
        let test = test_command.map_or_else(|| self.nginx.command("-t"), str::to_owned);
        let yaml = format!(
            "name: {HOST}\nurl: https://{HOST}/\nsync: auto\nconnect: {https}\nconnect_http: {http}\n\
             ca: ca.pem\ncertificate:\n  domains: [{domains}]\n  min_days_left: {min_days}\n  key: {key}\n\
             manage:\n  certificate:\n    provider: acme\n    directory: {dir}\n    \
             directory_ca: {dca}\n    email: ops@siteward.test\n    \
             account_key: file:secrets/acme-account.pem\n    challenge: http-01\n    \
             webroot: {root}\n    cert_path: {cert}\n    key_path: {keyp}\n    \
             test_command: {test}\n    reload_command: {reload}\n{transport}",
            https = self.nginx.https_addr(),
            http = self.nginx.http_addr(),
            domains = domains.join(", "),
            dir = self.pebble.directory,
            dca = self.pebble.listener_ca.display(),
            root = self.nginx.path().join(format!("www/{HOST}")).display(),
            cert = self.cert_path().display(),
            keyp = self.key_path().display(),
            reload = self.nginx.command("-s reload"),
        );
        self.repo.write(&format!("sites/{HOST}.yaml"), &yaml);
        self.repo.commit_all("certificate");
    }

    /// The certificate changes of the plan: `(key, live)`.
    fn planned(&self) -> Vec<(String, String)> {
        let plan = self.repo.run(&["plan", "--format", "json"]);
        plan.json()["sites"][0]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["resource"] == "certificate")
            .map(|c| {
                assert_eq!(c["step"], "apply", "{c}");
                assert_eq!(c["provider"], "acme", "{c}");
                (
                    c["key"].as_str().unwrap_or("").to_owned(),
                    c["live"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    /// The serial of the certificate nginx serves for `a.test` now (openssl's spelling).
    fn served_serial(&self) -> String {
        self.nginx.wait_settled();
        let out = command("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect {} -servername {HOST} </dev/null 2>/dev/null \
                 | openssl x509 -noout -serial",
                self.nginx.https_addr()
            ))
            .output()
            .expect("openssl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The serial of the certificate file.
    fn file_serial(&self) -> String {
        let out = command("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(self.cert_path())
            .output()
            .expect("openssl");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The issuer and SANs of the served certificate, as openssl prints them.
    fn served_text(&self) -> String {
        let out = command("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect {} -servername {HOST} </dev/null 2>/dev/null \
                 | openssl x509 -noout -issuer -ext subjectAltName -text",
                self.nginx.https_addr()
            ))
            .output()
            .expect("openssl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn no_challenge_files_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.challenge_dir())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "challenge files left: {left:?}");
    }

    /// Every object in the repo's Git database, as text.
    fn all_git_objects(&self) -> String {
        let list = self.repo.git(&[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ]);
        list.lines()
            .map(|id| self.repo.git(&["cat-file", "-p", id]))
            .collect()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

fn no_key_material(runs: &[&Run]) {
    for r in runs {
        for text in [&r.stdout, &r.stderr] {
            assert!(
                !text.contains("PRIVATE KEY"),
                "key material in output:\n{text}"
            );
        }
    }
}

#[test]
fn acme_issues_for_two_domains_adds_a_third_changes_the_key_and_a_second_apply_plans_nothing() {
    let a = Acme::start();
    a.site(&[HOST, WWW], "ecdsa-p256", None, "");
    // The plan says why: the served certificate expires soon and does not cover `www`.
    let planned = a.planned();
    let keys: Vec<&str> = planned.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["expiry", &format!("domain:{WWW}")], "{planned:?}");
    assert!(planned[0].1.starts_with("expiring:"), "{planned:?}");
    assert!(planned[1].1.contains("not covered"), "{planned:?}");
    let before = a.served_serial();

    // Apply: account key created 0600, new key 0600, served and verified, nothing left over.
    let first = a.repo.run(&["apply"]);
    first.expect_code(0);
    let account = a.repo.path().join("secrets/acme-account.pem");
    assert_eq!(mode(&account), 0o600);
    assert_eq!(mode(&a.key_path()), 0o600);
    let served = a.served_serial();
    assert_ne!(served, before);
    assert_eq!(served, a.file_serial());
    let text = a.served_text();
    assert!(text.contains("Pebble"), "{text}");
    assert!(text.contains(&format!("DNS:{WWW}")), "{text}");
    a.no_challenge_files_left();
    let site = site_record(&last_record(&a.repo), HOST).clone();
    assert!(results(&site).iter().all(|r| r == "applied"), "{site}");
    let message = site["actions"][0]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("issued serial "), "{message}");
    assert!(message.contains(&format!("for {HOST}, {WWW}")), "{message}");

    // Idempotent: a second apply right after plans nothing and issues nothing.
    let second = a.repo.run(&["apply"]);
    second.expect_code(0);
    assert!(a.planned().is_empty());
    assert_eq!(a.served_serial(), served);
    // pebble issues for 5 years: the plan warns that this is beyond the CA/B Forum maximum.
    let plan = a.repo.run(&["plan", "--format", "json"]);
    plan.expect_code(0);
    let warnings = plan.json()["sites"][0]["warnings"].to_string();
    assert!(warnings.contains("CA/Browser Forum allows"), "{warnings}");

    // A domain added: planned as not covered, the new certificate covers all three.
    a.site(&[HOST, WWW, API], "ecdsa-p256", None, "");
    let planned = a.planned();
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert_eq!(planned[0].0, format!("domain:{API}"));
    assert!(planned[0].1.starts_with("not covered"), "{planned:?}");
    a.repo.run(&["apply"]).expect_code(0);
    assert!(a.planned().is_empty());
    assert!(a.served_text().contains(&format!("DNS:{API}")));

    // A key type change: planned as `key`, applied with an RSA key, account key reused.
    let account_before = std::fs::read(&account).expect("account key");
    a.site(&[HOST, WWW, API], "rsa-2048", None, "");
    let planned = a.planned();
    assert_eq!(
        planned,
        [("key".to_owned(), "key type differs: ecdsa-p256".to_owned())]
    );
    let third = a.repo.run(&["apply"]);
    third.expect_code(0);
    assert!(a.planned().is_empty());
    assert_eq!(mode(&a.key_path()), 0o600);
    assert!(a.served_text().contains("rsaEncryption") || a.served_text().contains("RSA"));
    assert_eq!(
        std::fs::read(&account).expect("account key"),
        account_before
    );

    // Never any key material in Git or output.
    let git = a.all_git_objects();
    assert!(!git.contains("PRIVATE KEY"), "key material in a git object");
    no_key_material(&[&first, &second, &third]);
}

#[test]
fn a_failing_config_test_a_failing_challenge_and_a_down_ca_leave_the_served_certificate() {
    let mut a = Acme::start();
    // 1. The config test fails after the new files were written: both files are restored.
    a.site(&[HOST], "ecdsa-p256", Some("/bin/false"), "");
    let cert_before = std::fs::read(a.cert_path()).expect("cert");
    let key_before = std::fs::read(a.key_path()).expect("key");
    let served_before = a.served_serial();
    let out = a.repo.run(&["apply"]);
    out.expect_code(1);
    assert!(out.stdout.contains("test failed"), "{}", out.stdout);
    assert!(out.stdout.contains("restored"), "{}", out.stdout);
    assert_eq!(std::fs::read(a.cert_path()).expect("cert"), cert_before);
    assert_eq!(std::fs::read(a.key_path()).expect("key"), key_before);
    assert_eq!(a.served_serial(), served_before);
    a.no_challenge_files_left();
    let site = site_record(&last_record(&a.repo), HOST).clone();
    assert!(results(&site).iter().all(|r| r == "failed"), "{site}");

    // 2. A domain nginx does not serve: its http-01 challenge fails, the error names it, the
    //    challenge files are gone and nothing was written.
    a.site(&[HOST, "nowhere.a.test"], "ecdsa-p256", None, "");
    let out = a.repo.run(&["apply"]);
    out.expect_code(1);
    assert!(
        out.stdout
            .contains("http-01 challenge for `nowhere.a.test` failed"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read(a.cert_path()).expect("cert"), cert_before);
    assert_eq!(a.served_serial(), served_before);
    a.no_challenge_files_left();

    // An ACME error: the record says when to try again.
    assert!(out.stdout.contains("(failure 1)"), "{}", out.stdout);
    let site = site_record(&last_record(&a.repo), HOST).clone();
    assert!(site["actions"][0]["retry_after"].is_string(), "{site}");

    // 3. The ACME server is down: `--force` tries anyway; the site fails with the ACME error,
    //    nothing changes, and the backoff grows.
    a.site(&[HOST], "ecdsa-p256", None, "");
    a.pebble.stop_acme();
    let out = a.repo.run(&["apply", "--force"]);
    out.expect_code(1);
    assert!(
        out.stdout.contains("ACME server `https://127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(failure 2)"), "{}", out.stdout);
    assert_eq!(std::fs::read(a.cert_path()).expect("cert"), cert_before);
    assert_eq!(a.served_serial(), served_before);

    // 4. The next run honours the backoff: the certificate changes are held (skip, with the
    //    reason) in the plan and in the apply, and nothing is attempted.
    let plan = a.repo.run(&["plan", "--format", "json"]).json();
    let change = &plan["sites"][0]["changes"][0];
    assert_eq!(change["step"], "skip", "{plan}");
    let reason = change["reason"].as_str().unwrap_or("");
    assert!(
        reason.contains("held after 2 failed issuance(s)"),
        "{reason}"
    );
    assert!(reason.contains("`--force` retries now"), "{reason}");
    let out = a.repo.run(&["apply"]);
    out.expect_code(2);
    let site = site_record(&last_record(&a.repo), HOST).clone();
    assert!(results(&site).iter().all(|r| r == "skipped"), "{site}");
}

#[test]
fn acme_over_ssh_writes_the_challenge_certificate_and_a_0600_key_on_the_target() {
    let a = Acme::start();
    let sshd = Sshd::start();
    a.site(&[HOST, WWW], "ecdsa-p256", None, &sshd.transport_yaml());
    let before = a.served_serial();
    let out = a.repo.run(&["apply"]);
    out.expect_code(0);
    assert_ne!(a.served_serial(), before);
    assert_eq!(a.served_serial(), a.file_serial());
    assert_eq!(mode(&a.key_path()), 0o600);
    a.no_challenge_files_left();
    a.repo.run(&["apply"]).expect_code(0);
    assert!(a.planned().is_empty());
    no_key_material(&[&out]);

    // `min_days_left` above the CA's lifetime: renewed (the new serial is served) with advice.
    let before = a.served_serial();
    // The drift stays (no CA certificate lasts that long), so the run exits 2.
    a.site_with(
        &[HOST, WWW],
        "ecdsa-p256",
        None,
        &sshd.transport_yaml(),
        3000,
    );
    a.repo.run(&["apply"]).expect_code(2);
    assert_ne!(a.served_serial(), before);
    let site = site_record(&last_record(&a.repo), HOST).clone();
    let message = site["actions"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("so every run renews"), "{message}");
}

/// The newest run record on the audit branch.
pub(super) fn last_record(repo: &Repo) -> serde_json::Value {
    let files = repo.git(&["log", "-1", "--name-only", "--format=", "siteward-audit"]);
    let path = files
        .lines()
        .find(|l| l.ends_with(".json"))
        .expect("a record file");
    serde_json::from_str(&repo.git(&["show", &format!("siteward-audit:{path}")]))
        .expect("record JSON")
}

#[test]
fn a_certificate_proposal_holds_the_certbot_command_and_the_nginx_lines() {
    // No ACME server needed: a `sync: propose` site with an expiring certificate for one name.
    let ca = Ca::new("proposal test root").expect("ca");
    let mut v = Vhost::new(HOST, ca.leaf(&[HOST], Validity::days(5)).expect("leaf"));
    v.config = format!("  server_name {WWW};\n");
    let nginx = Nginx::start(&[v]);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    repo.write(
        &format!("sites/{HOST}.yaml"),
        &format!(
            "name: {HOST}\nurl: https://{HOST}/\nsync: propose\nconnect: {}\nca: ca.pem\n\
             certificate:\n  domains: [{HOST}, {WWW}]\n  min_days_left: 30\n  key: rsa-2048\n",
            nginx.https_addr()
        ),
    );
    repo.commit_all("a site whose certificate is renewed by hand");
    repo.run(&["reconcile"]).expect_code(2);
    let proposal = repo.git(&["show", &format!("siteward-proposals/{HOST}:PROPOSAL.md")]);
    assert!(proposal.contains("expiring: "), "{proposal}");
    assert!(
        proposal.contains(&format!(
            "certbot certonly --webroot -w /var/www/{HOST} -d {HOST} -d {WWW} \
             --key-type rsa --rsa-key-size 2048"
        )),
        "{proposal}"
    );
    assert!(
        proposal.contains(&format!(
            "ssl_certificate /etc/letsencrypt/live/{HOST}/fullchain.pem;"
        )),
        "{proposal}"
    );
}
