//! Git-side test support: run the real `siteward` in a directory (builder style), and build
//! temporary git state repositories, clones and bare remotes with the system `git`, and serve
//! them with a real `git daemon`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use super::{ports, wait};

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

/// A `git daemon` serving `base` on a free loopback port; stopped on drop.
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    /// Starts the daemon and waits until it listens; on another port when the one chosen was
    /// taken meanwhile (see [`super::ports`]).
    pub fn start(base: &Path) -> GitDaemon {
        // Run `git-daemon` itself, not through the `git` wrapper, so that killing the child
        // stops the daemon.
        let exec_path = super::command("git").arg("--exec-path").output().unwrap();
        let exec_path = String::from_utf8_lossy(&exec_path.stdout).trim().to_owned();
        let logs = tempfile::tempdir().expect("temp dir");
        ports::retry("git daemon", || {
            let port = ports::port();
            let log = logs.path().join(format!("daemon-{port}.log"));
            let mut child = super::command(Path::new(&exec_path).join("git-daemon"))
                .arg("--export-all")
                .arg("--enable=receive-pack")
                .arg("--reuseaddr")
                .arg(format!("--base-path={}", base.display()))
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(base)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("start git daemon");
            let pid = child.id();
            let exited = wait::poll(wait::STARTUP, || {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(Some(status));
                }
                ports::listens(pid, port).then_some(None)
            });
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            match exited {
                Some(None) => Ok(GitDaemon { child, port }),
                Some(Some(_)) if ports::taken(&text) => Err(ports::PortTaken(text)),
                Some(Some(status)) => panic!("git daemon exited at start ({status}):\n{text}"),
                None => {
                    // Not left running after the test.
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "git daemon did not listen within {:?}:\n{text}",
                        wait::STARTUP
                    );
                }
            }
        })
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn git_daemon_starts_again_when_its_port_is_taken_before_it_binds() {
    let remote = GitRepo::bare();
    ports::steal_next(1);
    let daemon = GitDaemon::start(remote.path().parent().expect("base"));
    assert_eq!(ports::stolen().len(), 1);
    assert!(!ports::stolen().contains(&daemon.port));
    super::git_in(
        remote.path(),
        &[
            "ls-remote",
            &format!("git://127.0.0.1:{}/remote.git", daemon.port),
        ],
    );
}
