//! A real WordPress on 127.0.0.1 (COMPONENTS.md section 3): a copy of Debian's
//! `/usr/share/wordpress` with a plain `wp-config.php`, a private MariaDB on a unix socket,
//! php-fpm running as `www-data` behind the private nginx of [`super::nginx`] over HTTPS, and
//! the site installed with WordPress's own `wp_install()` from the PHP CLI. Plugin fixture zips
//! (`<slug>-<version>.zip`) are built here. Everything stops on drop, by process id.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use siteward::pki::{Ca, Validity};

use super::nginx::{Nginx, Vhost};
use super::wait;

/// The site's host name (resolved with `connect:`).
pub const HOST: &str = "wp.test";

/// How the web server routes paths that are not files.
#[derive(Debug, Clone, Copy)]
pub enum Permalinks {
    /// Everything else to `index.php` (WordPress's pretty permalinks, `/wp-json/`).
    Pretty,
    /// No rewrite: only `index.php?…` reaches WordPress.
    Plain,
}

/// A running WordPress.
pub struct Wordpress {
    /// Database, php-fpm and package files.
    pub dir: tempfile::TempDir,
    pub nginx: Nginx,
    /// PEM of the CA that signed the site's certificate (for a site's `ca:`).
    pub ca_pem: String,
    db: Option<Child>,
    fpm: Option<Child>,
}

#[track_caller]
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Wordpress {
    /// Starts the database, nginx and php-fpm and installs WordPress with Akismet (inactive)
    /// and the twentytwentythree theme (active).
    pub fn start() -> Wordpress {
        Wordpress::start_with(Permalinks::Pretty)
    }

    /// As [`Wordpress::start`], with `permalinks` as the web server routes them.
    pub fn start_with(permalinks: Permalinks) -> Wordpress {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let ca = Ca::new("wordpress test root").expect("ca");
        let mut v = Vhost::new(HOST, ca.leaf(&[HOST], Validity::days(5)).expect("leaf"));
        v.files.clear();
        // Without the rewrite to `index.php`, `/wp-json/…` is nginx's own 404: a server without
        // pretty permalinks.
        let routing = match permalinks {
            Permalinks::Pretty => "try_files $uri $uri/ /index.php?$args;",
            Permalinks::Plain => "",
        };
        v.config = format!(
            "  index index.php;\n  location / {{ {routing} }}\n  \
             location ~ \\.php$ {{ include /etc/nginx/fastcgi_params; \
             fastcgi_param HTTP_HOST $host:$server_port; \
             fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; \
             fastcgi_pass unix:{}/fpm.sock; }}\n",
            d.display()
        );
        let nginx = Nginx::start(&[v]);
        let mut wp = Wordpress {
            dir,
            nginx,
            ca_pem: ca.cert_pem.clone(),
            db: None,
            fpm: None,
        };
        wp.start_db();
        wp.install();
        wp.start_fpm();
        wp
    }

    fn start_db(&mut self) {
        let d = self.dir.path();
        run(Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .arg(format!("--datadir={}/db", d.display())));
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}/db", d.display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}/my.pid", d.display()))
            .arg(format!("--log-error={}/my.err", d.display()))
            .args([
                "--skip-networking",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.db = Some(child);
        wait::until("mariadb to answer", wait::STARTUP, || {
            Command::new("mariadb-admin")
                .args(["--no-defaults", "-uroot", "ping"])
                .arg(format!("--socket={}", self.socket().display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        run(Command::new("mariadb")
            .args(["--no-defaults", "-uroot"])
            .arg(format!("--socket={}", self.socket().display()))
            .args([
                "-e",
                "CREATE DATABASE wp; CREATE USER 'wp'@'localhost' IDENTIFIED BY 'wppass'; \
                 GRANT ALL ON wp.* TO 'wp'@'localhost';",
            ]));
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("my.sock")
    }

    /// The WordPress root (nginx's docroot for the vhost).
    pub fn root(&self) -> PathBuf {
        self.nginx.path().join("www").join(HOST)
    }

    /// `https://wp.test:PORT`, the site's own URL as WordPress knows it.
    pub fn url(&self) -> String {
        format!("https://{HOST}:{}", self.nginx.https_port)
    }

    fn install(&self) {
        let root = self.root();
        let _ = std::fs::remove_dir_all(&root);
        run(Command::new("cp")
            .args(["-a", "/usr/share/wordpress"])
            .arg(&root));
        for f in ["wp-config.php", ".htaccess"] {
            let _ = std::fs::remove_file(root.join(f));
        }
        let salts: String = [
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        ]
        .iter()
        .map(|k| format!("define('{k}', 'test-{k}');\n"))
        .collect();
        let config = format!(
            "<?php\ndefine('DB_NAME', 'wp');\ndefine('DB_USER', 'wp');\ndefine('DB_PASSWORD', 'wppass');\n\
             define('DB_HOST', 'localhost:{sock}');\ndefine('DB_CHARSET', 'utf8mb4');\n{salts}\
             define('WP_ENVIRONMENT_TYPE', 'local');\ndefine('FS_METHOD', 'direct');\n\
             define('AUTOMATIC_UPDATER_DISABLED', true);\ndefine('WP_HTTP_BLOCK_EXTERNAL', true);\n\
             define('DISABLE_WP_CRON', true);\n$table_prefix = 'wp_';\n\
             if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');\nrequire_once ABSPATH . 'wp-settings.php';\n",
            sock = self.socket().display()
        );
        std::fs::write(root.join("wp-config.php"), config).expect("wp-config");
        let script = format!(
            "<?php define('WP_INSTALLING', true); $_SERVER['HTTP_HOST'] = '{HOST}';\n\
             require '{root}/wp-load.php'; function wp_new_blog_notification() {{}}\n\
             require_once ABSPATH . 'wp-admin/includes/upgrade.php';\n\
             wp_install('Test Site', 'admin', 'admin@example.test', true, '', 'admin-pass-123');\n\
             update_option('siteurl', '{url}'); update_option('home', '{url}');\n\
             update_option('permalink_structure', '/%postname%/');\n",
            root = root.display(),
            url = self.url()
        );
        let path = self.dir.path().join("install.php");
        std::fs::write(&path, script).expect("install script");
        run(Command::new("php").arg(&path));
        run(Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(&root));
    }

    fn start_fpm(&mut self) {
        let d = self.dir.path().display();
        let conf = format!(
            "[global]\npid = {d}/fpm.pid\nerror_log = {d}/fpm.log\ndaemonize = no\n\
             [wp]\nuser = www-data\ngroup = www-data\nlisten = {d}/fpm.sock\nlisten.mode = 0666\n\
             pm = static\npm.max_children = 4\ncatch_workers_output = yes\n"
        );
        std::fs::write(self.dir.path().join("fpm.conf"), conf).expect("fpm conf");
        let child = Command::new("php-fpm8.2")
            .args(["-F", "-y"])
            .arg(self.dir.path().join("fpm.conf"))
            .args(["-c", "/etc/php/8.2/fpm/php.ini"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start php-fpm");
        self.fpm = Some(child);
        let sock = self.dir.path().join("fpm.sock");
        wait::until("php-fpm to listen", wait::STARTUP, || sock.exists());
        wait::until("WordPress to answer", wait::STARTUP, || {
            self.status("/") == Some(200)
        });
    }

    /// The HTTP status of `GET path` over HTTPS (trusting the test CA), `None` without an answer.
    pub fn status(&self, path: &str) -> Option<u16> {
        let ca = self.dir.path().join("ca.pem");
        std::fs::write(&ca, &self.ca_pem).expect("ca file");
        let out = super::command("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&ca)
            .arg("--resolve")
            .arg(format!("{HOST}:{}:127.0.0.1", self.nginx.https_port))
            .arg(format!("{}{path}", self.url()))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Runs `code` (PHP, after `wp-load.php` and the admin plugin/theme functions) as
    /// `www-data`, independently of siteward, and parses what it echoes as JSON.
    #[track_caller]
    pub fn php_json(&self, code: &str) -> serde_json::Value {
        let script = format!(
            "<?php $_SERVER['HTTP_HOST'] = '{HOST}'; ob_start(); require '{root}/wp-load.php';\n\
             require_once ABSPATH . 'wp-admin/includes/plugin.php'; ob_end_clean();\n{code}\n",
            root = self.root().display()
        );
        let path = self.dir.path().join("query.php");
        std::fs::write(&path, script).expect("query script");
        let out = run(Command::new("runuser")
            .args(["-u", "www-data", "--", "php"])
            .arg(&path));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }

    /// Plugin file → version, as WordPress's own `get_plugins()` reports them.
    pub fn plugins(&self) -> serde_json::Value {
        self.php_json(
            "$o = array(); foreach (get_plugins() as $f => $d) { $o[$f] = $d['Version']; } \
             echo json_encode((object) $o);",
        )
    }

    /// The `active_plugins` option, straight from the database through WordPress.
    pub fn active_plugins(&self) -> serde_json::Value {
        self.php_json("echo json_encode(array_values((array) get_option('active_plugins')));")
    }

    /// Whether WordPress's `.maintenance` file exists.
    pub fn in_maintenance(&self) -> bool {
        self.root().join(".maintenance").exists()
    }

    /// Builds `DIR/<slug>-<version>.zip` holding `<slug>/<slug>.php` with a plugin header and
    /// `body` (PHP run when the plugin loads); returns the zip's sha256 (hex).
    pub fn plugin_zip(dir: &Path, slug: &str, version: &str, body: &str) -> String {
        let work = tempfile::tempdir().expect("temp dir");
        let plugin = work.path().join(slug);
        std::fs::create_dir_all(&plugin).expect("plugin dir");
        std::fs::write(
            plugin.join(format!("{slug}.php")),
            format!("<?php\n/*\n * Plugin Name: {slug}\n * Version: {version}\n */\n{body}\n"),
        )
        .expect("plugin file");
        std::fs::create_dir_all(dir).expect("packages dir");
        let zip = dir.join(format!("{slug}-{version}.zip"));
        let _ = std::fs::remove_file(&zip);
        run(Command::new("zip")
            .current_dir(work.path())
            .args(["-q", "-r", "-X"])
            .arg(&zip)
            .arg(slug));
        sha256_file(&zip)
    }
}

/// Builds `DIR/wordpress-<version>.zip` in wordpress.org's layout (`wordpress/` at the top)
/// from Debian's tree, with `$wp_version` set to `version` followed by `code` in
/// `wp-includes/version.php` (read on every boot), and a `wp-content` holding only
/// [`CORE_ZIP_MARKER`]; returns the zip's sha256 (hex).
pub fn core_zip(dir: &Path, version: &str, code: &str) -> String {
    let work = tempfile::tempdir().expect("temp dir");
    let tree = work.path().join("wordpress");
    run(Command::new("cp")
        .args(["-a", "/usr/share/wordpress"])
        .arg(&tree));
    for f in ["wp-config.php", ".htaccess"] {
        let _ = std::fs::remove_file(tree.join(f));
    }
    std::fs::remove_dir_all(tree.join("wp-content")).expect("wp-content");
    std::fs::create_dir_all(tree.join("wp-content")).expect("wp-content");
    std::fs::write(
        tree.join("wp-content").join(CORE_ZIP_MARKER),
        "not for the site\n",
    )
    .expect("marker");
    let file = tree.join("wp-includes/version.php");
    let text = std::fs::read_to_string(&file).expect("version.php");
    let text = text.replacen(
        "$wp_version = '6.1.9';",
        &format!("$wp_version = '{version}';\n{code}"),
        1,
    );
    std::fs::write(&file, text).expect("version.php");
    std::fs::create_dir_all(dir).expect("packages dir");
    let zip = dir.join(format!("wordpress-{version}.zip"));
    let _ = std::fs::remove_file(&zip);
    run(Command::new("zip")
        .current_dir(work.path())
        .args(["-q", "-r", "-X", "-1"])
        .arg(&zip)
        .arg("wordpress"));
    sha256_file(&zip)
}

/// A file only the core zips of [`core_zip`] have in their `wp-content`.
pub const CORE_ZIP_MARKER: &str = "siteward-core-zip-marker.txt";

/// The sha256 (hex) of a file, computed by coreutils.
pub fn sha256_file(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().expect("digest").to_owned()
}

impl Drop for Wordpress {
    fn drop(&mut self) {
        for child in [self.fpm.take(), self.db.take()].into_iter().flatten() {
            let mut child = child;
            // SIGTERM: php-fpm stops its workers, mariadbd shuts down cleanly.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            if wait::poll(wait::STARTUP, || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
