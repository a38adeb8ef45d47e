//! The local transport: commands from an argument vector (no shell), files through `std::fs`.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::process::{self, MAX_STDOUT};
use super::{Output, Timeouts, TransportError, parent_dir};

const PLACE: &str = "local";

/// Runs commands and touches files on this machine.
#[derive(Debug, Clone)]
pub struct Local {
    timeouts: Timeouts,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TransportError {
    let path = path.to_path_buf();
    move |source| TransportError::Io {
        place: PLACE.to_owned(),
        op,
        path,
        source,
    }
}

impl Local {
    /// A local transport with these deadlines.
    pub fn new(timeouts: Timeouts) -> Local {
        Local { timeouts }
    }

    /// Runs `argv` directly (no shell).
    pub async fn run(&self, argv: &[String]) -> Result<Output, TransportError> {
        process::run(PLACE, argv, None, self.timeouts.command).await
    }

    /// Reads a file (at most 16 MiB); `None` when it does not exist.
    pub async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        match tokio::fs::metadata(path).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", path)(e)),
            Ok(m) if m.len() > MAX_STDOUT => {
                return Err(TransportError::TooLarge {
                    place: PLACE.to_owned(),
                    what: format!("`{}`", path.display()),
                    limit: MAX_STDOUT,
                });
            }
            Ok(_) => {}
        }
        tokio::fs::read(path)
            .await
            .map(Some)
            .map_err(io("read", path))
    }

    /// Writes `data` to a temporary file beside `path`, then renames it over `path`.
    pub async fn write(&self, path: &Path, data: &[u8]) -> Result<(), TransportError> {
        let mode = match tokio::fs::metadata(path).await {
            Ok(m) => m.permissions().mode() & 0o7777,
            Err(e) if e.kind() == ErrorKind::NotFound => 0o644,
            Err(e) => return Err(io("inspect", path)(e)),
        };
        self.write_with_mode(path, data, mode).await
    }

    /// Writes `data` atomically with exactly `mode` (the temporary file starts at 0600).
    pub async fn write_with_mode(
        &self,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), TransportError> {
        let path = path.to_path_buf();
        let data = data.to_vec();
        let job = move || -> Result<(), TransportError> {
            let dir = parent_dir(&path);
            std::fs::create_dir_all(dir).map_err(io("create the directory of", &path))?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".siteward-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(io("create a temporary file beside", &path))?;
            tmp.write_all(&data).map_err(io("write", &path))?;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io("set the mode of", &path))?;
            tmp.as_file().sync_all().map_err(io("sync", &path))?;
            tmp.persist(&path)
                .map_err(|e| io("replace", &path)(e.error))?;
            Ok(())
        };
        tokio::task::spawn_blocking(job)
            .await
            .unwrap_or_else(|e| Err(io("write", Path::new(""))(std::io::Error::other(e))))
    }

    /// Copies `from` over `to` atomically, keeping `from`'s mode.
    pub async fn copy(&self, from: &Path, to: &Path) -> Result<(), TransportError> {
        let mode = tokio::fs::metadata(from)
            .await
            .map_err(io("inspect", from))?
            .permissions()
            .mode()
            & 0o7777;
        let data = self
            .read(from)
            .await?
            .ok_or_else(|| io("copy", from)(std::io::Error::from(ErrorKind::NotFound)))?;
        self.write_with_mode(to, &data, mode).await
    }

    /// Removes a file; one that does not exist is fine.
    pub async fn remove(&self, path: &Path) -> Result<(), TransportError> {
        match tokio::fs::remove_file(path).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io("remove", path)(e)),
            _ => Ok(()),
        }
    }
}
