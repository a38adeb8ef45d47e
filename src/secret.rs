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
    /// Per site, the WordPress application password of `manage.software` (`via: rest`).
    app_passwords: BTreeMap<String, Secret>,
    /// Per site, why its application password is withheld from this run
    /// ([`crate::credential_binding`]).
    withheld: BTreeMap<String, String>,
}

impl RunSecrets {
    /// Resolves every secret reference of `sites`; relative `file:` paths are relative to the
    /// state repo `repo`.
    pub fn resolve(sites: &[&Site], repo: &Path) -> RunSecrets {
        let mut app_passwords = BTreeMap::new();
        let sites = sites
            .iter()
            .map(|s| {
                let found = site_secrets(s, repo).and_then(|headers| {
                    if let Some(p) = app_password(s, repo)? {
                        app_passwords.insert(s.name.to_string(), p);
                    }
                    Ok(headers)
                });
                (s.name.to_string(), found)
            })
            .collect();
        RunSecrets {
            sites,
            app_passwords,
            withheld: BTreeMap::new(),
        }
    }

    /// The application password of site `name`'s `manage.software`, when it names one: `Err`
    /// with the reason when it is withheld from this run.
    pub fn app_password(&self, name: &str) -> Result<Option<&Secret>, &str> {
        match self.withheld.get(name) {
            Some(reason) => Err(reason),
            None => Ok(self.app_passwords.get(name)),
        }
    }

    /// Withholds site `name`'s application password from this run, for `reason`: it is
    /// forgotten, and asking for it answers the reason.
    pub fn withhold_app_password(&mut self, name: &str, reason: String) {
        self.app_passwords.remove(name);
        self.withheld.insert(name.to_owned(), reason);
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

    /// A run whose only site `site` has `secrets` (tests of code that shows values).
    #[cfg(test)]
    pub(crate) fn of_site(site: &str, secrets: SiteSecrets) -> RunSecrets {
        RunSecrets {
            sites: BTreeMap::from([(site.to_owned(), Ok(secrets))]),
            app_passwords: BTreeMap::new(),
            withheld: BTreeMap::new(),
        }
    }

    /// Whether `value` is one of the run's secret values (whitespace runs collapsed, as the
    /// diff compares header values).
    pub fn contains(&self, value: &str) -> bool {
        let value = crate::header_values::squash(value);
        !value.is_empty()
            && self
                .sites
                .values()
                .flatten()
                .flat_map(|s| s.values())
                .any(|s| crate::header_values::squash(s.expose()) == value)
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

/// Resolves the application password of `site`'s `manage.software`, if it names one.
fn app_password(site: &Site, repo: &Path) -> Result<Option<Secret>, String> {
    let Some(r) = site
        .manage
        .software
        .as_ref()
        .and_then(|m| m.app_password.as_ref())
    else {
        return Ok(None);
    };
    let value = resolve(r, repo).map_err(|e| {
        format!(
            "manage.software.app_password: {}",
            crate::error_text::chain(&e)
        )
    })?;
    Ok(Some(Secret::new(value)))
}

/// The environment variable holding a key for secret digests (set it from your CI's secret
/// store): with it, digests are HMAC-SHA256 under that key, so a short secret cannot be found
/// by hashing guesses; without it they are plain SHA-256, stable everywhere.
pub const DIGEST_KEY_VAR: &str = "SITEWARD_DIGEST_KEY";

/// How a secret value is shown anywhere: `<secret sha256:HEX>`, or `<secret hmac-sha256:HEX>`
/// under [`DIGEST_KEY_VAR`].
pub fn shown(value: &str) -> String {
    static KEY: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        std::env::var(DIGEST_KEY_VAR)
            .ok()
            .filter(|k| !k.is_empty())
            .map(String::into_bytes)
    });
    digest(key.as_deref(), value)
}

/// The digest of `value`, keyed when `key` is given.
fn digest(key: Option<&[u8]>, value: &str) -> String {
    use hmac::{KeyInit, Mac};
    match key.map(hmac::Hmac::<Sha256>::new_from_slice) {
        Some(Ok(mut mac)) => {
            mac.update(value.as_bytes());
            format!(
                "<secret hmac-sha256:{}>",
                hex::encode(mac.finalize().into_bytes())
            )
        }
        _ => format!(
            "<secret sha256:{}>",
            hex::encode(Sha256::digest(value.as_bytes()))
        ),
    }
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
    fn a_digest_key_makes_digests_keyed() {
        let plain = digest(None, "1234");
        let keyed = digest(Some(b"k1"), "1234");
        assert!(plain.starts_with("<secret sha256:"), "{plain}");
        assert!(keyed.starts_with("<secret hmac-sha256:"), "{keyed}");
        assert_ne!(
            keyed,
            digest(Some(b"k2"), "1234"),
            "another key, another digest"
        );
        assert_eq!(keyed, digest(Some(b"k1"), "1234"), "stable under one key");
        assert!(!keyed.contains(&plain[15..]));
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
