//! The `exec` provider through the real binary: the example program
//! (`examples/providers/hosting-panel.py`, a control panel that renders an Apache include and
//! reloads a real Apache 2.4) over the siteward-exec/1 protocol; a program that hangs (killed
//! at its timeout), one that prints garbage (a clear error, nothing recorded as applied), the
//! allow-list, and secrets reaching the program only as variables of that run.

use std::path::{Path, PathBuf};

use siteward::pki::{Ca, Validity};

use super::support::apache::{Apache, Vhost};
use super::support::{Repo, Run};

const HOST: &str = "a.test";
const TOKEN: &str = "panel-api-token-7f3a";
const SITE_SECRET: &str = "s3cret-site-token-91b2";

/// The example program, as shipped.
fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/providers/hosting-panel.py")
}

/// A real Apache serving `a.test` and including what the panel renders for it, the panel's
/// directory (with its API token) and a state repo.
struct Panel {
    apache: Apache,
    dir: tempfile::TempDir,
    repo: Repo,
}

impl Panel {
    fn start() -> Panel {
        let ca = Ca::new("exec test root").expect("ca");
        let dir = tempfile::tempdir().expect("panel dir");
        std::fs::create_dir_all(dir.path().join("sites")).expect("mkdir");
        std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).expect("token");
        let apache = Apache::start(&[]);
        let mut v = Vhost::new(HOST, ca.leaf(&[HOST], Validity::days(30)).expect("leaf"));
        v.config = format!(
            "  IncludeOptional {}/sites/{HOST}.conf\n",
            dir.path().display()
        );
        apache.add_vhost(&v);
        apache.reload();
        let repo = Repo::new();
        repo.write("ca.pem", &ca.cert_pem);
        Panel { apache, dir, repo }
    }

    /// `manage.server` for `program` (the example program's arguments follow it).
    fn manage(&self, program: &Path, timeout: u32) -> String {
        format!(
            "    provider: exec\n    command: >-\n      {} --panel {} --reload '{}'\n    \
             env:\n      PANEL_TOKEN: env:PANEL_TOKEN\n    timeout: {timeout}\n",
            program.display(),
            self.dir.path().display(),
            self.apache.command("-k graceful"),
        )
    }

    /// Writes the site with `extra` top-level YAML, managed by `program`, and commits.
    fn site(&self, extra: &str, program: &Path, timeout: u32) {
        let yaml = format!(
            "name: {HOST}\nurl: https://{HOST}/\nsync: auto\nconnect: {}\nconnect_http: {}\n\
             ca: ca.pem\n{extra}manage:\n  server:\n{}",
            self.apache.https_addr(),
            self.apache.http_addr(),
            self.manage(program, timeout)
        );
        self.repo.write(&format!("sites/{HOST}.yaml"), &yaml);
        self.repo.commit_all("site");
    }

    /// Runs siteward with the panel's token, the site's secret and `allowed` programs.
    fn run(&self, args: &[&str], allowed: &Path) -> Run {
        self.repo.run_env(
            args,
            &[
                ("PANEL_TOKEN", TOKEN),
                ("SITE_TOKEN", SITE_SECRET),
                ("CANARY_SECRET", "canary-value"),
                ("SITEWARD_EXEC_ALLOW", allowed.to_str().expect("utf-8")),
            ],
        )
    }

    /// `(status line, headers)` of `URL` through curl, resolved to this Apache.
    fn get(&self, url: &str) -> String {
        let ca = self.repo.path().join("ca.pem");
        let out = super::support::command("curl")
            .args(["-q", "-sS", "-D-", "-o", "/dev/null", "--cacert"])
            .arg(&ca)
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", self.apache.https_port))
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", self.apache.http_port))
            .arg(url)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
    }

    fn https(&self) -> String {
        self.get(&format!("https://{HOST}:{}/", self.apache.https_port))
    }

    fn record(&self) -> serde_json::Value {
        let files = self
            .repo
            .git(&["log", "-1", "--name-only", "--format=", "siteward-audit"]);
        let path = files
            .lines()
            .find(|l| l.ends_with(".json"))
            .expect("a record file");
        let text = self.repo.git(&["show", &format!("siteward-audit:{path}")]);
        serde_json::from_str(&text).expect("record JSON")
    }
}

/// A header value made to break out of JSON, Apache quoting and any shell.
const EVIL: &str = r#"a "b" 'c'; $(touch PWNED) `touch PWNED2` %{HOME}e \n end\"#;

#[test]
fn the_example_program_adds_changes_and_removes_over_its_protocol() {
    let p = Panel::start();
    let https = p.apache.https_port;
    let extra = format!(
        "headers:\n  X-Frame-Options: DENY\n  X-Token: env:SITE_TOKEN\n  X-Evil: '{}'\n\
         redirects:\n  - {{from: 'http://{HOST}/', to: 'https://{HOST}:{https}/', status: 301}}\n",
        EVIL.replace('\'', "''")
    );
    p.site(&extra, &example(), 30);

    // The plan names the provider and applies every change through it.
    let plan = p.run(&["plan", "--format", "json"], &example());
    plan.expect_code(2);
    let doc = plan.json();
    let changes = doc["sites"][0]["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 4, "{doc}");
    for c in changes {
        assert_eq!(
            (c["provider"].as_str(), c["step"].as_str()),
            (Some("exec"), Some("apply")),
            "{doc}"
        );
    }

    let apply = p.run(&["apply"], &example());
    apply.expect_code(0);
    let served = p.https();
    assert!(served.contains("x-frame-options: deny"), "{served}");
    assert!(
        served.contains(&format!("x-token: {SITE_SECRET}")),
        "{served}"
    );
    assert!(
        served.contains(&format!("x-evil: {}", EVIL.to_ascii_lowercase())),
        "{served}"
    );
    let redirect = p.get(&format!("http://{HOST}:{}/", p.apache.http_port));
    assert!(
        redirect.starts_with("http/1.1 301")
            && redirect.contains(&format!("location: https://{HOST}:{https}/")),
        "{redirect}"
    );
    for pwned in ["PWNED", "PWNED2"] {
        assert!(!p.repo.path().join(pwned).exists() && !Path::new(pwned).exists());
    }
    // The secret is in the panel (its storage) and served, never in siteward's output or record.
    let record = p.record();
    let results: Vec<&str> = record["sites"][0]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["result"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(results, ["applied"; 4], "{record}");
    let everything = format!("{}{}{}{record}", plan.stdout, apply.stdout, apply.stderr);
    assert!(!everything.contains(SITE_SECRET) && !everything.contains(TOKEN));

    // In sync now; a second apply changes nothing.
    p.run(&["plan"], &example()).expect_code(0);
    p.run(&["apply"], &example()).expect_code(0);

    // Change one header, make the others absent, drop the redirect.
    p.site(
        "headers:\n  X-Frame-Options: SAMEORIGIN\n  X-Token: absent\n  X-Evil: absent\n",
        &example(),
        30,
    );
    p.run(&["apply"], &example()).expect_code(0);
    let served = p.https();
    assert!(served.contains("x-frame-options: sameorigin"), "{served}");
    assert!(
        !served.contains("x-token") && !served.contains("x-evil"),
        "{served}"
    );
    let plain = p.get(&format!("http://{HOST}:{}/", p.apache.http_port));
    assert!(plain.starts_with("http/1.1 200"), "{plain}");
    p.run(&["plan"], &example()).expect_code(0);
}

#[test]
fn a_program_not_on_the_allow_list_is_never_run() {
    let p = Panel::start();
    p.site("headers:\n  X-Frame-Options: DENY\n", &example(), 30);
    let marker = p.dir.path().join("sites").join(format!("{HOST}.json"));
    let out = p.run(&["plan", "--format", "json"], Path::new("/usr/bin/true"));
    out.expect_code(1);
    let error = out.json()["sites"][0]["error"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        error.contains("is not allowed on this machine") && error.contains("SITEWARD_EXEC_ALLOW"),
        "{error}"
    );
    p.run(&["apply"], Path::new("/usr/bin/true")).expect_code(1);
    assert!(!marker.exists(), "the program ran");
}

/// Writes an executable script.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A protocol program that answers `capabilities` and `observe` (nothing set) and runs
/// `on_apply` (Python) for `apply`.
fn program(dir: &Path, name: &str, on_apply: &str) -> PathBuf {
    script(
        dir,
        name,
        &format!(
            "#!/usr/bin/python3\nimport json, sys, time\nreq = json.load(sys.stdin)\n\
             P = 'siteward-exec/1'\n\
             if req['action'] == 'capabilities':\n    print(json.dumps({{'protocol': P, 'resources': ['header', 'redirect']}}))\n\
             elif req['action'] == 'observe':\n    print(json.dumps({{'protocol': P, 'headers': {{}}, 'redirects': []}}))\n\
             else:\n{on_apply}\n"
        ),
    )
}

#[test]
fn a_program_that_hangs_is_killed_at_its_timeout() {
    let p = Panel::start();
    let dir = tempfile::tempdir().expect("dir");
    let pidfile = dir.path().join("pid");
    let hang = script(
        dir.path(),
        "hang",
        &format!("#!/bin/sh\necho $$ > {}\nsleep 600\n", pidfile.display()),
    );
    p.site("headers:\n  X-Frame-Options: DENY\n", &hang, 2);
    let start = std::time::Instant::now();
    let out = p.run(&["plan", "--format", "json"], &hang);
    out.expect_code(1);
    assert!(start.elapsed() < std::time::Duration::from_secs(50));
    let error = out.json()["sites"][0]["error"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        error.contains("did not finish within 2 s and was killed"),
        "{error}"
    );
    let pid = std::fs::read_to_string(&pidfile).expect("pid");
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the program is still running"
    );

    // Hanging only on apply: the apply fails, nothing is recorded as applied.
    let slow = program(dir.path(), "slow-apply", "    time.sleep(600)");
    p.site("headers:\n  X-Frame-Options: DENY\n", &slow, 2);
    let out = p.run(&["apply"], &slow);
    out.expect_code(1);
    let record = p.record();
    let site = &record["sites"][0];
    assert!(
        site["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .all(|a| a["result"] == "failed"),
        "{record}"
    );
    let error = site["actions"][0]["message"].as_str().unwrap_or("");
    assert!(error.contains("did not finish within 2 s"), "{record}");
}

#[test]
fn a_program_that_prints_garbage_is_a_clear_error_and_nothing_is_applied() {
    let p = Panel::start();
    let dir = tempfile::tempdir().expect("dir");
    let garbage = script(
        dir.path(),
        "garbage",
        "#!/bin/sh\necho '<html><body>502 Bad Gateway</body></html>'\n",
    );
    p.site("headers:\n  X-Frame-Options: DENY\n", &garbage, 10);
    let out = p.run(&["plan", "--format", "json"], &garbage);
    out.expect_code(1);
    let doc = out.json();
    assert_eq!(doc["sites"][0]["sync"], "unknown", "{doc}");
    let error = doc["sites"][0]["error"].as_str().unwrap_or("").to_owned();
    assert!(
        error.contains("answered `capabilities` with something that is not the exec protocol")
            && error.contains("502 Bad Gateway"),
        "{error}"
    );

    // Garbage only in the answer to `apply`.
    let bad = program(dir.path(), "bad-apply", "    print('ok, done!')");
    p.site("headers:\n  X-Frame-Options: DENY\n", &bad, 10);
    p.run(&["apply"], &bad).expect_code(1);
    let record = p.record();
    let site = &record["sites"][0];
    let results: Vec<&str> = site["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["result"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(results, ["failed"], "{record}");
    let error = site["actions"][0]["message"].as_str().unwrap_or("");
    assert!(
        error.contains("answered `apply` with something that is not the exec protocol"),
        "{record}"
    );

    // A change the program reports failed: its message, and the site failed.
    let refuses = program(
        dir.path(),
        "refuses",
        "    print(json.dumps({'protocol': P, 'results': [dict(c, result='failed', message='quota exceeded') for c in req['changes']]}))",
    );
    p.site("headers:\n  X-Frame-Options: DENY\n", &refuses, 10);
    p.run(&["apply"], &refuses).expect_code(1);
    let record = p.record();
    let error = record["sites"][0]["actions"][0]["message"]
        .as_str()
        .unwrap_or("");
    assert!(
        error.contains("header `x-frame-options`: quota exceeded"),
        "{record}"
    );
}

/// A wrapper around the example program that logs each run's argv, environment and stdin.
#[test]
fn secrets_reach_the_program_only_as_variables_of_that_run() {
    let p = Panel::start();
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("runs.jsonl");
    let wrapper = script(
        dir.path(),
        "logged",
        &format!(
            "#!/usr/bin/python3\nimport json, os, subprocess, sys\ndata = sys.stdin.buffer.read()\n\
             done = subprocess.run([{example:?}] + sys.argv[1:], input=data, capture_output=True)\n\
             with open({log:?}, 'a') as f:\n    f.write(json.dumps({{'argv': sys.argv, 'env': dict(os.environ), \
             'stdin': data.decode(), 'stdout': done.stdout.decode()}}) + '\\n')\n\
             sys.stdout.buffer.write(done.stdout)\nsys.stderr.buffer.write(done.stderr)\nsys.exit(done.returncode)\n",
            log = log.display().to_string(),
            example = example().display().to_string(),
        ),
    );
    p.site("headers:\n  X-Token: env:SITE_TOKEN\n", &wrapper, 30);
    p.run(&["apply"], &wrapper).expect_code(0);
    assert!(p.https().contains(&format!("x-token: {SITE_SECRET}")));

    let runs: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let action = |r: &serde_json::Value| {
        serde_json::from_str::<serde_json::Value>(r["stdin"].as_str().unwrap_or("{}"))
            .expect("request")["action"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let applies: Vec<_> = runs.iter().filter(|r| action(r) == "apply").collect();
    assert_eq!(applies.len(), 1, "{runs:?}");
    // Every request siteward sent and every answer of the example program follow the
    // documented protocol schema.
    let schema_path = example().with_file_name("exec-protocol.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).expect("schema"))
            .expect("schema JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    for run in &runs {
        for part in ["stdin", "stdout"] {
            let doc: serde_json::Value =
                serde_json::from_str(run[part].as_str().unwrap_or("")).expect("JSON message");
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{part} {doc} fails the schema: {errors:#?}"
            );
        }
    }
    for run in &runs {
        let env = run["env"].as_object().expect("env");
        // Only what the site declares, never siteward's own environment.
        assert_eq!(env.get("PANEL_TOKEN").and_then(|v| v.as_str()), Some(TOKEN));
        assert!(!env.contains_key("CANARY_SECRET") && !env.contains_key("SITE_TOKEN"));
        assert!(!env.contains_key("SITEWARD_EXEC_ALLOW"));
        // Never on the command line or stdin.
        let argv = run["argv"].to_string();
        let stdin = run["stdin"].as_str().unwrap_or("");
        for secret in [SITE_SECRET, TOKEN] {
            assert!(!argv.contains(secret) && !stdin.contains(secret), "{run}");
        }
        let secret_var = env.get("SITEWARD_SECRET_1").and_then(|v| v.as_str());
        if action(run) == "apply" {
            assert_eq!(secret_var, Some(SITE_SECRET));
            assert!(
                stdin.contains(r#""x-token":{"env":"SITEWARD_SECRET_1"}"#),
                "{stdin}"
            );
        } else {
            assert_eq!(secret_var, None, "{run}");
        }
    }
}

/// `exec` takes `command`, `env` and `timeout` and no file keys; every other kind the other
/// way round. Each problem is located.
#[test]
fn exec_keys_are_checked_at_load() {
    let repo = Repo::new();
    let site = |name: &str, manage: &str| {
        repo.write(
            &format!("sites/{name}.yaml"),
            &format!("name: {name}\nurl: https://{name}/\nmanage:\n  server:\n{manage}"),
        );
    };
    site("a", "    provider: exec\n    config: /x.conf\n");
    site(
        "b",
        "    provider: nginx\n    config: /x.conf\n    command: /opt/p\n",
    );
    site(
        "c",
        "    provider: exec\n    command: /opt/p\n    env:\n      SITEWARD_X: env:X\n      \
         TOKEN: literal-token\n    timeout: 0\n    host: ssh://deploy@web01\n",
    );
    site(
        "d",
        "    provider: exec\n    command: \"/opt/p 'unterminated\"\n",
    );
    let out = repo.run(&["validate", "--format", "json"]);
    out.expect_code(1);
    let doc = out.json();
    let problems: Vec<String> = doc["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}: {}",
                p["path"].as_str().unwrap_or(""),
                p["line"],
                p["column"],
                p["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    let has = |want: &str| {
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "`{want}` not in {problems:#?}"
        );
    };
    has("sites/a.yaml:6:13: manage.server.config: not used by `exec`");
    has("sites/a.yaml:5:5: manage.server: missing required key `command`");
    has(
        "sites/b.yaml:7:14: manage.server.command: not used by `nginx`; only `provider: exec` runs a program",
    );
    has(
        "sites/c.yaml:8:7: manage.server.env: `SITEWARD_X` is not an environment variable name (letters",
    );
    has("sites/c.yaml:9:14: manage.server.env.TOKEN: secrets are never written in YAML");
    has("sites/c.yaml:10:14: manage.server.timeout");
    has("sites/c.yaml:11:11: manage.server.host: not used by `exec`");
    has(
        "sites/d.yaml:6:14: manage.server.command: `/opt/p 'unterminated` has an unterminated quote",
    );
}
