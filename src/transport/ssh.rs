//! The SSH transport: the system `ssh` binary with `BatchMode`, a connect timeout and the site's
//! identity, known_hosts and allowed options ([`super::ssh_options`]). The remote side always parses a shell command line, so
//! every word is quoted here with `shlex` and file data is sent on stdin.

use std::path::{Path, PathBuf};

use super::process;
use super::{Output, Timeouts, TransportError, parent_dir, temp_beside};
use crate::spec::SshTarget;

/// Exit code of the remote read script when the file does not exist.
const ABSENT: i32 = 3;

/// Runs commands and touches files on a host through `ssh`.
#[derive(Debug, Clone)]
pub struct Ssh {
    place: String,
    /// `ssh` and its options, up to and including `--` and the destination.
    argv: Vec<String>,
    timeouts: Timeouts,
}

impl Ssh {
    /// Builds the `ssh` invocation for `target` with the options of `spec`.
    pub fn new(
        target: &SshTarget,
        spec: &crate::spec::Transport,
        repo: &Path,
        timeouts: Timeouts,
    ) -> Result<Ssh, TransportError> {
        let place = target.to_string();
        let mut argv = vec![
            "ssh".to_owned(),
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            format!("ConnectTimeout={}", timeouts.connect.as_secs().max(1)),
        ];
        if let Some(port) = target.port {
            argv.extend(["-p".to_owned(), port.to_string()]);
        }
        if let Some(user) = &target.user {
            argv.extend(["-l".to_owned(), user.clone()]);
        }
        if let Some(id) = &spec.identity {
            argv.extend(["-i".to_owned(), local_path(&place, repo, id)?]);
        }
        if let Some(kh) = &spec.known_hosts {
            let kh = local_path(&place, repo, kh)?;
            argv.extend([
                "-o".to_owned(),
                format!("UserKnownHostsFile={kh}"),
                "-o".to_owned(),
                "StrictHostKeyChecking=yes".to_owned(),
            ]);
        }
        // Options were checked when the site was loaded (`SshOption`); checked again here, so
        // that no other way of building a `Transport` can hand ssh an option off the list.
        for option in &spec.ssh_options {
            let option = super::ssh_options::canonical(option.as_str()).map_err(|detail| {
                TransportError::SshOption {
                    place: place.clone(),
                    detail,
                }
            })?;
            argv.extend(["-o".to_owned(), option]);
        }
        argv.extend(["--".to_owned(), target.host.clone()]);
        Ok(Ssh {
            place,
            argv,
            timeouts,
        })
    }

    /// `ssh://user@host:port`.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The full `ssh` argument vector for a remote command line (for tests and debugging).
    pub fn command_line(&self, remote: &str) -> Vec<String> {
        let mut argv = self.argv.clone();
        argv.push(remote.to_owned());
        argv
    }

    /// Runs a remote shell command line; exit 255 is `ssh`'s own failure.
    async fn shell(&self, script: &str, stdin: Option<&[u8]>) -> Result<Output, TransportError> {
        let argv = self.command_line(script);
        let out = process::run(&self.place, &argv, stdin, self.timeouts.command).await?;
        if out.code == Some(255) {
            return Err(TransportError::Ssh {
                place: self.place.clone(),
                detail: out.message(),
            });
        }
        Ok(out)
    }

    /// Quotes one word for the remote shell.
    fn quote(&self, word: &str, what: &str) -> Result<String, TransportError> {
        shlex::try_quote(word)
            .map(|q| q.into_owned())
            .map_err(|_| TransportError::Unquotable {
                place: self.place.clone(),
                what: what.to_owned(),
            })
    }

    /// Quotes a path for the remote shell.
    fn quote_path(&self, path: &Path) -> Result<String, TransportError> {
        let text = path.to_str().ok_or_else(|| TransportError::NotUtf8 {
            place: self.place.clone(),
            path: path.to_path_buf(),
        })?;
        self.quote(text, &format!("path `{}`", path.display()))
    }

    fn failed(&self, op: &'static str, path: &Path, out: &Output) -> TransportError {
        TransportError::Remote {
            place: self.place.clone(),
            op,
            path: path.to_path_buf(),
            detail: out.message(),
        }
    }

    /// Runs `argv` remotely, every word quoted.
    pub async fn run(&self, argv: &[String]) -> Result<Output, TransportError> {
        if argv.is_empty() {
            return Err(TransportError::EmptyCommand {
                place: self.place.clone(),
            });
        }
        let words = argv
            .iter()
            .map(|w| self.quote(w, "a command word"))
            .collect::<Result<Vec<_>, _>>()?;
        self.shell(&words.join(" "), None).await
    }

    /// Reads a remote file through `cat`; `None` when it does not exist.
    pub async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        let f = self.quote_path(path)?;
        let script =
            format!("f={f}; if [ -e \"$f\" ]; then exec cat -- \"$f\"; else exit {ABSENT}; fi");
        let out = self.shell(&script, None).await?;
        match out.code {
            Some(0) => Ok(Some(out.stdout)),
            Some(ABSENT) => Ok(None),
            _ => Err(self.failed("read", path, &out)),
        }
    }

    /// Writes stdin to a temporary file beside `path`, then renames it over `path`, keeping the
    /// old file's mode (0644 for a new file).
    pub async fn write(&self, path: &Path, data: &[u8]) -> Result<(), TransportError> {
        let d = self.quote_path(path)?;
        let t = self.quote_path(&temp_beside(path))?;
        let dir = self.quote_path(parent_dir(path))?;
        let script = format!(
            "set -e; d={d}; t={t}; dir={dir}; mkdir -p -- \"$dir\"; \
             umask 077; trap 'rm -f -- \"$t\"' EXIT; cat > \"$t\"; \
             if [ -e \"$d\" ]; then chmod \"$(stat -c %a -- \"$d\")\" \"$t\"; else chmod 644 \"$t\"; fi; \
             mv -f -- \"$t\" \"$d\""
        );
        let out = self.shell(&script, Some(data)).await?;
        if !out.success() {
            return Err(self.failed("write", path, &out));
        }
        Ok(())
    }

    /// Writes stdin to a temporary file (created 0600) beside `path`, sets `mode`, then renames
    /// it over `path`.
    pub async fn write_mode(
        &self,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), TransportError> {
        let d = self.quote_path(path)?;
        let t = self.quote_path(&temp_beside(path))?;
        let dir = self.quote_path(parent_dir(path))?;
        let mode = mode & 0o7777;
        let script = format!(
            "set -e; d={d}; t={t}; dir={dir}; mkdir -p -- \"$dir\"; \
             umask 077; trap 'rm -f -- \"$t\"' EXIT; cat > \"$t\"; chmod {mode:o} \"$t\"; \
             mv -f -- \"$t\" \"$d\""
        );
        let out = self.shell(&script, Some(data)).await?;
        if !out.success() {
            return Err(self.failed("write", path, &out));
        }
        Ok(())
    }

    /// Copies `from` over `to` atomically with `cp -p`.
    pub async fn copy(&self, from: &Path, to: &Path) -> Result<(), TransportError> {
        let s = self.quote_path(from)?;
        let d = self.quote_path(to)?;
        let t = self.quote_path(&temp_beside(to))?;
        let script = format!(
            "set -e; s={s}; d={d}; t={t}; trap 'rm -f -- \"$t\"' EXIT; \
             cp -p -- \"$s\" \"$t\"; mv -f -- \"$t\" \"$d\""
        );
        let out = self.shell(&script, None).await?;
        if !out.success() {
            return Err(self.failed("copy", from, &out));
        }
        Ok(())
    }

    /// Removes a remote file (`rm -f`).
    pub async fn remove(&self, path: &Path) -> Result<(), TransportError> {
        let f = self.quote_path(path)?;
        let out = self.shell(&format!("rm -f -- {f}"), None).await?;
        if !out.success() {
            return Err(self.failed("remove", path, &out));
        }
        Ok(())
    }
}

/// A local file named in the transport (identity, known_hosts), as an `ssh` argument.
fn local_path(place: &str, repo: &Path, path: &Path) -> Result<String, TransportError> {
    let full: PathBuf = crate::load::site::resolve(repo, path);
    full.to_str()
        .map(str::to_owned)
        .ok_or_else(|| TransportError::NotUtf8 {
            place: place.to_owned(),
            path: full.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(options: &[&str]) -> Result<Ssh, TransportError> {
        let spec = crate::spec::Transport {
            host: None,
            identity: Some(PathBuf::from("keys/id")),
            known_hosts: Some(PathBuf::from("/etc/kh")),
            ssh_options: options
                .iter()
                .map(|s| s.parse().expect("valid option"))
                .collect(),
        };
        let target: SshTarget = "ssh://deploy@web01:2222".parse().expect("target");
        Ssh::new(&target, &spec, Path::new("/repo"), Timeouts::default())
    }

    #[test]
    fn argv_has_batch_mode_pinning_and_dashdash_before_host() {
        let s = ssh(&["ProxyJump=bastion"]).expect("valid");
        let argv = s.command_line("true");
        let joined = argv.join(" ");
        assert!(joined.starts_with("ssh -o BatchMode=yes -o ConnectTimeout=10 -p 2222 -l deploy"));
        assert!(joined.contains("-i /repo/keys/id"));
        assert!(joined.contains("-o UserKnownHostsFile=/etc/kh -o StrictHostKeyChecking=yes"));
        assert!(joined.contains("-o ProxyJump=bastion -- web01 true"));
    }

    #[test]
    fn options_reach_ssh_in_their_checked_spelling() {
        let s = ssh(&["serveraliveinterval  =  5", "\"Compression\" YES"]).expect("valid");
        let joined = s.command_line("true").join(" ");
        assert!(
            joined.contains("-o ServerAliveInterval=5 -o Compression=yes -- web01"),
            "{joined}"
        );
    }
}
