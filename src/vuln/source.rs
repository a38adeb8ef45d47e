//! Reads a data source named in `siteward.yaml` (a vulnerability feed, a release list): a local
//! file, every `*.json` file under a local directory, or one https URL. Bounded: sizes, file
//! counts and the fetch time are capped; plain http is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest single file or response.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// Largest sum over a directory.
pub const MAX_TOTAL: u64 = 512 * 1024 * 1024;
/// Most files read from one directory tree.
pub const MAX_FILES: usize = 200_000;

/// A source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{what} `{source_text}`: only https URLs are fetched; use https or a local path")]
    NotHttps { what: String, source_text: String },
    #[error("{what} `{path}`: {message}")]
    Io {
        what: String,
        path: String,
        message: String,
    },
    #[error("{what} `{url}`: {message}")]
    Fetch {
        what: String,
        url: String,
        message: String,
    },
}

/// One document read: how it is shown in problems, and its text.
pub type Document = (String, String);

/// Reads `source` (relative paths are relative to the repo). `what` names it in errors
/// (`vulnerabilities`, `updates.source`); `ext` is the extension listed in a directory.
pub async fn read(
    repo: &Path,
    source: &str,
    what: &str,
    ext: &str,
    timeout: Duration,
) -> Result<Vec<Document>, SourceError> {
    if source.starts_with("https://") {
        return fetch(source, what, timeout)
            .await
            .map(|t| vec![(source.to_owned(), t)]);
    }
    if source.contains("://") {
        return Err(SourceError::NotHttps {
            what: what.to_owned(),
            source_text: source.to_owned(),
        });
    }
    let path = if Path::new(source).is_absolute() {
        PathBuf::from(source)
    } else {
        repo.join(source)
    };
    let io = |p: &Path, message: String| SourceError::Io {
        what: what.to_owned(),
        path: p.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(&path).map_err(|e| io(&path, e.to_string()))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        list(&path, ext, &mut files).map_err(|e| io(&path, e.to_string()))?;
        files.sort();
    } else {
        files.push(path.clone());
    }
    if files.len() > MAX_FILES {
        return Err(io(&path, format!("more than {MAX_FILES} files")));
    }
    let mut total = 0;
    let mut out = Vec::new();
    for f in files {
        let size = std::fs::metadata(&f)
            .map_err(|e| io(&f, e.to_string()))?
            .len();
        if size > MAX_FILE {
            return Err(io(&f, format!("larger than {MAX_FILE} bytes")));
        }
        total += size;
        if total > MAX_TOTAL {
            return Err(io(&path, format!("more than {MAX_TOTAL} bytes in all")));
        }
        let text = std::fs::read_to_string(&f).map_err(|e| io(&f, e.to_string()))?;
        let shown = f
            .strip_prefix(repo)
            .map_or_else(|_| f.display().to_string(), |p| p.display().to_string());
        out.push((shown, text));
    }
    Ok(out)
}

/// [`read`] for callers outside an async runtime.
pub fn read_blocking(
    repo: &Path,
    source: &str,
    what: &str,
    ext: &str,
    timeout: Duration,
) -> Result<Vec<Document>, SourceError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SourceError::Io {
            what: what.to_owned(),
            path: source.to_owned(),
            message: format!("cannot start a runtime: {e}"),
        })?;
    rt.block_on(read(repo, source, what, ext, timeout))
}

/// Regular files named `*.{ext}` under `dir`, recursively (links are not followed).
fn list(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            list(&path, ext, out)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
        if out.len() > MAX_FILES {
            break;
        }
    }
    Ok(())
}

/// GETs an https URL with public web roots, a timeout and a size cap, as UTF-8 text.
async fn fetch(url: &str, what: &str, timeout: Duration) -> Result<String, SourceError> {
    let body = fetch_bytes(url, what, timeout).await?;
    String::from_utf8(body).map_err(|_| SourceError::Fetch {
        what: what.to_owned(),
        url: url.to_owned(),
        message: "not UTF-8 text".into(),
    })
}

/// GETs an https URL with public web roots, a timeout and a size cap ([`MAX_FILE`]).
pub(crate) async fn fetch_bytes(
    url: &str,
    what: &str,
    timeout: Duration,
) -> Result<Vec<u8>, SourceError> {
    let err = |message: String| SourceError::Fetch {
        what: what.to_owned(),
        url: url.to_owned(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(crate::probe::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("siteward/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(crate::error_text::chain(&e)))?;
    if !resp.status().is_success() {
        return Err(err(format!("answered {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| err(crate::error_text::chain(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_FILE {
            return Err(err(format!("larger than {MAX_FILE} bytes")));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_is_refused() {
        let e = read(
            Path::new("."),
            "http://feeds.example/osv.json",
            "vulnerabilities",
            "json",
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("only https URLs"), "{e}");
    }
}
