//! Runs one child process with a deadline and bounded output: the single place where siteward
//! waits on a program, so every local command and every `ssh` call gets the same guarantees
//! (killed on expiry, never an unbounded read into memory).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{Output, TransportError};

/// Most bytes kept from a command's stdout (file reads go through stdout over SSH).
pub const MAX_STDOUT: u64 = 16 * 1024 * 1024;
/// Most bytes kept from a command's stderr; the rest is dropped (it only feeds messages).
const MAX_STDERR: u64 = 64 * 1024;

/// Variables a program started with its own environment ([`run_with_env`]) still gets from
/// siteward's: where to find programs, home, locale, temp dir and time zone.
const KEPT_VARS: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// Spawns `argv` (no shell), feeds it `stdin`, and waits at most `timeout` for it to exit.
/// `place` names where it runs, for messages.
pub async fn run(
    place: &str,
    argv: &[String],
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, TransportError> {
    run_with_env(place, argv, stdin, None, timeout).await
}

/// As [`run`]; with `env`, the program does not inherit siteward's environment (which may hold
/// other sites' secrets) but gets only [`KEPT_VARS`] and `env`, for this run alone.
pub async fn run_with_env(
    place: &str,
    argv: &[String],
    stdin: Option<&[u8]>,
    env: Option<&[(String, String)]>,
    timeout: Duration,
) -> Result<Output, TransportError> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| TransportError::EmptyCommand {
            place: place.to_owned(),
        })?;
    let mut command = tokio::process::Command::new(program);
    if let Some(env) = env {
        command.env_clear();
        for name in KEPT_VARS {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C meant for siteward (or a CI runner signalling the
        // group) does not kill a config test or reload halfway; siteward finishes it.
        .process_group(0)
        .spawn()
        .map_err(|source| TransportError::Spawn {
            place: place.to_owned(),
            program: program.clone(),
            source,
        })?;
    let feed = {
        let pipe = child.stdin.take();
        let data = stdin.map(<[u8]>::to_vec);
        async move {
            if let (Some(mut pipe), Some(data)) = (pipe, data) {
                // A child that exits without reading its input is reported by its status.
                let _ = pipe.write_all(&data).await;
                let _ = pipe.shutdown().await;
            }
        }
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let ((), out, err) = tokio::join!(
            feed,
            bounded(stdout, MAX_STDOUT),
            bounded(stderr, MAX_STDERR)
        );
        let status = child.wait().await;
        (out, err, status)
    };
    let finished = tokio::time::timeout(timeout, work).await;
    let (out, err, status) = match finished {
        Ok(done) => done,
        Err(_) => {
            // The whole group: a shell's children (`sh -c 'sleep 30; …'`) stop too.
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stderr(Stdio::null())
                    .status();
            }
            // `kill_on_drop` also covers this, but an explicit kill reaps the child now.
            let _ = child.kill().await;
            return Err(TransportError::Timeout {
                place: place.to_owned(),
                program: program.clone(),
                secs: timeout.as_secs(),
            });
        }
    };
    let status = status.map_err(|source| TransportError::Spawn {
        place: place.to_owned(),
        program: program.clone(),
        source,
    })?;
    let (stdout, truncated) = out;
    if truncated {
        let _ = child.kill().await;
        return Err(TransportError::TooLarge {
            place: place.to_owned(),
            what: format!("output of `{program}`"),
            limit: MAX_STDOUT,
        });
    }
    Ok(Output {
        code: status.code(),
        stdout,
        stderr: String::from_utf8_lossy(&err.0).trim().to_owned(),
    })
}

/// Reads at most `limit` bytes; the flag says whether more was available.
async fn bounded<R: AsyncRead + Unpin>(pipe: Option<R>, limit: u64) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let Some(pipe) = pipe else {
        return (buf, false);
    };
    let mut limited = pipe.take(limit + 1);
    // A read error ends the capture; the exit status still tells the outcome.
    let _ = limited.read_to_end(&mut buf).await;
    let truncated = buf.len() as u64 > limit;
    if truncated {
        buf.truncate(limit as usize);
        // Drain the rest so the child is not blocked on a full pipe until the deadline.
        let mut rest = limited.into_inner();
        let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
    }
    (buf, truncated)
}
