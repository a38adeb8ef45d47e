//! A real nginx on 127.0.0.1 with a private prefix, free ports and per-vhost certificates.
//! Started as a foreground master (`daemon off`), stopped with `nginx -s stop` on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use siteward::pki::Issued;

use super::ports::{self, PortTaken};
use super::wait;

/// One virtual host: name, certificate, files to serve and extra `server {}` lines.
pub struct Vhost {
    pub name: String,
    pub cert: Issued,
    /// Extra PEM certificates appended after the leaf (intermediates).
    pub chain: Vec<String>,
    /// `(path relative to the docroot, content)`.
    pub files: Vec<(String, String)>,
    /// Raw nginx lines inside the `server {}` block (e.g. `add_header ...;`).
    pub config: String,
}

impl Vhost {
    pub fn new(name: &str, cert: Issued) -> Vhost {
        Vhost {
            name: name.to_owned(),
            cert,
            chain: Vec::new(),
            files: vec![("index.html".into(), format!("<h1>{name}</h1>\n"))],
            config: String::new(),
        }
    }
}

/// A running nginx.
pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub http_port: u16,
    pub https_port: u16,
    child: Option<Child>,
}

/// Finds the nginx binary (Debian installs it in /usr/sbin).
pub fn nginx_bin() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("nginx is not installed; run scripts/test, which installs it")
}

impl Nginx {
    /// Starts nginx serving `vhosts` on fresh ports; waits until it listens on both. Started
    /// again on other ports when one was taken meanwhile (see [`super::ports`]).
    pub fn start(vhosts: &[Vhost]) -> Nginx {
        let dir = tempfile::tempdir().expect("temp dir");
        // Workers run as `nobody`: the prefix must be world-readable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        for sub in ["logs", "tmp", "sites", "certs", "www", "snippets"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let default =
            siteward::pki::self_signed(&["default.invalid"], siteward::pki::Validity::days(30))
                .expect("cert");
        let mut nginx = Nginx {
            http_port: 0,
            https_port: 0,
            child: None,
            dir,
        };
        nginx.write_cert("_default", &default, &[]);
        ports::retry("nginx", || {
            nginx.http_port = ports::port();
            nginx.https_port = ports::port();
            // Vhost files name the ports: written again for each attempt.
            for v in vhosts {
                nginx.add_vhost(v);
            }
            nginx.write_main_conf();
            nginx.spawn()
        });
        nginx
    }

    /// Runs the master in the foreground and waits until it listens on both ports; a start
    /// that failed because a port was taken is [`PortTaken`].
    fn spawn(&mut self) -> Result<(), PortTaken> {
        let log = self.path().join("logs/error.log");
        let stderr = self.path().join("logs/stderr.log");
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(nginx_bin())
            .args([
                "-p",
                &self.prefix(),
                "-c",
                &self.conf(),
                "-g",
                "daemon off;",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start nginx");
        let pid = child.id();
        let (http, https) = (self.http_port, self.https_port);
        let exited = wait::poll(wait::STARTUP, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Some(status));
            }
            (ports::listens(pid, http) && ports::listens(pid, https)).then_some(None)
        });
        let text = || {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            format!("{}{}", read(&log), read(&stderr))
        };
        match exited {
            Some(None) => {
                self.child = Some(child);
                Ok(())
            }
            Some(Some(_)) if ports::taken(&text()) => Err(PortTaken(text())),
            Some(Some(status)) => panic!("nginx exited at start ({status}):\n{}", text()),
            None => {
                // Not left running after the test.
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "nginx did not listen within {:?}:\n{}",
                    wait::STARTUP,
                    text()
                );
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `-p` prefix argument (with trailing slash).
    pub fn prefix(&self) -> String {
        format!("{}/", self.dir.path().display())
    }

    /// The main config file path.
    pub fn conf(&self) -> String {
        format!("{}/nginx.conf", self.dir.path().display())
    }

    /// `nginx -p PREFIX -c CONF` as a command string, for `test_command`/`reload_command`.
    pub fn command(&self, extra: &str) -> String {
        format!(
            "{} -p {} -c {} {extra}",
            nginx_bin().display(),
            self.prefix(),
            self.conf()
        )
    }

    /// `ADDR:PORT` of the HTTPS listener, for a site's `connect:`.
    pub fn https_addr(&self) -> String {
        format!("127.0.0.1:{}", self.https_port)
    }

    /// `ADDR:PORT` of the plain-HTTP listener, for a site's `connect_http:`.
    pub fn http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    fn write_cert(&self, name: &str, cert: &Issued, chain: &[String]) {
        let mut full = cert.cert_pem.clone();
        for c in chain {
            full.push_str(c);
        }
        std::fs::write(self.path().join(format!("certs/{name}.crt")), full).expect("write cert");
        std::fs::write(self.path().join(format!("certs/{name}.key")), &cert.key_pem)
            .expect("write key");
    }

    /// Writes a vhost's files and config (call [`Nginx::reload`] afterwards when running).
    pub fn add_vhost(&self, v: &Vhost) {
        self.write_cert(&v.name, &v.cert, &v.chain);
        let root = self.path().join("www").join(&v.name);
        for (rel, content) in &v.files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content).expect("write file");
        }
        let d = self.path().display();
        let conf = format!(
            "server {{\n  listen 127.0.0.1:{http}; listen 127.0.0.1:{https} ssl http2;\n  server_name {name};\n  \
             ssl_certificate {d}/certs/{name}.crt; ssl_certificate_key {d}/certs/{name}.key;\n  \
             root {d}/www/{name};\n{extra}\n}}\n",
            http = self.http_port,
            https = self.https_port,
            name = v.name,
            extra = v.config,
        );
        std::fs::write(self.path().join(format!("sites/{}.conf", v.name)), conf)
            .expect("write vhost");
    }

    fn write_main_conf(&self) {
        let d = self.path().display();
        let conf = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {d}/logs/access.log;\n  \
             client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy; fastcgi_temp_path {d}/tmp/fastcgi;\n  \
             uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;\n  server_names_hash_bucket_size 128;\n  \
             server {{ listen 127.0.0.1:{http} default_server; listen 127.0.0.1:{https} ssl http2 default_server;\n    \
             server_name _; ssl_certificate {d}/certs/_default.crt; ssl_certificate_key {d}/certs/_default.key; return 404; }}\n  \
             include {d}/sites/*.conf;\n}}\n",
            http = self.http_port,
            https = self.https_port,
        );
        std::fs::write(self.conf(), conf).expect("write nginx.conf");
    }

    /// Reloads the config and waits until it is in effect: every worker that ran before has
    /// exited and a new one runs. Panics when nginx refuses the new config.
    #[track_caller]
    pub fn reload(&self) {
        let before = self.workers();
        let log = self.path().join("logs/error.log");
        let logged = std::fs::metadata(&log).map_or(0, |m| m.len());
        let out = Command::new(nginx_bin())
            .args(["-p", &self.prefix(), "-c", &self.conf(), "-s", "reload"])
            .output()
            .expect("nginx -s reload");
        assert!(
            out.status.success(),
            "reload failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait::until("nginx to run the reloaded config", wait::STARTUP, || {
            let new = std::fs::read(&log).unwrap_or_default();
            let new = String::from_utf8_lossy(new.get(logged as usize..).unwrap_or_default());
            assert!(!new.contains("[emerg]"), "nginx refused the reload:\n{new}");
            let now = self.workers();
            !now.is_empty()
                && now
                    .iter()
                    .all(|(pid, _)| !before.iter().any(|(b, _)| b == pid))
        });
    }

    /// Waits until nginx serves with one config only: exactly one worker, not shutting down
    /// (after a reload, an old worker may still accept a connection for a moment).
    #[track_caller]
    pub fn wait_settled(&self) {
        wait::until("nginx to finish a reload", wait::STARTUP, || {
            let workers = self.workers();
            workers.len() == 1 && !workers[0].1.contains("shutting down")
        });
    }

    /// The master's children (the workers) with their process titles.
    fn workers(&self) -> Vec<(u32, String)> {
        let Some(master) = self.child.as_ref().map(Child::id) else {
            return Vec::new();
        };
        children(master)
            .into_iter()
            .map(|pid| (pid, cmdline(pid)))
            .collect()
    }
}

/// The process ids whose parent is `pid` (from `/proc/*/stat`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                // `pid (comm) state ppid ...`; comm may contain spaces and parentheses.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// A process's command line, arguments joined by spaces (nginx shows a worker's state there).
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(nginx_bin())
            .args(["-p", &self.prefix(), "-c", &self.conf(), "-s", "stop"])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + wait::STARTUP;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn nginx_starts_again_when_a_chosen_port_is_taken_before_it_binds() {
    ports::steal_next(1);
    let nginx = Nginx::start(&[]);
    let stolen = ports::stolen();
    assert_eq!(stolen.len(), 1);
    assert!(!stolen.contains(&nginx.http_port) && !stolen.contains(&nginx.https_port));
    let pid = nginx.child.as_ref().expect("running").id();
    assert!(ports::listens(pid, nginx.http_port) && ports::listens(pid, nginx.https_port));
}
