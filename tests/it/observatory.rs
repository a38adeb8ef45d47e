//! The differential test of the web grade: many header, cookie, redirect and page situations
//! served by a real nginx on loopback, each graded by the real MDN HTTP Observatory (the
//! pinned npm package, `support::observatory`) and by `siteward check --format json`. Any
//! difference in grade, score or a test's result id fails; the agreement figure is printed.

use std::collections::BTreeMap;

use serde_json::Value;
use siteward::pki::{Ca, Validity};

use super::support::Repo;
use super::support::nginx::{Nginx, Vhost};
use super::support::observatory;

/// Lines every situation starts from unless it says otherwise: http → https, long HSTS.
const REDIRECT: &str = "if ($scheme = http) { return 301 https://$host:HTTPS$request_uri; }";
const HSTS: &str = "add_header Strict-Transport-Security \"max-age=31536000\" always;";

fn h(name: &str, value: &str) -> String {
    format!("add_header {name} \"{value}\" always;")
}

/// One situation: nginx lines (with `HTTPS` standing for the https port) and the front page.
struct Situation {
    config: String,
    page: String,
}

fn page_with(head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><title>t</title>{head}</head><body><h1>t</h1>{body}</body></html>\n"
    )
}

fn situations() -> Vec<Situation> {
    let base = |extra: &str| format!("{REDIRECT}\n{HSTS}\n{extra}");
    let plain = page_with("", "");
    let mut out: Vec<Situation> = Vec::new();
    let mut add = |config: String, page: &str| {
        out.push(Situation {
            config,
            page: page.to_owned(),
        })
    };
    // Headers one at a time over the redirect and HSTS base.
    let single: Vec<String> = vec![
        String::new(),
        h("Content-Security-Policy", "default-src 'none'"),
        h("Content-Security-Policy", "default-src 'self'"),
        h(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-inline'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'nonce-abc' 'unsafe-inline'",
        ),
        h(
            "Content-Security-Policy",
            "script-src 'nonce-abc' 'strict-dynamic' https: 'self'; object-src 'none'; style-src 'self'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'strict-dynamic'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self' 'unsafe-eval'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; img-src http://img.test",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; connect-src http://api.test",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; object-src *",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; default-src 'none'",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; report-uri /a; report-uri /b",
        ),
        h("Content-Security-Policy", "abc"),
        h("Content-Security-Policy", "default-src https:"),
        h(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' data:",
        ),
        h(
            "Content-Security-Policy",
            "default-src 'self'; frame-ancestors 'none'",
        ),
        h("Content-Security-Policy", "upgrade-insecure-requests"),
        h(
            "Content-Security-Policy",
            "DEFAULT-SRC 'SELF'; FRAME-ANCESTORS 'self'",
        ),
        h("Content-Security-Policy-Report-Only", "default-src 'self'"),
        format!(
            "{}\n{}",
            h("Content-Security-Policy", "default-src 'self'"),
            h("Content-Security-Policy", "script-src 'none'")
        ),
        h("X-Frame-Options", "DENY"),
        h("X-Frame-Options", "SAMEORIGIN"),
        h("X-Frame-Options", "ALLOW-FROM https://a.test"),
        h("X-Frame-Options", "bogus"),
        format!(
            "{}\n{}",
            h("X-Frame-Options", "DENY"),
            h("X-Frame-Options", "DENY")
        ),
        h("X-Content-Type-Options", "nosniff"),
        h("X-Content-Type-Options", "NoSniff"),
        h("X-Content-Type-Options", "yes"),
        format!(
            "{}\n{}",
            h("X-Content-Type-Options", "nosniff"),
            h("X-Content-Type-Options", "nosniff")
        ),
        h("Referrer-Policy", "no-referrer"),
        h("Referrer-Policy", "strict-origin-when-cross-origin"),
        h("Referrer-Policy", "same-origin"),
        h("Referrer-Policy", "unsafe-url"),
        h("Referrer-Policy", "origin"),
        h("Referrer-Policy", "no-referrer-when-downgrade"),
        h("Referrer-Policy", "whatever"),
        h("Referrer-Policy", "unsafe-url, strict-origin"),
        h("Referrer-Policy", "no-referrer, bogus"),
        h("Cross-Origin-Resource-Policy", "same-site"),
        h("Cross-Origin-Resource-Policy", "same-origin"),
        h("Cross-Origin-Resource-Policy", "cross-origin"),
        h("Cross-Origin-Resource-Policy", "nope"),
        h("Access-Control-Allow-Origin", "*"),
        h("Access-Control-Allow-Origin", "https://partner.test"),
        format!(
            "{}\n{}",
            h("Access-Control-Allow-Origin", "$http_origin"),
            h("Access-Control-Allow-Credentials", "true")
        ),
        h("Set-Cookie", "pref=1; Secure; SameSite=Lax"),
        h("Set-Cookie", "pref=1; Secure"),
        h("Set-Cookie", "pref=1"),
        h("Set-Cookie", "sessionid=1; Secure; SameSite=Lax"),
        h(
            "Set-Cookie",
            "sessionid=1; Secure; HttpOnly; SameSite=Strict",
        ),
        h("Set-Cookie", "login=1; HttpOnly"),
        h("Set-Cookie", "csrftoken=1; Secure"),
        h("Set-Cookie", "pref=1; Secure; SameSite=Bogus"),
        h("Set-Cookie", "pref=1; SameSite=None"),
        format!(
            "{}\n{}",
            h("Set-Cookie", "a=1; Secure; HttpOnly; SameSite=Lax"),
            h("Set-Cookie", "b=2; Secure")
        ),
        h("Set-Cookie", "__Host-id=1; Secure; Path=/; SameSite=Lax"),
    ];
    for extra in &single {
        add(base(extra), &plain);
    }
    // HSTS and redirects without the base.
    for hsts in [
        "",
        "max-age=300",
        "max-age=0",
        "max-age=15552000",
        "max-age=15551999; preload",
        "max-age=abc",
        "max-age=\\\"31536000\\\"",
        "includeSubDomains",
        "max-age=31536000; includeSubDomains; preload",
    ] {
        let line = if hsts.is_empty() {
            String::new()
        } else {
            h("Strict-Transport-Security", hsts)
        };
        add(format!("{REDIRECT}\n{line}"), &plain);
    }
    add(format!("{REDIRECT}\n{HSTS}\n{HSTS}"), &plain);
    add(HSTS.to_owned(), &plain);
    add(
        format!(
            "location = / {{ {HSTS} if ($scheme = http) {{ return 301 http://$host:HTTP/step; }} }}\n\
             location = /step {{ return 301 https://$host:HTTPS/; }}"
        ),
        &plain,
    );
    // Off the host on the first hop (to the placeholder site, which has a valid certificate).
    add(
        format!("{HSTS}\nif ($scheme = http) {{ return 301 https://placeholder.test:HTTPS/; }}"),
        &plain,
    );
    add(
        format!("{HSTS}\nif ($scheme = http) {{ return 302 https://$host:HTTPS/; }}"),
        &plain,
    );
    add(
        format!(
            "{HSTS}\nif ($scheme = http) {{ return 301 http://$host:HTTP/plain.html; }}\nlocation = /plain.html {{ }}"
        ),
        &plain,
    );
    // Pages: meta tags and scripts.
    let pages = [
        page_with(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'\">",
            "",
        ),
        page_with(
            "<meta http-equiv=\"content-security-policy\" content=\"default-src 'self'; frame-ancestors 'none'\">",
            "",
        ),
        page_with("<meta name=\"referrer\" content=\"no-referrer\">", ""),
        page_with("<meta name=\"referrer\" content=\"unsafe-url\">", ""),
        page_with("", "<script src=\"/app.js\"></script>"),
        page_with(
            "",
            "<script src=\"/app.js\" integrity=\"sha384-abc\"></script>",
        ),
        page_with(
            "",
            "<script src=\"https://cdn.example.org/a.js\" integrity=\"sha384-abc\" crossorigin=\"anonymous\"></script>",
        ),
        page_with("", "<script src=\"https://cdn.example.org/a.js\"></script>"),
        page_with("", "<script src=\"http://cdn.example.org/a.js\"></script>"),
        page_with(
            "",
            "<script src=\"http://cdn.example.org/a.js\" integrity=\"sha384-abc\"></script>",
        ),
        page_with("", "<script src=\"//cdn.example.org/a.js\"></script>"),
        page_with("", "<script>var inline = 1;</script>"),
    ];
    for p in &pages {
        add(base(""), p);
    }
    add(
        base(&h(
            "Content-Security-Policy",
            "default-src 'self' https://cdn.test; img-src *",
        )),
        &page_with(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src https://cdn.test\">",
            "",
        ),
    );
    // CORS preflights answered with 204 (a 405 counts as no answer).
    let preflight = "if ($request_method = OPTIONS) { return 204; }";
    for acao in [
        h("Access-Control-Allow-Origin", "*"),
        h("Access-Control-Allow-Origin", "https://partner.test"),
        format!(
            "{}\n{}",
            h("Access-Control-Allow-Origin", "$http_origin"),
            h("Access-Control-Allow-Credentials", "true")
        ),
    ] {
        add(base(&format!("{preflight}\n{acao}")), &plain);
    }
    // Cookies from every response of the chain: the first hop sets an insecure session cookie,
    // the final page a good one (`add_header` in a location replaces the server's, so HSTS is
    // repeated there).
    add(
        format!(
            "{REDIRECT}\nlocation = / {{ {HSTS} {} return 302 /home.html; }}\n\
             location = /home.html {{ {HSTS} {} }}",
            h("Set-Cookie", "sessionid=1; HttpOnly"),
            h("Set-Cookie", "pref=1; Secure; SameSite=Lax")
        ),
        &plain,
    );
    add(
        format!(
            "{REDIRECT}\nlocation = / {{ {HSTS} return 301 /home.html; }}\n\
             location = /home.html {{ {HSTS} {} }}",
            h("Set-Cookie", "pref=1; Secure; HttpOnly; SameSite=Strict")
        ),
        &plain,
    );
    // A cookie for another domain is not stored.
    add(
        base(&h("Set-Cookie", "pref=1; Domain=elsewhere.test")),
        &plain,
    );
    // Not HTML: no meta tags, no scripts counted.
    add(
        base("types { } default_type text/plain;"),
        &page_with(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">",
            "<script src=\"http://cdn.example.org/a.js\"></script>",
        ),
    );
    // A forbidden front page is still graded.
    add(base("location = / { return 403; }"), &plain);
    // HSTS only on the plain-http redirect does not count.
    add(
        format!(
            "set $hsts \"\";\nif ($scheme = http) {{ set $hsts \"max-age=31536000\"; }}\n{}\n{REDIRECT}",
            h("Strict-Transport-Security", "$hsts")
        ),
        &plain,
    );
    // A well-configured site, and one with everything missing.
    add(
        base(
            &[
                h(
                    "Content-Security-Policy",
                    "default-src 'none'; frame-ancestors 'none'",
                ),
                h("X-Content-Type-Options", "nosniff"),
                h("Referrer-Policy", "no-referrer"),
                h("Cross-Origin-Resource-Policy", "same-origin"),
                h("Set-Cookie", "sid=1; Secure; HttpOnly; SameSite=Strict"),
            ]
            .join("\n"),
        ),
        &page_with(
            "",
            "<script src=\"https://cdn.example.org/a.js\" integrity=\"sha384-abc\"></script>",
        ),
    );
    add(String::new(), &plain);
    add(
        base(
            &[
                h("Content-Security-Policy", "script-src 'unsafe-inline'"),
                h("Set-Cookie", "session=1"),
                h("Access-Control-Allow-Origin", "$http_origin"),
                h("Access-Control-Allow-Credentials", "true"),
            ]
            .join("\n"),
        ),
        &page_with("", "<script src=\"http://cdn.example.org/a.js\"></script>"),
    );
    out
}

#[test]
fn web_grade_equals_the_mdn_http_observatory() {
    let Some(pkg) = observatory::install() else {
        return;
    };
    let situations = situations();
    assert!(situations.len() >= 80, "{} situations", situations.len());
    let ca = Ca::new("siteward observatory root").expect("ca");
    let first = Vhost::new(
        "placeholder.test",
        ca.leaf(&["placeholder.test"], Validity::days(90))
            .expect("leaf"),
    );
    let nginx = Nginx::start(&[first]);
    let repo = Repo::new();
    repo.write("ca.pem", &ca.cert_pem);
    let mut hosts = Vec::new();
    for (i, s) in situations.iter().enumerate() {
        let name = format!("s{i:03}.test");
        let mut v = Vhost::new(
            &name,
            ca.leaf(&[name.as_str()], Validity::days(90)).expect("leaf"),
        );
        v.config = s
            .config
            .replace("HTTPS", &nginx.https_port.to_string())
            .replace("HTTP/", &format!("{}/", nginx.http_port));
        v.files = vec![
            ("index.html".into(), s.page.clone()),
            ("plain.html".into(), "plain\n".into()),
            ("app.js".into(), "var a = 1;\n".into()),
        ];
        nginx.add_vhost(&v);
        repo.write(
            &format!("sites/{name}.yaml"),
            &format!(
                "name: {name}\nurl: https://{name}/\nconnect: {}\nconnect_http: {}\nca: ca.pem\n",
                nginx.https_addr(),
                nginx.http_addr()
            ),
        );
        hosts.push(name);
    }
    nginx.reload();
    nginx.wait_settled();

    let reference = observatory::scan(
        &pkg,
        &repo.path().join("ca.pem"),
        nginx.http_port,
        nginx.https_port,
        &hosts,
    );
    let run = repo.run(&[
        "check",
        "--format",
        "json",
        "--timeout",
        "10",
        "--fail-on",
        "critical",
    ]);
    let report = run.json();
    let ours: BTreeMap<String, Value> = report["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| (s["site"].as_str().expect("site").to_owned(), s.clone()))
        .collect();

    // The situations exercise many of the Observatory's verdicts, not one verdict many times.
    let seen: std::collections::BTreeSet<String> = hosts
        .iter()
        .flat_map(|h| reference[h]["tests"].as_object().into_iter().flatten())
        .filter_map(|(_, t)| t["result"].as_str().map(str::to_owned))
        .collect();
    eprintln!("{} distinct Observatory results: {seen:?}", seen.len());
    assert!(
        seen.len() >= 45,
        "only {} distinct results: {seen:?}",
        seen.len()
    );
    let grades: std::collections::BTreeSet<&str> = hosts
        .iter()
        .filter_map(|h| reference[h]["grade"].as_str())
        .collect();
    assert!(grades.len() >= 6, "grades seen: {grades:?}");

    let mut agree = 0;
    let mut differences = Vec::new();
    for (host, situation) in hosts.iter().zip(&situations) {
        let theirs = &reference[host];
        let mine = &ours[host];
        assert!(
            theirs["error"].is_null(),
            "{host}: the Observatory failed: {theirs}"
        );
        let mut diff = Vec::new();
        for key in ["grade", "score"] {
            if theirs[key] != mine[key] {
                diff.push(format!(
                    "{key}: observatory {} siteward {}",
                    theirs[key], mine[key]
                ));
            }
        }
        for (test, t) in theirs["tests"].as_object().expect("tests") {
            let m = &mine["tests"][test];
            for key in ["result", "score_modifier", "pass"] {
                if t[key] != m[key] {
                    diff.push(format!(
                        "{test}.{key}: observatory {} siteward {}",
                        t[key], m[key]
                    ));
                }
            }
        }
        if diff.is_empty() {
            agree += 1;
        } else {
            differences.push(format!(
                "{host} ({}):\n    {}",
                situation.config.replace('\n', " "),
                diff.join("\n    ")
            ));
        }
    }
    println!("{agree}/{} grades agree", hosts.len());
    eprintln!("{agree}/{} grades agree", hosts.len());
    assert!(
        differences.is_empty(),
        "{agree}/{} grades agree; differences:\n{}",
        hosts.len(),
        differences.join("\n")
    );
}

/// Registrable domains, which decide whether a script is "same domain" for subresource
/// integrity, agree with the Observatory's own library (tldts, as its SRI test calls it).
#[test]
fn registrable_domains_agree_with_the_observatory_s_library() {
    let Some(pkg) = observatory::install() else {
        return;
    };
    let tldts = pkg.join("../../tldts");
    let hosts = [
        "www.example.com",
        "example.com",
        "a.b.co.uk",
        "co.uk",
        "sub.bbc.co.uk",
        "user.github.io",
        "github.io",
        "a.blogspot.com",
        "shop.example.nl",
        "wp.test",
        "a.b.wp.test",
        "localhost",
        "127.0.0.1",
        "a.b.ck",
        "www.ck",
        "city.kawasaki.jp",
        "a.b.kawasaki.jp",
        "x.appspot.com",
        "static.example.com.au",
        "xn--80ak6aa92e.com",
    ];
    let script = "const { parse } = require(process.env.TLDTS); \
                  const out = {}; \
                  for (const h of process.argv.slice(1)) { out[h] = parse(h).domain; } \
                  console.log(JSON.stringify(out));";
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .args(hosts)
        .env("TLDTS", &tldts)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: BTreeMap<String, Option<String>> =
        serde_json::from_slice(&out.stdout).expect("tldts answer");
    for host in hosts {
        let ours = siteward::policy::observatory::domain::registrable(host);
        assert_eq!(ours, theirs[host], "{host}");
    }
}
