//! A real Apache 2.4 on 127.0.0.1 with its own ServerRoot and config (`apache2 -d DIR -f
//! CONF`), free ports (http and https with mod_ssl) and one virtual host per site with its own
//! certificate. The parent runs in the foreground (`-DFOREGROUND`) as our child; stopped with
//! `apache2 -k stop` on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use siteward::pki::Issued;

use super::ports::{self, PortTaken};
use super::wait;

/// The modules the private instance loads.
const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("mime_module", "mod_mime.so"),
    ("dir_module", "mod_dir.so"),
    ("headers_module", "mod_headers.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
];

/// One virtual host, served on both ports.
pub struct Vhost {
    pub name: String,
    pub cert: Issued,
    /// `(path relative to the docroot, content)`.
    pub files: Vec<(String, String)>,
    /// Raw Apache lines inside both `<VirtualHost>` blocks (e.g. `IncludeOptional ...`).
    pub config: String,
    /// The `AllowOverride` of the docroot (`.htaccess` handling).
    pub allow_override: String,
}

impl Vhost {
    pub fn new(name: &str, cert: Issued) -> Vhost {
        Vhost {
            name: name.to_owned(),
            cert,
            files: vec![("index.html".into(), format!("<h1>{name}</h1>\n"))],
            config: String::new(),
            allow_override: "None".to_owned(),
        }
    }
}

/// A running Apache.
pub struct Apache {
    pub dir: tempfile::TempDir,
    pub http_port: u16,
    pub https_port: u16,
    /// Modules of [`MODULES`] not loaded.
    without: &'static [&'static str],
    child: Option<Child>,
}

/// The Apache binary (Debian installs it as /usr/sbin/apache2).
pub fn apache_bin() -> PathBuf {
    for p in ["/usr/sbin/apache2", "/usr/sbin/httpd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("Apache is not installed; run scripts/test, which installs apache2")
}

impl Apache {
    /// Starts Apache serving `vhosts` on fresh ports; waits until its parent listens on both.
    /// Started again on other ports when one was taken meanwhile (see [`super::ports`]).
    pub fn start(vhosts: &[Vhost]) -> Apache {
        Apache::start_without(vhosts, &[])
    }

    /// As [`Apache::start`], without loading the modules named in `without` (such as
    /// `rewrite_module`, which Debian leaves disabled by default).
    pub fn start_without(vhosts: &[Vhost], without: &'static [&'static str]) -> Apache {
        let dir = tempfile::tempdir().expect("temp dir");
        // Children run as `nobody`: the server root must be world-readable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        for sub in ["logs", "run", "sites", "certs", "www"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        let default =
            siteward::pki::self_signed(&["default.invalid"], siteward::pki::Validity::days(30))
                .expect("cert");
        let mut apache = Apache {
            http_port: 0,
            https_port: 0,
            without,
            child: None,
            dir,
        };
        apache.write_cert("_default", &default);
        ports::retry("apache", || {
            apache.http_port = ports::port();
            apache.https_port = ports::port();
            // Vhost files name the ports: written again for each attempt.
            for v in vhosts {
                apache.add_vhost(v);
            }
            apache.write_main_conf();
            apache.spawn()
        });
        apache
    }

    /// Runs the parent in the foreground and waits until it listens on both ports; a start
    /// that failed because a port was taken is [`PortTaken`].
    fn spawn(&mut self) -> Result<(), PortTaken> {
        let log = self.path().join("logs/error.log");
        let stderr = self.path().join("logs/stderr.log");
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(apache_bin())
            .args(["-d", &self.root(), "-f", &self.conf(), "-DFOREGROUND"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start apache");
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
            Some(Some(status)) => panic!("apache exited at start ({status}):\n{}", text()),
            None => {
                // Not left running after the test.
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "apache did not listen within {:?}:\n{}",
                    wait::STARTUP,
                    text()
                );
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `-d` ServerRoot argument.
    pub fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// The main config file path.
    pub fn conf(&self) -> String {
        format!("{}/httpd.conf", self.dir.path().display())
    }

    /// `apache2 -d ROOT -f CONF EXTRA` as a command string, for `test_command` and
    /// `reload_command`.
    pub fn command(&self, extra: &str) -> String {
        format!(
            "{} -d {} -f {} {extra}",
            apache_bin().display(),
            self.root(),
            self.conf()
        )
    }

    /// The document root of a virtual host.
    pub fn docroot(&self, name: &str) -> PathBuf {
        self.path().join("www").join(name)
    }

    /// `ADDR:PORT` of the HTTPS listener, for a site's `connect:`.
    pub fn https_addr(&self) -> String {
        format!("127.0.0.1:{}", self.https_port)
    }

    /// `ADDR:PORT` of the plain-HTTP listener, for a site's `connect_http:`.
    pub fn http_addr(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    fn write_cert(&self, name: &str, cert: &Issued) {
        std::fs::write(
            self.path().join(format!("certs/{name}.crt")),
            &cert.cert_pem,
        )
        .expect("write cert");
        std::fs::write(self.path().join(format!("certs/{name}.key")), &cert.key_pem)
            .expect("write key");
    }

    /// Writes a vhost's certificate, files and config (reload afterwards when running).
    pub fn add_vhost(&self, v: &Vhost) {
        let d = self.path().display();
        let name = &v.name;
        self.write_cert(name, &v.cert);
        let root = self.docroot(name);
        for (rel, content) in &v.files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, content).expect("write file");
        }
        let docroot = format!(
            "  DocumentRoot {d}/www/{name}\n  <Directory {d}/www/{name}>\n    AllowOverride {}\n    \
             Require all granted\n  </Directory>\n",
            v.allow_override
        );
        let conf = format!(
            "<VirtualHost 127.0.0.1:{http}>\n  ServerName {name}\n{docroot}{extra}\n</VirtualHost>\n\
             <VirtualHost 127.0.0.1:{https}>\n  ServerName {name}\n  SSLEngine on\n  \
             SSLCertificateFile {d}/certs/{name}.crt\n  SSLCertificateKeyFile {d}/certs/{name}.key\n\
             {docroot}{extra}\n</VirtualHost>\n",
            http = self.http_port,
            https = self.https_port,
            extra = v.config,
        );
        std::fs::write(self.path().join(format!("sites/{name}.conf")), conf).expect("write vhost");
    }

    fn write_main_conf(&self) {
        let d = self.path().display();
        let mut conf = format!(
            "ServerRoot {d}\nPidFile {d}/run/httpd.pid\nDefaultRuntimeDir {d}/run\n\
             ErrorLog {d}/logs/error.log\nLogLevel warn\n"
        );
        for (module, file) in MODULES.iter().filter(|(m, _)| !self.without.contains(m)) {
            conf.push_str(&format!(
                "LoadModule {module} /usr/lib/apache2/modules/{file}\n"
            ));
        }
        conf.push_str(&format!(
            "TypesConfig /etc/mime.types\nUser nobody\nGroup nogroup\nServerName localhost\n\
             Listen 127.0.0.1:{http}\nListen 127.0.0.1:{https} https\n\
             SSLSessionCache shmcb:{d}/run/ssl_scache(512000)\nDirectoryIndex index.html\n\
             <VirtualHost 127.0.0.1:{http}>\n  ServerName default.invalid\n</VirtualHost>\n\
             <VirtualHost 127.0.0.1:{https}>\n  ServerName default.invalid\n  SSLEngine on\n  \
             SSLCertificateFile {d}/certs/_default.crt\n  SSLCertificateKeyFile {d}/certs/_default.key\n  \
             </VirtualHost>\n\
             IncludeOptional {d}/sites/*.conf\n",
            http = self.http_port,
            https = self.https_port,
        ));
        std::fs::write(self.conf(), conf).expect("write httpd.conf");
    }

    /// Reloads the config (`-k graceful`), panicking when Apache refuses it, and waits until
    /// the error log says the new generation runs.
    #[track_caller]
    pub fn reload(&self) {
        let log = self.path().join("logs/error.log");
        let logged = std::fs::metadata(&log).map_or(0, |m| m.len());
        let out = Command::new(apache_bin())
            .args(["-d", &self.root(), "-f", &self.conf(), "-k", "graceful"])
            .output()
            .expect("apache2 -k graceful");
        assert!(
            out.status.success(),
            "reload failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait::until("apache to run the reloaded config", wait::STARTUP, || {
            let new = std::fs::read(&log).unwrap_or_default();
            let new = String::from_utf8_lossy(new.get(logged as usize..).unwrap_or_default());
            new.contains("resuming normal operations")
        });
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new(apache_bin())
            .args(["-d", &self.root(), "-f", &self.conf(), "-k", "stop"])
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
fn apache_starts_again_when_a_chosen_port_is_taken_before_it_binds() {
    ports::steal_next(1);
    let apache = Apache::start(&[]);
    let stolen = ports::stolen();
    assert_eq!(stolen.len(), 1);
    assert!(!stolen.contains(&apache.http_port) && !stolen.contains(&apache.https_port));
    let pid = apache.child.as_ref().expect("running").id();
    assert!(ports::listens(pid, apache.http_port) && ports::listens(pid, apache.https_port));
}
