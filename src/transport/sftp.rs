//! The SFTP transport (`host: sftp://user@host[:port]`): files only, through the system `sftp`
//! in batch mode, for accounts without a shell (shared hosting that gives SFTP access to the
//! document root). It needs nothing on the host beyond the SFTP subsystem, so it can read and
//! write a `.htaccess` but run no command: a provider with a test or reload command needs
//! `ssh://`.
//!
//! # Guarantees
//! - sftp gets the same connection options as ssh ([`super::Ssh`]: batch mode, connect
//!   timeout, identity, pinned known_hosts, the allowed `ssh_options`); the host comes after
//!   `--`.
//! - Batch lines are built from checked words: every ASCII character but letters, digits and
//!   `/._-` is escaped with `\` (so spaces, quotes, `;`, `$` and glob characters are literal),
//!   and a path with a control character (which could start a new batch line, or a local `!`
//!   command) is refused.
//! - Writes are atomic: the data goes to a dot-file beside the target, gets the target's mode
//!   (0644 for a new file) and is renamed over it (OpenSSH's `posix-rename`).

use std::path::Path;

use super::process;
use super::{Output, Timeouts, TransportError, temp_beside};
use crate::spec::SshTarget;

/// Reads and writes files on a host through `sftp`.
#[derive(Debug, Clone)]
pub struct Sftp {
    place: String,
    /// `sftp` and its options, up to and including `--` and the destination.
    argv: Vec<String>,
    timeouts: Timeouts,
}

impl Sftp {
    /// Builds the `sftp` invocation for `target` with the options of `spec`.
    pub fn new(
        target: &SshTarget,
        spec: &crate::spec::Transport,
        repo: &Path,
        timeouts: Timeouts,
    ) -> Result<Sftp, TransportError> {
        let place = target.to_string();
        // The ssh command line of the same target: its options, with ssh's `-p`/`-l` spelled
        // the way sftp takes them.
        let ssh = super::Ssh::new(target, spec, repo, timeouts)?;
        let ssh_argv = ssh.command_line("");
        let mut argv = vec!["sftp".to_owned(), "-b".to_owned(), "-".to_owned()];
        let mut words = ssh_argv.iter().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "--" => break,
                "-p" => argv.extend(["-P".to_owned(), words.next().cloned().unwrap_or_default()]),
                "-l" => argv.extend([
                    "-o".to_owned(),
                    format!("User={}", words.next().cloned().unwrap_or_default()),
                ]),
                _ => argv.push(word.clone()),
            }
        }
        argv.extend(["--".to_owned(), target.host.clone()]);
        Ok(Sftp {
            place,
            argv,
            timeouts,
        })
    }

    /// `sftp://user@host:port`.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Runs one batch; `sftp` stops at the first failing line and exits non-zero.
    async fn batch(&self, lines: &[String]) -> Result<Output, TransportError> {
        let script = lines.join("\n") + "\n";
        let out = process::run(
            &self.place,
            &self.argv,
            Some(script.as_bytes()),
            self.timeouts.command,
        )
        .await?;
        if out.code == Some(255) {
            return Err(TransportError::Ssh {
                place: self.place.clone(),
                detail: out.message(),
            });
        }
        Ok(out)
    }

    /// A path as one batch word.
    fn word(&self, path: &Path) -> Result<String, TransportError> {
        let text = path.to_str().ok_or_else(|| TransportError::NotUtf8 {
            place: self.place.clone(),
            path: path.to_path_buf(),
        })?;
        escape(text).ok_or_else(|| TransportError::Unquotable {
            place: self.place.clone(),
            what: format!("path `{}` (a control character)", path.display()),
        })
    }

    fn failed(&self, op: &'static str, path: &Path, out: &Output) -> TransportError {
        TransportError::Remote {
            place: self.place.clone(),
            op,
            path: path.to_path_buf(),
            detail: out.message(),
        }
    }

    /// SFTP runs no commands.
    pub async fn run(&self, argv: &[String]) -> Result<Output, TransportError> {
        Err(TransportError::FilesOnly {
            place: self.place.clone(),
            program: argv.first().cloned().unwrap_or_default(),
        })
    }

    /// Reads a remote file with `get`; `None` when it does not exist.
    pub async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        let local = local_temp(&self.place)?;
        let lines = [format!(
            "get {} {}",
            self.word(path)?,
            self.word(local.path())?
        )];
        let out = self.batch(&lines).await?;
        if !out.success() {
            if absent(&out) {
                return Ok(None);
            }
            return Err(self.failed("read", path, &out));
        }
        let meta = std::fs::metadata(local.path()).map_err(|source| TransportError::Io {
            place: self.place.clone(),
            op: "read the downloaded copy of",
            path: path.to_path_buf(),
            source,
        })?;
        if meta.len() > process::MAX_STDOUT {
            return Err(TransportError::TooLarge {
                place: self.place.clone(),
                what: format!("`{}`", path.display()),
                limit: process::MAX_STDOUT,
            });
        }
        std::fs::read(local.path())
            .map(Some)
            .map_err(|source| TransportError::Io {
                place: self.place.clone(),
                op: "read the downloaded copy of",
                path: path.to_path_buf(),
                source,
            })
    }

    /// The permission bits of a remote file (`ls -ln`); `None` when it does not exist.
    async fn mode(&self, path: &Path) -> Result<Option<u32>, TransportError> {
        let out = self
            .batch(&[format!("ls -ln {}", self.word(path)?)])
            .await?;
        if !out.success() {
            return if absent(&out) {
                Ok(None)
            } else {
                Err(self.failed("inspect", path, &out))
            };
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .find_map(|l| permissions(l.split_whitespace().next()?)))
    }

    /// Uploads `data` beside `path`, gives it the old file's mode (0644 for a new file) and
    /// renames it over `path`.
    pub async fn write(&self, path: &Path, data: &[u8]) -> Result<(), TransportError> {
        let mode = self.mode(path).await?.unwrap_or(0o644);
        self.write_mode(path, data, mode).await
    }

    /// Uploads `data` beside `path` (the upload is staged from a 0600 local file), gives it
    /// exactly `mode` and renames it over `path`.
    pub async fn write_mode(
        &self,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), TransportError> {
        let local = local_temp(&self.place)?;
        std::fs::write(local.path(), data).map_err(|source| TransportError::Io {
            place: self.place.clone(),
            op: "stage the upload of",
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = temp_beside(path);
        let (t, d) = (self.word(&tmp)?, self.word(path)?);
        let lines = [
            format!("put {} {t}", self.word(local.path())?),
            format!("chmod {mode:o} {t}"),
            format!("rename {t} {d}"),
        ];
        let out = self.batch(&lines).await?;
        if !out.success() {
            // Nothing is left beside the target (a failed remove of a temp file that was never
            // made changes nothing).
            let _ = self.batch(&[format!("-rm {t}")]).await;
            return Err(self.failed("write", path, &out));
        }
        Ok(())
    }

    /// Copies `from` over `to` (download, then an atomic upload).
    pub async fn copy(&self, from: &Path, to: &Path) -> Result<(), TransportError> {
        let data = self
            .read(from)
            .await?
            .ok_or_else(|| TransportError::Remote {
                place: self.place.clone(),
                op: "copy",
                path: from.to_path_buf(),
                detail: "no such file".to_owned(),
            })?;
        self.write(to, &data).await
    }

    /// Removes a remote file; one that does not exist is fine.
    pub async fn remove(&self, path: &Path) -> Result<(), TransportError> {
        let out = self.batch(&[format!("rm {}", self.word(path)?)]).await?;
        if out.success() || absent(&out) {
            Ok(())
        } else {
            Err(self.failed("remove", path, &out))
        }
    }
}

/// A batch word: every ASCII character but letters, digits and `/._-` escaped with `\`;
/// `None` for a control character.
fn escape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            return None;
        }
        if c.is_ascii() && !(c.is_ascii_alphanumeric() || "/._-".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    Some(out)
}

/// Whether a failed batch failed because the file does not exist.
fn absent(out: &Output) -> bool {
    let text = out.message();
    text.contains("not found") || text.contains("No such file")
}

/// `-rw-r--r--` → 0o644 (the set-id and sticky bits are not kept).
fn permissions(field: &str) -> Option<u32> {
    let bits = field.get(1..10)?;
    if !field.starts_with('-') {
        return None;
    }
    Some(
        bits.chars()
            .zip((0..9).rev())
            .filter(|(c, _)| !matches!(c, '-' | 'S' | 'T'))
            .fold(0, |mode, (_, bit)| mode | (1 << bit)),
    )
}

/// A private local file for one transfer, removed when dropped.
fn local_temp(place: &str) -> Result<tempfile::NamedTempFile, TransportError> {
    tempfile::Builder::new()
        .prefix(".siteward-sftp-")
        .tempfile()
        .map_err(|source| TransportError::Io {
            place: place.to_owned(),
            op: "create a local temporary file for",
            path: std::env::temp_dir(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_escaped_and_control_characters_refused() {
        assert_eq!(
            escape("/srv/a b;\"q\" $(x) *?[z] \\'.htaccess").unwrap(),
            r#"/srv/a\ b\;\"q\"\ \$\(x\)\ \*\?\[z\]\ \\\'.htaccess"#
        );
        assert_eq!(escape("/srv/é/x").unwrap(), "/srv/é/x");
        assert_eq!(escape("/srv/a\n!rm -rf /"), None);
    }

    #[test]
    fn modes_are_read_from_ls() {
        assert_eq!(permissions("-rw-r--r--"), Some(0o644));
        assert_eq!(permissions("-rwxr-x---"), Some(0o750));
        assert_eq!(permissions("drwxr-xr-x"), None);
        assert_eq!(permissions("-rw"), None);
    }

    #[test]
    fn sftp_gets_the_ssh_options_in_its_own_spelling() {
        let spec = crate::spec::Transport {
            host: None,
            identity: Some("keys/id".into()),
            known_hosts: Some("/etc/kh".into()),
            ssh_options: vec!["ServerAliveInterval=5".parse().expect("option")],
        };
        let target: SshTarget = "sftp://deploy@web01:2222".parse().expect("target");
        let s = Sftp::new(&target, &spec, Path::new("/repo"), Timeouts::default()).expect("sftp");
        assert_eq!(
            s.argv.join(" "),
            "sftp -b - -o BatchMode=yes -o ConnectTimeout=10 -P 2222 -o User=deploy \
             -i /repo/keys/id -o UserKnownHostsFile=/etc/kh -o StrictHostKeyChecking=yes \
             -o ServerAliveInterval=5 -- web01"
        );
    }
}
