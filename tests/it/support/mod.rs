//! Test helpers: a temp state repo, a runner for the real binary, and real services on loopback.

#![allow(dead_code)]

pub mod apache;
pub mod browser;
pub mod git;
pub mod nginx;
pub mod observatory;
pub mod pebble;
pub mod ports;
pub mod sshd;
pub mod wait;
pub mod webhook;
pub mod wordpress;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub use ports::refused_port;

/// An empty home directory for the child processes of this test run, so that no user's
/// `~/.gitconfig` (identity, hooks, signing, URL rewrites) or `~/.curlrc` changes what a test
/// sees. Kept under Cargo's temp dir for integration tests, one per test process.
pub fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).expect("target temp dir");
        tempfile::Builder::new()
            .prefix("home-")
            .tempdir_in(base)
            .expect("temp home")
            .keep()
    })
}

/// A command for `program` with a hermetic environment: `HOME` is [`home`], no XDG config
/// directory, no system git config, no terminal prompts, no colour, no `RUST_LOG`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home())
        .env_remove("XDG_CONFIG_HOME")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// A temporary state repository with `sites/` and `policies/`.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("sites")).expect("sites dir");
        std::fs::create_dir_all(dir.path().join("policies")).expect("policies dir");
        Repo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `rel` (creating parent directories).
    #[track_caller]
    pub fn write(&self, rel: &str, text: &str) -> &Repo {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write file");
        self
    }

    /// Runs `siteward --repo <this repo> ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs `siteward --repo <this repo> ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut full = vec!["--repo", self.dir.path().to_str().expect("utf-8 path")];
        full.extend_from_slice(args);
        siteward_env(&full, env)
    }

    /// Runs `git -C <repo> ARGS`, panicking on failure.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    /// `git init` + commit everything, with a fixed identity.
    pub fn commit_all(&self, message: &str) {
        if !self.path().join(".git").exists() {
            self.git(&["init", "-q", "-b", "main"]);
            self.git(&["config", "user.name", "Test"]);
            self.git(&["config", "user.email", "test@example.com"]);
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }
}

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `git -C DIR ARGS`, asserting success; returns stdout.
#[track_caller]
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = command("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siteward"))
}

/// Runs the binary with `args`, with colour off and a clean environment for CI variables.
pub fn siteward(args: &[&str]) -> Run {
    siteward_env(args, &[])
}

/// Runs the binary with `args` and extra environment variables.
pub fn siteward_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = command(bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run siteward");
    Run::from(out)
}
