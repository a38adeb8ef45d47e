//! A real ACME CA on loopback: pebble (Debian package `pebble`) with its own config dir, TLS
//! listener certificate and ports, and `pebble-challtestsrv` as its DNS server (every name is
//! 127.0.0.1), so pebble's validator really fetches each http-01 token from the nginx whose
//! plain-HTTP port it is given. Both are killed (by their own PIDs) on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use siteward::pki::{Ca, Validity};

use super::ports::{self, PortTaken};
use super::wait;

/// A running pebble and its DNS server.
pub struct Pebble {
    pub dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT/dir`.
    pub directory: String,
    /// The root pebble made at start: it signs every certificate this pebble issues.
    pub root_pem: String,
    /// Trust root of pebble's own HTTPS listener (the site's `directory_ca`).
    pub listener_ca: PathBuf,
    children: Vec<Child>,
}

/// Finds a pebble binary.
fn bin(name: &str) -> PathBuf {
    let p = Path::new("/usr/bin").join(name);
    assert!(
        p.exists(),
        "{name} is not installed; run scripts/test, which installs the `pebble` package"
    );
    p
}

/// Whether a Go server's output says that its port was taken.
fn taken(log: &str) -> bool {
    ports::taken(log) || log.contains("address already in use")
}

impl Pebble {
    /// Starts pebble validating http-01 on `http_port` (and tls-alpn-01 on `tls_port`) of
    /// 127.0.0.1, with every ACME name resolving to 127.0.0.1; waits until both listen.
    pub fn start(http_port: u16, tls_port: u16) -> Pebble {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = Ca::new("pebble listener test root").expect("ca");
        let leaf = ca
            .leaf(&["localhost", "127.0.0.1"], Validity::days(30))
            .expect("leaf");
        let listener_ca = dir.path().join("listener-ca.pem");
        std::fs::write(&listener_ca, &ca.cert_pem).expect("write ca");
        std::fs::write(dir.path().join("cert.pem"), &leaf.cert_pem).expect("write cert");
        std::fs::write(dir.path().join("key.pem"), &leaf.key_pem).expect("write key");
        let mut pebble = Pebble {
            directory: String::new(),
            root_pem: String::new(),
            listener_ca,
            children: Vec::new(),
            dir,
        };
        let dns = ports::retry("pebble-challtestsrv", || pebble.start_dns());
        let mgmt = ports::retry("pebble", || pebble.start_pebble(http_port, tls_port, dns));
        pebble.root_pem = pebble.fetch_root(mgmt);
        pebble
    }

    /// Starts the DNS server (A records: 127.0.0.1 for every name); returns its port.
    fn start_dns(&mut self) -> Result<u16, PortTaken> {
        let (dns, mgmt) = (ports::port(), ports::port());
        let log = self.dir.path().join("challtestsrv.log");
        let child = Command::new(bin("pebble-challtestsrv"))
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{mgmt}")])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
            .spawn()
            .expect("start pebble-challtestsrv");
        self.wait_listening(child, &[dns, mgmt], &log)?;
        Ok(dns)
    }

    /// Starts pebble itself; returns its management port.
    fn start_pebble(&mut self, http_port: u16, tls_port: u16, dns: u16) -> Result<u16, PortTaken> {
        let (listen, mgmt) = (ports::port(), ports::port());
        let d = self.dir.path();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": d.join("cert.pem"),
            "privateKey": d.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = d.join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).expect("write config");
        let log = d.join("pebble.log");
        let child = Command::new(bin("pebble"))
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            // Deterministic: no random sleeps, no rejected nonces, no reused authorizations.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
            .spawn()
            .expect("start pebble");
        self.wait_listening(child, &[listen, mgmt], &log)?;
        self.directory = format!("https://127.0.0.1:{listen}/dir");
        Ok(mgmt)
    }

    /// Waits until `child` listens on every port; keeps it, or reports a taken port.
    fn wait_listening(
        &mut self,
        mut child: Child,
        ports_: &[u16],
        log: &Path,
    ) -> Result<(), PortTaken> {
        let pid = child.id();
        let exited = wait::poll(wait::STARTUP, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Some(status));
            }
            ports_
                .iter()
                .all(|p| ports::listens(pid, *p))
                .then_some(None)
        });
        let text = || {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            format!("{}{}", read(log), read(&log.with_extension("err")))
        };
        match exited {
            Some(None) => {
                self.children.push(child);
                Ok(())
            }
            Some(Some(_)) if taken(&text()) => Err(PortTaken(text())),
            Some(Some(status)) => {
                panic!("{} exited at start ({status}):\n{}", log.display(), text())
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not listen within {:?}:\n{}",
                    log.display(),
                    wait::STARTUP,
                    text()
                );
            }
        }
    }

    /// The issuing root, from the management endpoint (new on every pebble start).
    fn fetch_root(&self, mgmt: u16) -> String {
        let out = super::command("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.listener_ca)
            .arg(format!("https://127.0.0.1:{mgmt}/roots/0"))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "fetching pebble's root failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("PEM is text")
    }

    /// Stops pebble (the ACME server goes down; its DNS server stays).
    pub fn stop_acme(&mut self) {
        if let Some(mut c) = self.children.pop() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
