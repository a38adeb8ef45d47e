//! Where a provider's commands run and its files live: on this machine, or on a host reached
//! through the system `ssh` (so the operator's ssh config, agent and jump hosts apply), or
//! only its files through the system `sftp` (`sftp://`, an account without a shell).
//!
//! # Guarantees
//! - Local commands run from an argument vector, never through a shell.
//! - Over SSH the remote login shell parses the command line, so every word siteward sends is
//!   shell-quoted, and file contents travel on stdin, never inside the command line.
//! - File writes are atomic: a temporary file in the destination's directory, renamed over it,
//!   with the previous file's mode kept (0644 for a new file), or the mode the caller gives
//!   ([`Transport::write_mode`], 0600 for private keys) set before the rename.
//! - Every command has a deadline and is killed when it expires; output is read up to a bound.
//!
//! # Assumptions
//! The remote login shell is POSIX-compatible (sh, dash, bash) with the usual `cat`, `mv`, `cp`,
//! `rm`, `mkdir`, `chmod` and `stat -c` (GNU coreutils or BusyBox).

mod local;
pub(crate) mod process;
mod sftp;
mod ssh;
pub mod ssh_options;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use local::Local;
pub use sftp::Sftp;
pub use ssh::Ssh;

/// Deadlines for transport operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long `ssh` may take to connect (`-o ConnectTimeout`).
    pub connect: Duration,
    /// How long any one command (or file operation) may take before it is killed.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(60),
        }
    }
}

/// What a finished command produced. A non-zero exit is not a transport error: the caller
/// decides what it means (`nginx -t` failing is a result, not a broken connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded and trimmed (bounded to 64 KiB).
    pub stderr: String,
}

impl Output {
    /// Whether the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The program's own words about what happened: stderr, else stdout, else the exit status.
    pub fn message(&self) -> String {
        if !self.stderr.is_empty() {
            return self.stderr.clone();
        }
        let out = String::from_utf8_lossy(&self.stdout).trim().to_owned();
        if !out.is_empty() {
            return out;
        }
        match self.code {
            Some(c) => format!("exited with status {c}"),
            None => "killed by a signal".to_owned(),
        }
    }
}

/// Errors of the transport itself (the command could not be run, or a file operation failed).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{place}: empty command")]
    EmptyCommand { place: String },
    #[error("{place}: cannot run `{program}`; is it installed and on PATH?")]
    Spawn {
        place: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{place}: `{program}` did not finish within {secs} s and was killed")]
    Timeout {
        place: String,
        program: String,
        secs: u64,
    },
    #[error("{place}: {what} is larger than {limit} bytes")]
    TooLarge {
        place: String,
        what: String,
        limit: u64,
    },
    #[error("{place}: {what} contains a NUL byte and cannot be passed safely")]
    Unquotable { place: String, what: String },
    #[error("{place}: path `{path}` is not valid UTF-8 and cannot be quoted for the remote shell")]
    NotUtf8 { place: String, path: PathBuf },
    #[error("{place}: cannot {op} `{path}`")]
    Io {
        place: String,
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{place}: cannot {op} `{path}`: {detail}")]
    Remote {
        place: String,
        op: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("{place}: ssh_options: {detail}")]
    SshOption { place: String, detail: String },
    #[error("{place}: ssh failed (check host, user, key and known_hosts): {detail}")]
    Ssh { place: String, detail: String },
    #[error(
        "{place}: an `sftp://` host only transfers files; `{program}` cannot run there \
         (use `ssh://` for a provider with commands)"
    )]
    FilesOnly { place: String, program: String },
}

/// A place to run commands and keep files.
#[derive(Debug, Clone)]
pub enum Transport {
    Local(Local),
    Ssh(Ssh),
    Sftp(Sftp),
}

impl Transport {
    /// The transport a `manage.*` section describes: local without `host`, else SSH.
    /// Relative `identity`/`known_hosts` paths are relative to the state repo `repo`.
    pub fn from_spec(
        spec: &crate::spec::Transport,
        repo: &Path,
        timeouts: Timeouts,
    ) -> Result<Transport, TransportError> {
        match &spec.host {
            None => Ok(Transport::Local(Local::new(timeouts))),
            Some(target) if target.sftp => {
                Ok(Transport::Sftp(Sftp::new(target, spec, repo, timeouts)?))
            }
            Some(target) => Ok(Transport::Ssh(Ssh::new(target, spec, repo, timeouts)?)),
        }
    }

    /// Where this transport acts, for messages: `local` or `ssh://user@host:port`.
    pub fn place(&self) -> String {
        match self {
            Transport::Local(_) => "local".to_owned(),
            Transport::Ssh(s) => s.place().to_owned(),
            Transport::Sftp(s) => s.place().to_owned(),
        }
    }

    /// Whether commands run on another host.
    pub fn is_remote(&self) -> bool {
        matches!(self, Transport::Ssh(_) | Transport::Sftp(_))
    }

    /// Runs a command given as words (`argv[0]` is the program).
    pub async fn run(&self, argv: &[String]) -> Result<Output, TransportError> {
        match self {
            Transport::Local(t) => t.run(argv).await,
            Transport::Ssh(t) => t.run(argv).await,
            Transport::Sftp(t) => t.run(argv).await,
        }
    }

    /// Reads a file; `None` when it does not exist.
    pub async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        match self {
            Transport::Local(t) => t.read(path).await,
            Transport::Ssh(t) => t.read(path).await,
            Transport::Sftp(t) => t.read(path).await,
        }
    }

    /// Replaces (or creates) a file atomically, creating missing parent directories.
    pub async fn write(&self, path: &Path, data: &[u8]) -> Result<(), TransportError> {
        match self {
            Transport::Local(t) => t.write(path, data).await,
            Transport::Ssh(t) => t.write(path, data).await,
            Transport::Sftp(t) => t.write(path, data).await,
        }
    }

    /// Replaces (or creates) a file atomically with exactly `mode` (e.g. 0o600 for a private
    /// key): the temporary file never has a wider mode than that, so the content is never
    /// readable by others, not even for a moment.
    pub async fn write_mode(
        &self,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), TransportError> {
        match self {
            Transport::Local(t) => t.write_with_mode(path, data, mode).await,
            Transport::Ssh(t) => t.write_mode(path, data, mode).await,
            Transport::Sftp(t) => t.write_mode(path, data, mode).await,
        }
    }

    /// Copies `from` over `to` atomically, keeping `from`'s mode (a backup).
    pub async fn copy(&self, from: &Path, to: &Path) -> Result<(), TransportError> {
        match self {
            Transport::Local(t) => t.copy(from, to).await,
            Transport::Ssh(t) => t.copy(from, to).await,
            Transport::Sftp(t) => t.copy(from, to).await,
        }
    }

    /// Removes a file; a file that does not exist is not an error.
    pub async fn remove(&self, path: &Path) -> Result<(), TransportError> {
        match self {
            Transport::Local(t) => t.remove(path).await,
            Transport::Ssh(t) => t.remove(path).await,
            Transport::Sftp(t) => t.remove(path).await,
        }
    }
}

/// A fresh name for a temporary file beside `path` (same directory, so rename is atomic).
/// Dot-prefixed so that include globs such as `*.conf` never pick it up.
fn temp_beside(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".siteward-{}-{nanos:x}-{n}.tmp", std::process::id());
    parent_dir(path).join(name)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
