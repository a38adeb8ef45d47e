//! A real headless Chromium (Debian's `chromium`), driven by the npm package `playwright-core`
//! that `scripts/test` installs into `target/browser`. A test hands over the body of an async
//! JavaScript function; it runs with `page` (a fresh page in a fresh profile), `args` (strings
//! from the test) and `artifacts` (the folder for screenshots), and whatever it returns comes
//! back as JSON, together with every console error, page error and request the pages made.

use std::path::{Path, PathBuf};

/// The browser binary (Debian's package).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Launch flags for a closed network: no background connections, no first-run work.
const FLAGS: [&str; 7] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The driver around the test's body. Every page of the context is watched.
const DRIVER: &str = r#"
const { chromium } = require('playwright-core');
const [userDataDir, executablePath, flags, artifacts, ...args] = process.argv.slice(2);
(async () => {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, args: JSON.parse(flags),
  });
  const errors = [];
  const requests = [];
  const watch = (p) => {
    p.on('console', (m) => { if (m.type() === 'error') { errors.push(m.text()); } });
    p.on('pageerror', (e) => errors.push(String(e)));
    p.on('request', (r) => requests.push(r.url()));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  const result = await body({ page, args, artifacts });
  await context.close();
  process.stdout.write(JSON.stringify({ result, errors, requests }));
})().catch((e) => { console.error(e && e.stack ? e.stack : String(e)); process.exit(1); });
async function body({ page, args, artifacts }) {
"#;

/// What one browser session gave back.
pub struct Session {
    /// What the body returned.
    pub result: serde_json::Value,
    /// Console errors and uncaught page errors, in order.
    pub errors: Vec<String>,
    /// Every URL the pages requested.
    pub requests: Vec<String>,
}

/// Where tests keep screenshots: `target/test-artifacts`.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

/// `target/browser/node_modules`, where `scripts/test` installs `playwright-core`.
fn node_modules() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("browser/node_modules");
    assert!(
        dir.join("playwright-core").exists() && Path::new(CHROMIUM).exists(),
        "needs Debian's chromium and npm's playwright-core in {}; run scripts/test, which installs both",
        dir.display()
    );
    dir
}

/// Runs `body` (the statements of an async function of `{page, args, artifacts}`) in a fresh
/// headless Chromium with an empty profile.
#[track_caller]
pub fn run(body: &str, args: &[&str]) -> Session {
    let modules = node_modules();
    let work = tempfile::tempdir().expect("temp dir");
    let script = work.path().join("drive.js");
    std::fs::write(&script, format!("{DRIVER}{body}\n}}\n")).expect("write driver");
    let profile = work.path().join("profile");
    let out = super::command("node")
        .arg(&script)
        .arg(&profile)
        .arg(CHROMIUM)
        .arg(serde_json::to_string(&FLAGS).expect("flags"))
        .arg(artifacts())
        .args(args)
        .env("NODE_PATH", &modules)
        .output()
        .expect("run node (is Node.js installed?)");
    assert!(
        out.status.success(),
        "browser session failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the driver prints JSON");
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .expect("array")
            .iter()
            .map(|s| s.as_str().expect("string").to_owned())
            .collect()
    };
    Session {
        errors: strings("errors"),
        requests: strings("requests"),
        result: v["result"].clone(),
    }
}
