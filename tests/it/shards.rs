//! Shards on the engines users already run (issue #13): the exact `siteward` command line of
//! each engine's example — a GitHub Actions matrix, GitLab `parallel:`, Buildkite
//! `parallelism:`, a Kubernetes Indexed Job — runs as N shards at once, each in its own clone of
//! the state repo with the variables that engine sets, all pushing to one bare remote. Together
//! they must observe every site exactly once (sites served by a real nginx), and all N run
//! records must land on the remote's audit branch — on the first run, when the shards race to
//! create the branch, and on the next, when they race to move it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_norway::Value;
use siteward::pki::{Ca, Validity};

use crate::audit::ci_examples::siteward_commands;
use crate::support::git::GitRepo;
use crate::support::nginx::{Nginx, Vhost};
use crate::support::{bin, command};

/// The sites of the fleet; with 4 shards each shard has some (sha256 of the name decides).
const SITES: [&str; 12] = [
    "site-01.test",
    "site-02.test",
    "site-03.test",
    "site-04.test",
    "site-05.test",
    "site-06.test",
    "site-07.test",
    "site-08.test",
    "site-09.test",
    "site-10.test",
    "site-11.test",
    "site-12.test",
];

/// Every variable `--shard auto` reads: removed from each run's environment first, so that the
/// engine this test itself runs on cannot choose a shard.
const SHARD_VARIABLES: [&str; 7] = [
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
    "JOB_COMPLETION_INDEX",
    "SITEWARD_SHARD_INDEX",
    "SITEWARD_SHARD_COUNT",
];

/// One engine's example, read from its file: how a shard gets its clone, the `siteward` argv
/// it runs there, and each shard's environment as the engine sets it.
struct Shards {
    example: &'static str,
    checkout: Checkout,
    argv: Vec<String>,
    envs: Vec<Vec<(String, String)>>,
}

/// How a shard's working copy of the state repo is made.
enum Checkout {
    /// The CI engine checks the repo out: `git clone` stands in for it.
    Engine,
    /// A Kubernetes init container: its own command line, run with `STATE_REPO` pointing at
    /// the test's remote, in its `workingDir`.
    Init {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
}

/// An example file of this repository, parsed.
fn example(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

/// The one `siteward reconcile ...` argv among `scripts` (shell command strings).
fn reconcile_argv<'a>(example: &str, scripts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut found: Vec<Vec<String>> = scripts
        .into_iter()
        .flat_map(siteward_commands)
        .filter(|argv| argv[0] == "reconcile")
        .collect();
    assert_eq!(found.len(), 1, "{example}: one `siteward reconcile` wanted");
    found.remove(0)
}

/// The strings of a YAML sequence (a `script:` or `commands:` list).
fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .expect("a list")
        .iter()
        .map(|s| s.as_str().expect("a string"))
        .collect()
}

/// A count such as `parallel: 4` or `completions: 4`.
fn count(v: &Value, what: &str) -> usize {
    let n = v
        .as_u64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v:?}"));
    usize::try_from(n).expect("a small count")
}

/// The GitHub Actions matrix of `scheduled-reconcile.yml`: one job per matrix entry, with the
/// step's `env:` evaluated as GitHub does for job `i` of `n`.
fn github() -> Shards {
    const FILE: &str = "examples/ci/scheduled-reconcile.yml";
    let doc = example(FILE);
    let job = &doc["jobs"]["reconcile"];
    let n = job["strategy"]["matrix"]["shard"]
        .as_sequence()
        .expect("matrix.shard")
        .len();
    let step = job["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("siteward reconcile"))
        })
        .expect("the reconcile step");
    let argv = reconcile_argv(FILE, step["run"].as_str());
    let env = step["env"].as_mapping().expect("the step's env");
    let envs = (0..n)
        .map(|i| {
            env.iter()
                .map(|(k, v)| {
                    let value = v.as_str().expect("an env string");
                    (
                        k.as_str().expect("a name").to_owned(),
                        github_expr(value, i, n),
                    )
                })
                .collect()
        })
        .collect();
    Shards {
        example: FILE,
        checkout: Checkout::Engine,
        argv,
        envs,
    }
}

/// An `env:` value with the expressions the example uses evaluated for matrix job `i` of `n`;
/// an unset secret is empty, as on GitHub.
fn github_expr(value: &str, i: usize, n: usize) -> String {
    let mut out = value
        .replace("${{ strategy.job-index }}", &i.to_string())
        .replace("${{ strategy.job-total }}", &n.to_string());
    if out.starts_with("${{ secrets.") {
        out.clear();
    }
    assert!(
        !out.contains("${{"),
        "an expression this test does not know: {value}"
    );
    out
}

/// GitLab's `parallel: N` job of `gitlab-ci.yml`: `CI_NODE_INDEX` 1..=N, `CI_NODE_TOTAL` N.
fn gitlab() -> Shards {
    const FILE: &str = "examples/ci/gitlab-ci.yml";
    let doc = example(FILE);
    let job = &doc["reconcile"];
    let n = count(&job["parallel"], "parallel");
    Shards {
        example: FILE,
        checkout: Checkout::Engine,
        argv: reconcile_argv(FILE, strings(&job["script"])),
        envs: (1..=n)
            .map(|i| {
                vec![
                    ("CI_NODE_INDEX".into(), i.to_string()),
                    ("CI_NODE_TOTAL".into(), n.to_string()),
                ]
            })
            .collect(),
    }
}

/// Buildkite's `parallelism: N` step of `buildkite-pipeline.yml`: `BUILDKITE_PARALLEL_JOB`
/// 0..N, `BUILDKITE_PARALLEL_JOB_COUNT` N.
fn buildkite() -> Shards {
    const FILE: &str = "examples/ci/buildkite-pipeline.yml";
    let doc = example(FILE);
    let step = doc["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|s| s["key"].as_str() == Some("reconcile"))
        .expect("the reconcile step");
    let n = count(&step["parallelism"], "parallelism");
    Shards {
        example: FILE,
        checkout: Checkout::Engine,
        argv: reconcile_argv(FILE, strings(&step["commands"])),
        envs: (0..n)
            .map(|i| {
                vec![
                    ("BUILDKITE_PARALLEL_JOB".into(), i.to_string()),
                    ("BUILDKITE_PARALLEL_JOB_COUNT".into(), n.to_string()),
                ]
            })
            .collect(),
    }
}

/// The Indexed Job of `cronjob.yaml`: `completions` pods, all at once (`parallelism`), pod `i`
/// with `JOB_COMPLETION_INDEX` i and the container's own `env:` values (secret references
/// are optional and left unset). The init container clones into the shared `workingDir`.
fn kubernetes() -> Shards {
    const FILE: &str = "examples/kubernetes/cronjob.yaml";
    let doc = example(FILE);
    let job = &doc["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"].as_str(), Some("Indexed"));
    let n = count(&job["completions"], "completions");
    assert_eq!(
        count(&job["parallelism"], "parallelism"),
        n,
        "every shard runs at once"
    );
    let pod = &job["template"]["spec"];
    let init = &pod["initContainers"][0];
    let main = &pod["containers"][0];
    assert_eq!(main["name"].as_str(), Some("siteward"));
    assert_eq!(
        init["workingDir"], main["workingDir"],
        "siteward runs where the init container cloned"
    );
    let mut argv = container_argv(main);
    assert_eq!(argv.remove(0), "siteward");
    let env = container_env(main);
    Shards {
        example: FILE,
        checkout: Checkout::Init {
            argv: container_argv(init),
            env: container_env(init),
        },
        argv,
        envs: (0..n)
            .map(|i| {
                let mut e = env.clone();
                e.push(("JOB_COMPLETION_INDEX".into(), i.to_string()));
                e
            })
            .collect(),
    }
}

/// A container's `command` followed by its `args`.
fn container_argv(c: &Value) -> Vec<String> {
    let mut argv: Vec<String> = strings(&c["command"]).into_iter().map(Into::into).collect();
    argv.extend(strings(&c["args"]).into_iter().map(Into::into));
    argv
}

/// A container's literal `env:` values (`valueFrom` references are not set in the test).
fn container_env(c: &Value) -> Vec<(String, String)> {
    c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .filter_map(|e| {
            let value = e["value"].as_str()?;
            Some((e["name"].as_str().expect("a name").to_owned(), value.into()))
        })
        .collect()
}

/// A real nginx serving every site, and a bare remote whose `main` is a state repo naming them
/// (`sync: observe`, connected to that nginx).
struct Fleet {
    _nginx: Nginx,
    remote: GitRepo,
}

impl Fleet {
    fn start() -> Fleet {
        let ca = Ca::new("shards test root").expect("ca");
        let vhosts: Vec<Vhost> = SITES
            .iter()
            .map(|host| Vhost::new(host, ca.leaf(&[host], Validity::days(60)).expect("leaf")))
            .collect();
        let nginx = Nginx::start(&vhosts);
        let state = GitRepo::new();
        state.write("ca.pem", &ca.cert_pem);
        for host in SITES {
            state.write(
                &format!("sites/{host}.yaml"),
                &format!(
                    "name: {host}\nurl: https://{host}/\nsync: observe\nconnect: {}\nca: ca.pem\n",
                    nginx.https_addr()
                ),
            );
        }
        state.commit("the fleet");
        let remote = GitRepo::bare();
        state.git(&["push", "-q", path(remote.path()), "main"]);
        Fleet {
            _nginx: nginx,
            remote,
        }
    }

    /// A working copy for shard `i` in `base`, made the way the example makes it.
    fn checkout(&self, how: &Checkout, base: &Path, i: usize) -> PathBuf {
        let dir = base.join(format!("shard-{i}"));
        match how {
            Checkout::Engine => {
                crate::support::git_in(
                    base,
                    &["clone", "-q", path(self.remote.path()), path(&dir)],
                );
            }
            Checkout::Init { argv, env } => {
                std::fs::create_dir(&dir).expect("the shared emptyDir");
                let out = command(&argv[0])
                    .args(&argv[1..])
                    .current_dir(&dir)
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .env("STATE_REPO", self.remote.path())
                    .output()
                    .expect("run the init container's command");
                assert!(
                    out.status.success(),
                    "the init container failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        dir
    }

    /// Every run record on the remote's audit branch.
    fn records(&self) -> Vec<serde_json::Value> {
        let branch = "siteward-audit";
        let merges = self.remote.git(&["rev-list", "--merges", branch]);
        assert_eq!(merges.trim(), "", "records are replayed, never merged");
        let files = self.remote.git(&["ls-tree", "-r", "--name-only", branch]);
        files
            .lines()
            .map(|f| {
                let text = self.remote.git(&["show", &format!("{branch}:{f}")]);
                serde_json::from_str(&text).expect("record JSON")
            })
            .collect()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Runs every shard of `shards` at once, twice: the first round creates the remote's audit
/// branch (the shards race to create it), the second extends it (they race to move it). After
/// each round every site has been observed once more, by one shard, and every record is on
/// the remote.
fn run_shards(shards: Shards) {
    let fleet = Fleet::start();
    let n = shards.envs.len();
    assert!(n >= 2, "{}: {n} shard(s)", shards.example);
    for round in 1..=2 {
        let base = tempfile::tempdir().expect("temp dir");
        run_round(&fleet, &shards, base.path());

        let records = fleet.records();
        let what = format!("{}, round {round}", shards.example);
        assert_eq!(records.len(), n * round, "{what}: one record per shard");
        let commits = fleet.remote.git(&["rev-list", "--count", "siteward-audit"]);
        assert_eq!(commits.trim(), (n * round).to_string(), "{what}");
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for record in &records {
            assert_eq!(record["run"]["command"], "reconcile");
            let sites = record["sites"].as_array().expect("sites");
            assert!(!sites.is_empty(), "{what}: a shard without sites");
            for site in sites {
                assert_eq!(site["sync"], "in_sync", "{site}");
                let name = site["site"].as_str().expect("site name");
                *seen.entry(name.to_owned()).or_default() += 1;
            }
        }
        let expected: BTreeMap<String, usize> =
            SITES.iter().map(|s| (s.to_string(), round)).collect();
        assert_eq!(seen, expected, "{what}: every site once per round");
    }
}

/// One scheduled run: a working copy per shard in `base`, then every shard at once.
fn run_round(fleet: &Fleet, shards: &Shards, base: &Path) {
    // Every working copy first, so that the shards start together.
    let dirs: Vec<PathBuf> = (0..shards.envs.len())
        .map(|i| fleet.checkout(&shards.checkout, base, i))
        .collect();
    let children: Vec<Child> = dirs
        .iter()
        .zip(&shards.envs)
        .map(|(dir, env)| {
            let mut cmd = command(bin());
            SHARD_VARIABLES.iter().for_each(|v| {
                cmd.env_remove(v);
            });
            cmd.current_dir(dir)
                .args(&shards.argv)
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start siteward")
        })
        .collect();
    for (child, env) in children.into_iter().zip(&shards.envs) {
        let out = child.wait_with_output().expect("siteward output");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: siteward {} with {env:?}:\n{}{}",
            shards.example,
            shards.argv.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn github_matrix_shards_cover_every_site_once_and_push_every_record() {
    run_shards(github());
}

#[test]
fn gitlab_parallel_shards_cover_every_site_once_and_push_every_record() {
    run_shards(gitlab());
}

#[test]
fn buildkite_parallel_shards_cover_every_site_once_and_push_every_record() {
    run_shards(buildkite());
}

#[test]
fn kubernetes_indexed_job_shards_cover_every_site_once_and_push_every_record() {
    run_shards(kubernetes());
}
