//! The real MDN HTTP Observatory (npm `@mdn/mdn-http-observatory`, pinned) as a reference
//! grader for hosts served on loopback: installed once into `target/observatory` (as
//! `scripts/test` does), then driven by a small script that resolves every test host name to
//! 127.0.0.1, calls the package's own retriever with the loopback ports and grades the result
//! the way its scanner does. `None` (with a visible message) when node or npm is unusable.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned package.
pub const PACKAGE: &str = "@mdn/mdn-http-observatory@1.4.8";

/// The driver: argv = ports and host names; prints one JSON object per host name.
const DRIVER: &str = r#"
import dns from "node:dns";
const realLookup = dns.lookup;
dns.lookup = (host, opts, cb) => {
  if (typeof opts === "function") { cb = opts; opts = {}; }
  if (host.endsWith(".test")) {
    return opts && opts.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
  }
  return realLookup(host, opts, cb);
};
const pkg = process.env.OBSERVATORY_PKG;
const { retrieve } = await import(pkg + "/src/retriever/retriever.js");
const { ALL_TESTS } = await import(pkg + "/src/constants.js");
const { MINIMUM_SCORE_FOR_EXTRA_CREDIT } = await import(pkg + "/src/grader/charts.js");
const { getGradeForScore, getScoreModifier } = await import(pkg + "/src/grader/grader.js");
const [httpPort, httpsPort, ...hosts] = process.argv.slice(2);
const out = {};
for (const host of hosts) {
  try {
    const r = await retrieve(host, { httpPort, httpsPort });
    if (!r.responses.auto) throw new Error("the site seems to be down");
    let withBonus = 100, penalties = 100;
    const tests = {};
    for (const test of ALL_TESTS) {
      const res = test(r);
      const m = getScoreModifier(res.result);
      withBonus += m;
      if (m < 0) penalties += m;
      tests[res.constructor.name] = { result: res.result, score_modifier: m, pass: res.pass };
    }
    const g = getGradeForScore(penalties >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? withBonus : penalties);
    out[host] = { grade: g.grade, score: g.score, tests };
  } catch (e) {
    out[host] = { error: String(e) };
  }
}
console.log(JSON.stringify(out));
"#;

/// The package directory, installing the pinned package first when needed.
pub fn install() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/observatory");
    let pkg = root.join("node_modules/@mdn/mdn-http-observatory");
    let node_ok = Command::new("node")
        .arg("-e")
        .arg("process.exit(parseInt(process.versions.node) >= 20 ? 0 : 1)")
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        eprintln!("SKIPPED: the Observatory differential test needs node >= 20 on PATH");
        return None;
    }
    if !pkg.join("package.json").exists() {
        std::fs::create_dir_all(&root).ok()?;
        let ok = Command::new("npm")
            .current_dir(&root)
            .args([
                "install",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                PACKAGE,
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: `npm install {PACKAGE}` failed (npm registry unreachable?)");
            return None;
        }
    }
    // What the skipped postinstall step would write: an empty HSTS preload list.
    let preload = pkg.join("conf/hsts-preload.json");
    if !preload.exists() {
        std::fs::write(&preload, "{}").ok()?;
    }
    Some(pkg)
}

/// Grades `hosts` (all `*.test`, served on the two loopback ports, trusting `ca`): host →
/// `{grade, score, tests}` or `{error}`.
pub fn scan(
    pkg: &Path,
    ca: &Path,
    http_port: u16,
    https_port: u16,
    hosts: &[String],
) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let driver = dir.path().join("driver.mjs");
    std::fs::write(&driver, DRIVER).expect("write driver");
    let out = Command::new("node")
        .arg(&driver)
        .arg(http_port.to_string())
        .arg(https_port.to_string())
        .args(hosts)
        .env("OBSERVATORY_PKG", pkg)
        .env("NODE_EXTRA_CA_CERTS", ca)
        .env("CONFIG_FILE", pkg.join("conf/config-test.json"))
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "the Observatory driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the Observatory driver printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
