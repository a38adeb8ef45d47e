//! Certificate observation extras against a real nginx with `siteward::pki` certificates: OCSP
//! stapling (a response made with `openssl ocsp` for the test CA and stapled by nginx from
//! `ssl_stapling_file`, beside a site that staples nothing), the lifetime against the CA/Browser
//! Forum maximum, and the renewal advice in the plan.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use siteward::pki::{Ca, Issued, Validity};

use super::support::Repo;
use super::support::nginx::{Nginx, Vhost};

const POLICY: &str = "name: certs\nrules:\n  \
- {id: stapled, severity: high, cert_ocsp_stapled: true}\n  \
- {id: cabf-lifetime, severity: high, cert_max_lifetime: cabf}\n  \
- {id: month, severity: low, cert_max_lifetime: 30}\n  \
- {id: rsa-bits, severity: high, cert_min_rsa_bits: 2048}\n  \
- {id: no-sha1, severity: high, cert_no_sha1: true}\n";

/// Runs `openssl` with `args` in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) -> String {
    run_in(dir, &["openssl"], args)
}

/// Runs `program` (a command and its first words) with `args` in `dir`; panics with its output
/// when it fails.
fn run_in(dir: &Path, program: &[&str], args: &[&str]) -> String {
    let out = Command::new(program[0])
        .args(&program[1..])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run the program");
    assert!(
        out.status.success(),
        "{program:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a response says.
#[derive(Clone, Copy)]
enum Answer {
    /// Good, valid for a day from now.
    Good,
    /// Revoked on 2026-01-01.
    Revoked,
    /// Good, made two days ago and valid for one day: stale now.
    Stale,
}

/// A DER OCSP response saying `answer` about `leaf` (issued by `ca`), signed by a responder key
/// of its own: `openssl ocsp` answering a request from an index file, as a CA's responder would.
fn ocsp_response(dir: &Path, ca: &Ca, leaf: &Issued, answer: Answer) -> std::path::PathBuf {
    std::fs::write(dir.join("ca.pem"), &ca.cert_pem).expect("write ca");
    std::fs::write(dir.join("leaf.pem"), &leaf.cert_pem).expect("write leaf");
    let serial = openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=");
    std::fs::write(
        dir.join("index.txt"),
        match answer {
            Answer::Revoked => {
                format!("R\t991231235959Z\t260101000000Z\t{serial}\tunknown\t/CN=leaf\n")
            }
            Answer::Good | Answer::Stale => {
                format!("V\t991231235959Z\t\t{serial}\tunknown\t/CN=leaf\n")
            }
        },
    )
    .expect("write index");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "responder.key",
            "-out",
            "responder.pem",
            "-subj",
            "/CN=responder",
            "-days",
            "2",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-issuer",
            "ca.pem",
            "-cert",
            "leaf.pem",
            "-no_nonce",
            "-reqout",
            "req.der",
        ],
    );
    // The stale answer is made by the same `openssl ocsp`, its clock set two days back.
    let respond: &[&str] = match answer {
        Answer::Stale => &["faketime", "-f", "-2d", "openssl"],
        Answer::Good | Answer::Revoked => &["openssl"],
    };
    run_in(
        dir,
        respond,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-CA",
            "ca.pem",
            "-rsigner",
            "responder.pem",
            "-rkey",
            "responder.key",
            "-reqin",
            "req.der",
            "-respout",
            "resp.der",
            "-ndays",
            "1",
        ],
    );
    dir.join("resp.der")
}

fn finding<'a>(site: &'a Value, rule: &str) -> Option<&'a Value> {
    site["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == rule)
}

fn site<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .find(|s| s["site"] == name)
        .unwrap_or_else(|| panic!("no site {name} in {report:#}"))
}

#[test]
fn stapling_lifetime_and_renewal_advice_are_observed_and_checked() {
    let root = Ca::new("siteward ocsp root").expect("root");
    let stapled_leaf = root
        .leaf(&["stapled.test"], Validity::days(90))
        .expect("leaf");
    let work = tempfile::tempdir().expect("temp dir");
    let response = ocsp_response(work.path(), &root, &stapled_leaf, Answer::Good);
    let mut stapled = Vhost::new("stapled.test", stapled_leaf);
    stapled.config = format!(
        "  ssl_stapling on;\n  ssl_stapling_file {};\n",
        response.display()
    );
    // Valid for 401 days: beyond the CA/B maximum at any issue date.
    let plain = Vhost::new(
        "plain.test",
        root.leaf(&["plain.test"], Validity::days(400))
            .expect("leaf"),
    );
    let nginx = Nginx::start(&[stapled, plain]);

    let repo = Repo::new();
    repo.write("ca.pem", &root.cert_pem);
    repo.write("policies/certs.yaml", POLICY);
    for (name, extra) in [
        ("stapled.test", ""),
        ("plain.test", "certificate: {min_days_left: 200}\n"),
    ] {
        repo.write(
            &format!("sites/{name}.yaml"),
            &format!(
                "name: {name}\nurl: https://{name}/\nconnect: {}\nca: ca.pem\npolicies: [certs]\n{extra}",
                nginx.https_addr()
            ),
        );
    }

    let run = repo.run(&["check", "--format", "json", "--timeout", "5"]);
    run.expect_code(2);
    let report = run.json();

    let s = site(&report, "stapled.test");
    assert!(finding(s, "stapled").is_none(), "{s:#}");
    assert!(finding(s, "cabf-lifetime").is_none(), "{s:#}");
    let month = finding(s, "month").expect("90 days is more than 30");
    assert!(
        month["message"]
            .as_str()
            .expect("message")
            .contains("more than the 30 days the policy allows"),
        "{month:#}"
    );
    // pki keys are ECDSA with SHA-256: the RSA and SHA-1 rules pass.
    assert!(finding(s, "rsa-bits").is_none() && finding(s, "no-sha1").is_none());

    let p = site(&report, "plain.test");
    let stapling = finding(p, "stapled").expect("nothing stapled");
    assert!(
        stapling["message"]
            .as_str()
            .expect("message")
            .contains("staples no OCSP response, and the certificate names no OCSP responder"),
        "{stapling:#}"
    );
    assert_eq!(stapling["severity"], "high");
    let cabf = finding(p, "cabf-lifetime").expect("too long");
    let message = cabf["message"].as_str().expect("message");
    assert!(
        message.contains("valid for 401 days") && message.contains("CA/Browser Forum"),
        "{message}"
    );
    assert!(finding(p, "rsa-bits").is_none() && finding(p, "no-sha1").is_none());

    // The plan: the lifetime warning and renewal advice (200 is more than a third of 401), not
    // a word about stapling (the certificate names no responder to staple from).
    let plan = repo.run(&["plan", "--format", "json", "--site", "plain.test"]);
    plan.expect_code(0);
    let warnings = plan.json()["sites"][0]["warnings"].to_string();
    assert!(warnings.contains("CA/Browser Forum allows"), "{warnings}");
    assert!(
        warnings.contains(
            "`min_days_left: 200` is more than a third of the 401-day lifetime the CA issues"
        ),
        "{warnings}"
    );
    assert!(!warnings.contains("OCSP"), "{warnings}");
    drop(nginx);
}

/// What a stapled response says is read: a good, fresh one passes `cert_ocsp_stapled`; a
/// revoked one and a stale one (made by the real `openssl ocsp` with its clock two days back)
/// fail it with the reason. nginx staples each from `ssl_stapling_file` as it is.
#[test]
fn stapled_responses_that_are_revoked_or_stale_fail_the_stapling_rule() {
    let root = Ca::new("siteward ocsp root").expect("root");
    let work = tempfile::tempdir().expect("temp dir");
    let answers = [
        ("good.test", Answer::Good),
        ("revoked.test", Answer::Revoked),
        ("stale.test", Answer::Stale),
    ];
    let vhosts: Vec<Vhost> = answers
        .iter()
        .map(|(name, answer)| {
            let leaf = root.leaf(&[name], Validity::days(30)).expect("leaf");
            let dir = work.path().join(name);
            std::fs::create_dir(&dir).expect("dir");
            let response = ocsp_response(&dir, &root, &leaf, *answer);
            let mut v = Vhost::new(name, leaf);
            v.config = format!(
                "  ssl_stapling on;\n  ssl_stapling_file {};\n",
                response.display()
            );
            v
        })
        .collect();
    let nginx = Nginx::start(&vhosts);
    let repo = Repo::new();
    repo.write("ca.pem", &root.cert_pem);
    repo.write(
        "policies/certs.yaml",
        "name: certs\nrules:\n  - {id: stapled, severity: high, cert_ocsp_stapled: true}\n",
    );
    for (name, _) in answers {
        repo.write(
            &format!("sites/{name}.yaml"),
            &format!(
                "name: {name}\nurl: https://{name}/\nconnect: {}\nca: ca.pem\npolicies: [certs]\n",
                nginx.https_addr()
            ),
        );
    }
    let run = repo.run(&["check", "--format", "json", "--timeout", "5"]);
    let report = run.json();
    let message = |name: &str| {
        finding(site(&report, name), "stapled")
            .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(message("good.test"), None, "{report:#}");
    let revoked = message("revoked.test").expect("revoked fails");
    assert!(
        revoked.contains("says the certificate was revoked at 2026-01-01T00:00:00"),
        "{revoked}"
    );
    let stale = message("stale.test").expect("stale fails");
    assert!(
        stale.contains("is stale: its nextUpdate") && stale.contains("has passed"),
        "{stale}"
    );
}
