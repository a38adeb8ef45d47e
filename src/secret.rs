//! Secret references (`env:NAME`, `file:PATH`) resolved once per run into values that cannot
//! be printed ([`Secret`], kept in [`RunSecrets`]), and the one way a secret is ever shown:
//! `<secret sha256:HEX>`.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use sha2::{Digest, Sha256};

use crate::load::file::{self, FileError, Links};
use crate::spec::{HeaderRule, HeaderValue, SecretRef, Site};

/// Largest secret file read.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// A secret could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `env:{name}` is not set; export it before running")]
    EnvMissing { name: String },
    #[error("secret `file:{path}` cannot be used")]
    File {
        path: String,
        #[source]
        source: FileError,
    },
}

/// Resolves a reference; file paths are relative to the state repo `repo`. A file secret must be
/// a regular file (a link to one is followed) of at most 64 KiB; a trailing newline is dropped
/// (editors add one).
pub(crate) fn resolve(reference: &SecretRef, repo: &Path) -> Result<String, SecretError> {
    match reference {
        SecretRef::Env(name) => {
            std::env::var(name).map_err(|_| SecretError::EnvMissing { name: name.clone() })
        }
        SecretRef::File(p) => {
            let path = crate::load::site::resolve(repo, p);
            let text =
                file::read_text(&path, MAX_SECRET_BYTES, Links::Follow).map_err(|source| {
                    SecretError::File {
                        path: p.display().to_string(),
                        source,
                    }
                })?;
            Ok(text.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
}

/// A resolved secret value. It cannot be printed — `Debug` shows its digest — and is reached
/// only through [`Secret::expose`], where it is compared or written to a target.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub(crate) fn new(value: String) -> Secret {
        Secret(SecretString::from(value))
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The value as it may be shown: `<secret sha256:…>`.
    pub fn shown(&self) -> String {
        shown(self.expose())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

/// One site's secret header values: lowercased header name → value.
pub type SiteSecrets = BTreeMap<String, Secret>;

/// The secrets of a run, resolved once when it starts: per site its secret header values, or
/// why they could not be resolved (the site is then `unknown` and never changed).
#[derive(Debug, Default)]
pub struct RunSecrets {
    sites: BTreeMap<String, Result<SiteSecrets, String>>,
}

impl RunSecrets {
    /// Resolves every secret reference of `sites`; relative `file:` paths are relative to the
    /// state repo `repo`.
    pub fn resolve(sites: &[&Site], repo: &Path) -> RunSecrets {
        let sites = sites
            .iter()
            .map(|s| (s.name.to_string(), site_secrets(s, repo)))
            .collect();
        RunSecrets { sites }
    }

    /// The secrets of site `name`; an error for a site whose secrets could not be resolved (or
    /// that was not part of the run).
    pub fn site(&self, name: &str) -> Result<&SiteSecrets, String> {
        match self.sites.get(name) {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!(
                "the secrets of `{name}` were not resolved for this run"
            )),
        }
    }

    /// Every resolved value, for scrubbing command output.
    pub fn values(&self) -> impl Iterator<Item = &Secret> {
        self.sites.values().flatten().flat_map(|s| s.values())
    }
}

/// Resolves the secret header values of `site`; a value must be a valid header value.
fn site_secrets(site: &Site, repo: &Path) -> Result<SiteSecrets, String> {
    let mut out = SiteSecrets::new();
    for (name, rule) in &site.headers {
        let HeaderRule::Secret(r) = rule else {
            continue;
        };
        let raw = resolve(r, repo)
            .map_err(|e| format!("header `{name}`: {}", crate::error_text::chain(&e)))?;
        let value = raw.parse::<HeaderValue>().map_err(|_| {
            format!("header `{name}`: secret `{r}` contains a control character (CR, LF, NUL ...)")
        })?;
        out.insert(name.lower(), Secret::new(value.as_str().to_owned()));
    }
    Ok(out)
}

/// How a secret value is shown anywhere: `<secret sha256:HEX>`.
pub fn shown(value: &str) -> String {
    format!(
        "<secret sha256:{}>",
        hex::encode(Sha256::digest(value.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secret_is_trimmed_and_shown_as_digest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "hunter2\n").unwrap();
        let v = resolve(&SecretRef::File("s.txt".into()), dir.path()).unwrap();
        assert_eq!(v, "hunter2");
        let s = shown(&v);
        assert!(s.starts_with("<secret sha256:") && !s.contains("hunter2"));
    }

    #[test]
    fn a_fifo_or_dev_zero_secret_fails_fast_and_clearly() {
        // Issue #16: a FIFO blocked forever, `/dev/zero` read until memory ran out.
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let started = std::time::Instant::now();
        let e = resolve(&SecretRef::File("zero".into()), dir.path()).unwrap_err();
        assert_eq!(
            crate::error_text::chain(&e),
            "secret `file:zero` cannot be used: file is a character device, not a regular file"
        );
        let e = resolve(&SecretRef::File("fifo".into()), dir.path()).unwrap_err();
        assert_eq!(
            crate::error_text::chain(&e),
            "secret `file:fifo` cannot be used: file is a named pipe (FIFO), not a regular file"
        );
        std::fs::write(dir.path().join("big"), vec![b'x'; 64 * 1024 + 1]).unwrap();
        let e = resolve(&SecretRef::File("big".into()), dir.path()).unwrap_err();
        assert!(
            crate::error_text::chain(&e).ends_with("the limit is 64 KiB"),
            "{e:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let e = resolve(
            &SecretRef::Env("SITEWARD_TEST_UNSET_X".into()),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SITEWARD_TEST_UNSET_X"));
    }
}
