//! A real sshd on 127.0.0.1 with a private config, a fresh host key and a fresh client key
//! (COMPONENTS.md section 4). Logs in as root through a private `AuthorizedKeysFile`, so the
//! machine's own `~/.ssh` is never touched. Stopped with SIGKILL on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::ports::{self, PortTaken};
use super::wait;

/// A running sshd.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Logins get SFTP only (`ForceCommand internal-sftp`), as on shared hosting.
    sftp_only: bool,
    child: Option<Child>,
}

#[track_caller]
fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("run ssh-keygen")
        .success();
    assert!(ok, "ssh-keygen failed");
}

impl Sshd {
    /// Starts sshd on a fresh port and waits until a command runs over it. Started again on
    /// another port when the port was taken meanwhile (see [`super::ports`]).
    pub fn start() -> Sshd {
        Sshd::start_with(false)
    }

    /// As [`Sshd::start`], for an account that may only transfer files: every login is
    /// `internal-sftp`, no shell and no command runs.
    pub fn start_sftp_only() -> Sshd {
        Sshd::start_with(true)
    }

    fn start_with(sftp_only: bool) -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorize");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let mut sshd = Sshd {
            dir,
            port: 0,
            sftp_only,
            child: None,
        };
        ports::retry("sshd", || {
            sshd.port = ports::port();
            sshd.spawn()
        });
        sshd
    }

    /// Writes the config and known_hosts for `self.port`, runs sshd in the foreground and waits
    /// until a login works; a start that failed because the port was taken is [`PortTaken`].
    fn spawn(&mut self) -> Result<(), PortTaken> {
        let d = self.dir.path();
        let port = self.port;
        let host_pub = std::fs::read_to_string(d.join("host_ed25519.pub")).expect("host key");
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_pub}"),
        )
        .expect("known_hosts");
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nAllowUsers root\nUsePAM no\nLogLevel VERBOSE\n\
             Subsystem sftp internal-sftp\n{force}",
            d = d.display(),
            force = if self.sftp_only {
                "ForceCommand internal-sftp\n"
            } else {
                ""
            },
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let log = d.join("sshd.log");
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        let pid = child.id();
        // Listening first (cheap), then a real login with the pinned host key, which a stranger
        // on the port could not pass.
        let exited = wait::poll(wait::STARTUP, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Some(status));
            }
            (ports::listens(pid, port) && self.login_works()).then_some(None)
        });
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match exited {
            Some(None) => {
                self.child = Some(child);
                Ok(())
            }
            Some(Some(_)) if ports::taken(&text) => Err(PortTaken(text)),
            Some(Some(status)) => panic!("sshd exited at start ({status}):\n{text}"),
            None => {
                // Not left running after the test.
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sshd did not accept a login within {:?}:\n{text}",
                    wait::STARTUP
                );
            }
        }
    }

    /// Whether `ssh ... true` (for an SFTP-only server: an `sftp` batch with `pwd`) succeeds
    /// with the client key and the pinned host key, reading no user or system ssh config.
    fn login_works(&self) -> bool {
        let (program, port_flag) = if self.sftp_only {
            ("sftp", "-P")
        } else {
            ("ssh", "-p")
        };
        let mut cmd = Command::new(program);
        if self.sftp_only {
            cmd.args(["-b", "-"]);
        }
        cmd.args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
        ])
        .arg(port_flag)
        .arg(self.port.to_string())
        .arg("-i")
        .arg(self.identity())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            self.known_hosts().display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "root@127.0.0.1"]);
        if !self.sftp_only {
            cmd.arg("true");
        }
        let Ok(mut child) = cmd
            .env("HOME", super::home())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(if self.sftp_only { b"pwd\n" } else { b"" });
        }
        child.wait().is_ok_and(|s| s.success())
    }

    /// The client's private key.
    pub fn identity(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A known_hosts file pinning this sshd's host key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// `ssh://root@127.0.0.1:PORT` (`sftp://` for an SFTP-only server).
    pub fn url(&self) -> String {
        let scheme = if self.sftp_only { "sftp" } else { "ssh" };
        format!("{scheme}://root@127.0.0.1:{}", self.port)
    }

    /// The transport keys of a `manage.*` section (YAML, indented for `manage.server`).
    pub fn transport_yaml(&self) -> String {
        format!(
            "    host: {}\n    identity: {}\n    known_hosts: {}\n",
            self.url(),
            self.identity().display(),
            self.known_hosts().display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn sshd_starts_again_when_its_port_is_taken_before_it_binds() {
    ports::steal_next(1);
    let sshd = Sshd::start();
    assert_eq!(ports::stolen().len(), 1);
    assert!(!ports::stolen().contains(&sshd.port));
    assert!(sshd.login_works());
}
