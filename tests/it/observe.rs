//! `siteward plan` against a real nginx on loopback with `siteward::pki` certificates: headers,
//! redirects, certificate problems, checks, unreachable and hanging sites, digests, exit codes.
//! Assertions are on the JSON plan only.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use siteward::pki::{Ca, Issued, Validity, self_signed};

use super::support::nginx::{Nginx, Vhost};
use super::support::{Repo, refused_port};

const SECURE: &str = "  add_header X-Frame-Options DENY always;\n  \
add_header Strict-Transport-Security \"includeSubDomains; max-age=31536000\" always;\n  \
add_header Content-Security-Policy \"img-src 'self' data:; default-src 'self'\" always;\n";

const SECURE_YAML: &str = "headers:\n  X-Frame-Options: DENY\n  \
Strict-Transport-Security: max-age=31536000; includeSubDomains\n  \
Content-Security-Policy: \"default-src 'self'; IMG-SRC 'self' data:\"\n  X-Powered-By: absent\n";

/// A test CA with an intermediate; `ca.pem` in repos is the root.
struct Pki {
    root: Ca,
    mid: Ca,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::new("siteward test root").expect("root");
        let mid = root
            .intermediate("siteward test intermediate")
            .expect("mid");
        Pki { root, mid }
    }

    fn vhost(&self, name: &str, cert: Issued, chain: bool, config: &str) -> Vhost {
        let mut v = Vhost::new(name, cert);
        if chain {
            v.chain.push(self.mid.cert_pem.clone());
        }
        v.config = config.to_owned();
        v
    }

    fn good(&self, name: &str, config: &str) -> Vhost {
        let cert = self.mid.leaf(&[name], Validity::days(90)).expect("leaf");
        self.vhost(name, cert, true, config)
    }

    fn repo(&self) -> Repo {
        let repo = Repo::new();
        repo.write("ca.pem", &self.root.cert_pem);
        repo
    }
}

/// A site file for `name` served by `nginx`, with extra YAML lines.
fn site(repo: &Repo, name: &str, nginx: &Nginx, extra: &str) {
    let yaml = format!(
        "name: {name}\nurl: https://{name}/\nconnect: {}\nconnect_http: {}\nca: ca.pem\n{extra}",
        nginx.https_addr(),
        nginx.http_addr()
    );
    repo.write(&format!("sites/{name}.yaml"), &yaml);
}

fn by_site(plan: &Value) -> BTreeMap<String, Value> {
    plan["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| (s["site"].as_str().expect("name").to_owned(), s.clone()))
        .collect()
}

/// `(resource, key, action)` of every change of a site.
fn changes(site: &Value) -> Vec<(String, String, String)> {
    site["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            (s("resource"), s("key"), s("action"))
        })
        .collect()
}

fn has(site: &Value, resource: &str, key: &str, action: &str) -> bool {
    changes(site)
        .iter()
        .any(|(r, k, a)| r == resource && k == key && a == action)
}

#[test]
fn fleet_of_sites_with_every_kind_of_drift() {
    let pki = Pki::new();
    let redirect = "  if ($scheme = http) { return 301 https://$host$request_uri; }\n";
    let mut drift = pki.good(
        "drift.test",
        "  add_header X-Powered-By \"PHP/8.2\" always;\n  add_header Referrer-Policy unsafe-url always;\n",
    );
    drift
        .files
        .push(("health.html".into(), "all good\n".into()));
    let expired = Validity {
        from_days: -30,
        to_days: -1,
    };
    let vhosts = vec![
        pki.good("good.test", &format!("{SECURE}{redirect}")),
        drift,
        pki.vhost(
            "soon.test",
            pki.mid
                .leaf(&["soon.test"], Validity::days(5))
                .expect("leaf"),
            true,
            "",
        ),
        pki.vhost(
            "expired.test",
            pki.mid.leaf(&["expired.test"], expired).expect("leaf"),
            true,
            "",
        ),
        pki.vhost(
            "mismatch.test",
            pki.mid
                .leaf(&["other.test"], Validity::days(90))
                .expect("leaf"),
            true,
            "",
        ),
        pki.vhost(
            "selfsigned.test",
            self_signed(&["selfsigned.test"], Validity::days(90)).expect("cert"),
            false,
            "",
        ),
        pki.vhost(
            "nochain.test",
            pki.mid
                .leaf(&["nochain.test"], Validity::days(90))
                .expect("leaf"),
            false,
            "",
        ),
    ];
    let nginx = Nginx::start(&vhosts);
    let repo = pki.repo();
    let redirect_yaml = |n: &str| {
        format!("redirects:\n  - {{from: 'http://{n}/', to: 'https://{n}/', status: 301}}\n")
    };
    site(
        &repo,
        "good.test",
        &nginx,
        &format!(
            "{SECURE_YAML}{}certificate: {{domains: [good.test], min_days_left: 21, key: ecdsa-p256}}\n\
             checks:\n  - {{name: home, path: /, status: 200, body_contains: good.test}}\n",
            redirect_yaml("good.test")
        ),
    );
    site(
        &repo,
        "drift.test",
        &nginx,
        &format!(
            "{SECURE_YAML}  Referrer-Policy: no-referrer\n{}\
             certificate: {{domains: [drift.test, www.drift.test], key: rsa-2048}}\n\
             checks:\n  - {{name: home, path: /, status: 200}}\n  \
             - {{name: health, path: /health.html, status: 200, body_contains: database ok}}\n\
             manage:\n  server: {{provider: nginx, config: {}}}\n",
            redirect_yaml("drift.test"),
            nginx.path().join("never-written.conf").display()
        ),
    );
    site(
        &repo,
        "soon.test",
        &nginx,
        "certificate: {min_days_left: 21}\nmanage:\n  certificate: {provider: acme}\n",
    );
    for n in [
        "expired.test",
        "mismatch.test",
        "selfsigned.test",
        "nochain.test",
    ] {
        site(&repo, n, &nginx, "");
    }
    let dead = refused_port();
    repo.write(
        "sites/refused.test.yaml",
        &format!(
            "name: refused.test\nurl: https://refused.test/\nconnect: 127.0.0.1:{}\n",
            dead.port
        ),
    );

    let run = repo.run(&["plan", "--format", "json", "--timeout", "5"]);
    run.expect_code(1);
    let plan = run.json();
    assert_eq!(plan["version"], 1);
    let sites = by_site(&plan);
    assert_eq!(sites.len(), 8);

    let good = &sites["good.test"];
    assert_eq!(good["sync"], "in_sync", "{good:#}");
    assert_eq!(good["health"], "healthy");
    assert_eq!(good["checks"][0]["ok"], true);
    assert_eq!(good["observed_sha256"].as_str().map(str::len), Some(64));

    let d = &sites["drift.test"];
    assert_eq!(d["sync"], "drift");
    assert!(has(d, "header", "x-frame-options", "add"));
    assert!(has(d, "header", "x-powered-by", "remove"));
    assert!(has(d, "header", "referrer-policy", "change"));
    assert!(has(d, "redirect", "http://drift.test/", "add"));
    assert!(has(d, "certificate", "domain:www.drift.test", "add"));
    assert!(has(d, "certificate", "key", "change"));
    let xfo = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "x-frame-options")
        .unwrap();
    assert_eq!(xfo["provider"], "nginx");
    assert_eq!(xfo["applicable"], true);
    assert_eq!(d["health"], "degraded");
    let health = &d["checks"][1];
    assert_eq!(
        (health["ok"].clone(), health["status"].clone()),
        (false.into(), 200.into())
    );
    assert!(health["message"].as_str().unwrap().contains("database ok"));

    let soon = &sites["soon.test"];
    assert_eq!(
        changes(soon),
        [("certificate".into(), "expiry".into(), "change".into())]
    );
    assert_eq!(soon["changes"][0]["provider"], "acme");
    assert_eq!(
        soon["changes"][0]["applicable"], false,
        "the acme provider is not part of this build: proposed, never claimed applicable"
    );
    assert_eq!(soon["health"], "healthy");

    let ex = &sites["expired.test"];
    assert_eq!(ex["sync"], "drift", "{ex:#}");
    assert!(has(ex, "certificate", "expiry", "change"), "{ex:#}");
    assert_eq!(ex["health"], "down");
    assert_eq!(ex["changes"][0]["applicable"], false);

    let mm = &sites["mismatch.test"];
    assert!(has(mm, "certificate", "host-name", "change"), "{mm:#}");
    assert!(!has(mm, "certificate", "trust", "change"));

    let ss = &sites["selfsigned.test"];
    assert_eq!(
        changes(ss),
        [("certificate".into(), "trust".into(), "change".into())]
    );

    let nc = &sites["nochain.test"];
    assert_eq!(
        changes(nc),
        [("certificate".into(), "chain".into(), "change".into())]
    );

    let refused = &sites["refused.test"];
    assert_eq!(refused["sync"], "unknown");
    assert_eq!(refused["health"], "down");
    assert!(refused["observed_sha256"].is_null());
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    assert_eq!(refused["changes"].as_array().unwrap().len(), 0);

    assert_eq!(plan["summary"]["sites"], 8);
    assert_eq!(plan["summary"]["in_sync"], 1);
    assert_eq!(plan["summary"]["unknown"], 1);
    assert_eq!(plan["summary"]["drift"], 6);
}

#[test]
fn exit_codes_and_selection() {
    let pki = Pki::new();
    let nginx = Nginx::start(&[pki.good("ok.test", SECURE), pki.good("bare.test", "")]);
    let repo = pki.repo();
    site(
        &repo,
        "ok.test",
        &nginx,
        &format!("labels: {{tier: gold}}\n{SECURE_YAML}"),
    );
    site(
        &repo,
        "bare.test",
        &nginx,
        &format!("labels: {{tier: bronze}}\n{SECURE_YAML}"),
    );
    let dead = refused_port();
    repo.write(
        "sites/gone.test.yaml",
        &format!(
            "name: gone.test\nurl: https://gone.test/\nconnect: 127.0.0.1:{}\nlabels: {{tier: gold}}\n",
            dead.port
        ),
    );

    let r = repo.run(&["plan", "--format", "json", "--site", "ok.test"]);
    r.expect_code(0);
    assert_eq!(r.json()["summary"]["in_sync"], 1);
    let r = repo.run(&["plan", "--format", "json", "--selector", "tier=bronze"]);
    r.expect_code(2);
    assert_eq!(by_site(&r.json()).keys().collect::<Vec<_>>(), ["bare.test"]);
    let r = repo.run(&["plan", "--format", "json", "--selector", "tier=gold"]);
    r.expect_code(1);
    assert_eq!(r.json()["summary"]["unknown"], 1);
    // Error wins over drift.
    repo.run(&["plan", "--format", "json"]).expect_code(1);

    // Unknown site names and unsupported flags are errors before anything is observed.
    let r = repo.run(&["plan", "--site", "nope.test"]);
    r.expect_code(1);
    assert!(r.stdout.is_empty());
    // Shards split the sites deterministically: 1/2 and 2/2 together are every site, once.
    let mut seen: Vec<String> = Vec::new();
    for shard in ["1/2", "2/2"] {
        let r = repo.run(&["plan", "--format", "json", "--shard", shard]);
        seen.extend(by_site(&r.json()).keys().cloned());
    }
    seen.sort();
    let all = repo.run(&["plan", "--format", "json"]);
    assert_eq!(
        seen,
        by_site(&all.json()).keys().cloned().collect::<Vec<_>>()
    );

    // Invalid input: problems on stderr, nothing observed, exit 1.
    repo.write("sites/broken.yaml", "name: broken\nurl: ftp://x/\n");
    let r = repo.run(&["plan", "--format", "json"]);
    r.expect_code(1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.contains("sites/broken.yaml:2:"), "{}", r.stderr);
}

#[test]
fn a_hanging_site_costs_only_its_own_timeout() {
    let pki = Pki::new();
    let nginx = Nginx::start(&[pki.good("fast.test", SECURE)]);
    let repo = pki.repo();
    site(&repo, "fast.test", &nginx, SECURE_YAML);
    // Accepts connections (the kernel does) but never reads or answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = hang.local_addr().expect("addr").port();
    repo.write(
        "sites/hang.test.yaml",
        &format!(
            "name: hang.test\nurl: https://hang.test/\nconnect: 127.0.0.1:{port}\n\
             checks:\n  - {{name: a, path: /a, status: 200}}\n  - {{name: b, path: /b, status: 200}}\n"
        ),
    );
    // Long enough that a run that waits for the hanging site more than once (checks after
    // the page, or the whole site budget) is told apart from one timeout plus the overhead
    // of a loaded machine: a second timeout makes the run take at least 2 × TIMEOUT.
    const TIMEOUT: u64 = 4;
    let start = Instant::now();
    let r = repo.run(&[
        "plan",
        "--format",
        "json",
        "--timeout",
        &TIMEOUT.to_string(),
    ]);
    let took = start.elapsed();
    r.expect_code(1);
    let sites = by_site(&r.json());
    assert_eq!(sites["hang.test"]["sync"], "unknown");
    assert!(
        sites["hang.test"]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer")
    );
    assert_eq!(sites["fast.test"]["sync"], "in_sync");
    let timeout = Duration::from_secs(TIMEOUT);
    assert!(
        took >= timeout - Duration::from_millis(100)
            && took < timeout * 2 - Duration::from_millis(500),
        "the run took {took:?}, expected about the {TIMEOUT} s timeout (one, not two)"
    );
    drop(hang);
}

#[test]
fn digests_are_stable_and_secrets_never_shown() {
    let pki = Pki::new();
    let nginx = Nginx::start(&[pki.good(
        "s.test",
        &format!("{SECURE}  add_header X-Api-Token \"tok-123 secret\" always;\n"),
    )]);
    let repo = pki.repo();
    repo.write("token.txt", "tok-999 rotated\n");
    site(
        &repo,
        "s.test",
        &nginx,
        &format!(
            "{SECURE_YAML}  X-Api-Token: file:token.txt\n  X-Other: env:SITEWARD_IT_TOKEN\ninsecure_skip_verify: true\n"
        ),
    );
    let run = |args: &[&str]| {
        let mut full = vec!["--repo", repo.path().to_str().unwrap()];
        full.extend_from_slice(args);
        let out = super::support::command(super::support::bin())
            .args(&full)
            .env("SITEWARD_IT_TOKEN", "env-secret-value")
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, first) = run(&["plan", "--format", "json"]);
    assert_eq!(code, Some(2), "{first}");
    let (_, second) = run(&["plan", "--format", "json"]);
    let a: Value = serde_json::from_str(&first).unwrap();
    let b: Value = serde_json::from_str(&second).unwrap();
    for k in ["observed_sha256", "desired_sha256"] {
        assert_eq!(
            a["sites"][0][k], b["sites"][0][k],
            "{k} changed between runs"
        );
    }
    assert!(
        a["sites"][0]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("insecure_skip_verify")
    );
    let token = a["sites"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "x-api-token")
        .expect("token change");
    assert!(
        token["live"]
            .as_str()
            .unwrap()
            .starts_with("<secret sha256:")
    );
    assert!(
        token["desired"]
            .as_str()
            .unwrap()
            .starts_with("<secret sha256:")
    );
    let out = repo.path().join("plan.md");
    let (_, text) = run(&["plan"]);
    let (_, _) = run(&[
        "plan",
        "--format",
        "markdown",
        "--out",
        out.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(&out).expect("markdown written");
    for output in [&first, &text, &md] {
        for secret in ["tok-123", "tok-999", "env-secret-value"] {
            assert!(
                !output.contains(secret),
                "secret `{secret}` leaked:\n{output}"
            );
        }
    }
    assert!(md.contains("<details>"));

    // Without the env secret the site is unknown, not drift.
    let r = repo.run(&["plan", "--format", "json"]);
    r.expect_code(1);
    let err = r.json()["sites"][0]["error"].as_str().unwrap().to_owned();
    assert!(err.contains("SITEWARD_IT_TOKEN"), "{err}");
}

#[test]
fn passive_wordpress_fingerprint() {
    let pki = Pki::new();
    let mut wp = pki.good("wp.test", "");
    wp.files = vec![
        (
            "index.html".into(),
            "<html><head><meta name=\"generator\" content=\"WordPress 6.4.3\" />\n\
             <link rel='stylesheet' href='/wp-includes/css/dist/block-library/style.min.css?ver=6.4.3' />\n\
             <script src='/wp-content/plugins/akismet/_inc/akismet.js?ver=9.9.9'></script>\n\
             </head><body>shop</body></html>\n"
                .into(),
        ),
        (
            "feed/index.html".into(),
            "<rss><channel><generator>https://wordpress.org/?v=6.4.3</generator></channel></rss>\n"
                .into(),
        ),
        (
            "wp-content/plugins/akismet/readme.txt".into(),
            "=== Akismet ===\nStable tag: 5.0.2\n".into(),
        ),
        (
            "wp-content/themes/storefront/style.css".into(),
            "/*\nTheme Name: Storefront\nVersion: 4.5.4\n*/\n".into(),
        ),
    ];
    let nginx = Nginx::start(&[wp]);
    let repo = pki.repo();
    site(
        &repo,
        "wp.test",
        &nginx,
        "software:\n  platform: wordpress\n  core: '>=6.4, <7'\n  plugins:\n    akismet: '5.3'\n    \
         hello-dolly: absent\n    wordfence: '7.11.1'\n  themes:\n    storefront: '4.5.4'\n",
    );
    let r = repo.run(&["plan", "--format", "json"]);
    r.expect_code(2);
    let plan = r.json();
    let s = &plan["sites"][0];
    // Core matches the constraint; akismet's readme and asset disagree, the readme names the
    // version; hello-dolly is not found; wordfence cannot be told, so it is not drift.
    assert_eq!(
        changes(s),
        [("plugin".into(), "akismet".into(), "change".into())],
        "{s:#}"
    );
    assert_eq!(s["changes"][0]["live"], "5.0.2");
    assert_eq!(s["changes"][0]["provider"], Value::Null);
    assert_eq!(s["changes"][0]["applicable"], false);
}
