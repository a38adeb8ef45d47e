//! Git-side test support: run the real `siteward` in a directory (builder style), and build
//! temporary git state repositories, clones and bare remotes with the system `git`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The outcome of one run of a program.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `siteward` invocation being built.
pub struct Siteward {
    cmd: Command,
}

/// Starts building a run of the real `siteward` binary in `dir`.
pub fn siteward(dir: &Path) -> Siteward {
    let mut cmd = super::command(env!("CARGO_BIN_EXE_siteward"));
    cmd.current_dir(dir);
    Siteward { cmd }
}

impl Siteward {
    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Siteward
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Runs to completion.
    #[track_caller]
    pub fn run(mut self) -> Output {
        let out = self.cmd.output().expect("run siteward");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts exit code `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Output {
        let out = self.run();
        assert_eq!(out.code, code, "unexpected exit code; output: {out:#?}");
        out
    }
}

/// A temporary git repository (a state repo, a clone or a bare remote).
pub struct GitRepo {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl GitRepo {
    /// A new repository with branch `main` and a test identity.
    #[track_caller]
    pub fn new() -> GitRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state");
        std::fs::create_dir(&path).expect("create repo dir");
        let repo = GitRepo { _dir: dir, path };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "Test Runner"]);
        repo.git(&["config", "user.email", "runner@example.org"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    /// A new bare repository (a remote).
    #[track_caller]
    pub fn bare() -> GitRepo {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("remote.git");
        let out = super::command("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&path)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git init --bare failed");
        GitRepo { _dir: dir, path }
    }

    /// The repository's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a file (creating directories).
    #[track_caller]
    pub fn write(&self, rel: &str, text: &str) -> &GitRepo {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("create dirs");
        std::fs::write(p, text).expect("write file");
        self
    }

    /// Stages everything and commits; returns the commit id.
    #[track_caller]
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// Runs `git` in the repository, asserting success; returns stdout.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        super::git_in(&self.path, args)
    }
}
