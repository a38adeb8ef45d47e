//! Reading one input file safely: only a regular file, and at most a cap of bytes. Every file
//! siteward reads because the state repo names it (site, policy and settings files, `file:`
//! secrets, `ca` bundles) goes through [`read`], so that a symlink to `/dev/zero` ends in a
//! clear error instead of a 2 GB read, and a FIFO instead of a read that blocks forever.
//!
//! The file type is checked before the file is opened (opening a FIFO blocks until a writer
//! comes), and the opened file must be the one that was checked (same device and inode), so a
//! path swapped in between is refused too.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Largest `ca` (PEM bundle) file read.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Refused: files of the state repo (`siteward.yaml`, `sites/`, `policies/`) are kept in the
    /// repo itself.
    Refuse,
    /// Followed (secrets and trust roots often are links, e.g. mounted Kubernetes secrets); the
    /// target must still be a regular file.
    Follow,
}

/// A file that cannot be used as input.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("symbolic links are not followed; keep the file itself in the state repo")]
    Symlink,
    #[error("file is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("file is {size}; the limit is {}", human(*.limit))]
    TooLarge { size: String, limit: u64 },
    #[error("file was replaced while it was being opened; run again")]
    Replaced,
    #[error("file is not valid UTF-8")]
    NotUtf8,
    #[error("cannot read file")]
    Io(#[source] std::io::Error),
}

impl FileError {
    /// True when the file does not exist (or a directory on its path does not).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Checks, without opening it, that `path` is a regular file of at most `limit` bytes.
pub fn check(path: &Path, limit: u64, links: Links) -> Result<Metadata, FileError> {
    let meta = match links {
        Links::Refuse => std::fs::symlink_metadata(path),
        Links::Follow => std::fs::metadata(path),
    }
    .map_err(FileError::Io)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(FileError::Symlink);
    }
    if !kind.is_file() {
        let kind = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a named pipe (FIFO)"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "of an unknown kind"
        };
        return Err(FileError::NotRegular { kind });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge {
            size: format!("{} bytes", meta.len()),
            limit,
        });
    }
    Ok(meta)
}

/// Reads a regular file of at most `limit` bytes (also when it grows while being read).
pub fn read(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, FileError> {
    let checked = check(path, limit, links)?;
    let file = File::open(path).map_err(FileError::Io)?;
    let opened = file.metadata().map_err(FileError::Io)?;
    if (opened.dev(), opened.ino()) != (checked.dev(), checked.ino()) {
        return Err(FileError::Replaced);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(checked.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(FileError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            size: format!("more than {limit} bytes"),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64, links: Links) -> Result<String, FileError> {
    String::from_utf8(read(path, limit, links)?).map_err(|_| FileError::NotUtf8)
}

/// `1 MiB`, `64 KiB` or `N bytes`.
fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    use super::*;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
    }

    #[test]
    fn reads_a_regular_file_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        assert_eq!(read_text(&path, 5, Links::Refuse).unwrap(), "12345");
        let e = read(&path, 4, Links::Refuse).unwrap_err();
        assert_eq!(e.to_string(), "file is 5 bytes; the limit is 4 bytes");
    }

    #[test]
    fn dev_zero_and_a_fifo_fail_fast() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero");
        symlink("/dev/zero", &zero).unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let started = Instant::now();
        let e = read(&zero, 1024, Links::Follow).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file is a character device, not a regular file"
        );
        assert!(matches!(
            read(&zero, 1024, Links::Refuse),
            Err(FileError::Symlink)
        ));
        let e = read(&fifo, 1024, Links::Follow).unwrap_err();
        assert_eq!(
            e.to_string(),
            "file is a named pipe (FIFO), not a regular file"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_followed_link_to_a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), "x").unwrap();
        let link = dir.path().join("link");
        symlink(dir.path().join("target"), &link).unwrap();
        assert_eq!(read(&link, 10, Links::Follow).unwrap(), b"x");
        assert!(read(&link, 10, Links::Refuse).is_err());
    }

    #[test]
    fn missing_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read(&dir.path().join("nope"), 1, Links::Follow)
                .unwrap_err()
                .is_not_found()
        );
        assert_eq!(human(1024 * 1024), "1 MiB");
        assert_eq!(human(64 * 1024), "64 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
