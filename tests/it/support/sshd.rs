//! A real sshd on 127.0.0.1 with a private config, a fresh host key and a fresh client key
//! (COMPONENTS.md section 4). Logs in as root through a private `AuthorizedKeysFile`, so the
//! machine's own `~/.ssh` is never touched. Stopped with SIGKILL on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
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
    /// Starts sshd and waits until a command runs over it.
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorize");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let port = super::free_port();
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
             PermitRootLogin prohibit-password\nAllowUsers root\nUsePAM no\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start sshd");
        let mut sshd = Sshd {
            dir,
            port,
            child: Some(child),
        };
        sshd.wait_ready();
        sshd
    }

    /// The client's private key.
    pub fn identity(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A known_hosts file pinning this sshd's host key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// `ssh://root@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.port)
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

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "sshd exited at start ({status}); see {}/sshd.log",
                    self.dir.path().display()
                );
            }
            let ok = Command::new("ssh")
                .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-p"])
                .arg(self.port.to_string())
                .arg("-i")
                .arg(self.identity())
                .arg("-o")
                .arg(format!(
                    "UserKnownHostsFile={}",
                    self.known_hosts().display()
                ))
                .args(["-o", "StrictHostKeyChecking=yes", "root@127.0.0.1", "true"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sshd did not accept a login within 10 s; see {}/sshd.log",
            self.dir.path().display()
        );
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
