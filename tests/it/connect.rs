//! `connect: ADDR:PORT` replaces the URL's port (SPEC), also when the URL names its own port,
//! and a connection error names the address that was tried.

use super::reconcile::Fleet;
use super::support::refused_port;

#[test]
fn the_connect_port_replaces_an_explicit_url_port() {
    let f = Fleet::start(&["a.test"]);
    // Nothing listens on the URL's own port (bound, never listening: refused, and no other
    // test can take it meanwhile): only the connect port reaches nginx.
    let reserved = refused_port();
    let closed = reserved.port;
    let site = format!(
        "name: a.test\nurl: https://a.test:{closed}/\nconnect: {}\nca: ca.pem\n\
         headers:\n  X-Frame-Options: DENY\n",
        f.nginx.https_addr()
    );
    f.repo.write("sites/a.test.yaml", &site);
    f.repo.commit_all("explicit url port");
    let out = f.repo.run(&["plan", "--format", "json"]);
    let doc = out.json();
    let site = &doc["sites"][0];
    assert_eq!(site["error"], serde_json::Value::Null, "{doc}");
    assert_eq!(site["sync"], "drift", "{doc}");
    assert_eq!(site["changes"][0]["key"], "x-frame-options", "{doc}");

    // A connect address where nothing listens: the error names it.
    let dead =
        format!("name: a.test\nurl: https://a.test/\nconnect: 127.0.0.1:{closed}\nca: ca.pem\n");
    f.repo.write("sites/a.test.yaml", &dead);
    let out = f.repo.run(&["plan", "--format", "json"]);
    out.expect_code(1);
    let error = out.json()["sites"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains(&format!("connecting to 127.0.0.1:{closed}")),
        "{error}"
    );
}

/// The https redirect to a non-standard port keeps the request's path and query (nginx used to
/// get `return 301 "https://host:PORT/";`, which sent every page to the home page).
#[test]
fn the_https_redirect_to_another_port_keeps_path_and_query() {
    let f = Fleet::start(&["a.test"]);
    let port = f.nginx.https_port;
    let extra = format!(
        "connect_http: {}\nredirects:\n  - {{from: 'http://a.test/', to: 'https://a.test:{port}/', status: 301}}\n",
        f.nginx.http_addr()
    );
    f.site("a.test", "auto", &extra);
    f.repo.commit_all("upgrade to https on another port");
    f.repo.run(&["apply"]).expect_code(0);
    f.nginx.wait_settled();
    let http = f.nginx.http_port;
    let out = super::support::command("curl")
        .args(["-q", "-sS", "-D-", "-o", "/dev/null", "--resolve"])
        .arg(format!("a.test:{http}:127.0.0.1"))
        .arg(format!("http://a.test:{http}/shop/cart?item=7"))
        .output()
        .expect("curl");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 301"), "{head}");
    assert!(
        head.contains(&format!("location: https://a.test:{port}/shop/cart?item=7")),
        "{head}"
    );
    // And the plan agrees that the redirect is served as desired.
    f.repo.run(&["plan"]).expect_code(0);
}
