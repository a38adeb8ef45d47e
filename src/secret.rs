//! Secret references (`env:NAME`, `file:PATH`) resolved at run time, and the one way a secret is
//! ever shown: `<secret sha256:HEX>`, a digest that lets two runs be compared without revealing
//! the value. Plans, records and logs only ever carry [`Secret::display`] or [`redact`].

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::spec::SecretRef;

/// A secret reference could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{name}` is not set (needed by secret reference `env:{name}`)")]
    MissingEnv { name: String },
    #[error("cannot read secret file `{path}`: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("secret file `{path}` is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
}

/// A resolved secret value. Its `Debug` output is redacted, so it cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the one place that must send it (a header, a password field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// How the secret appears anywhere it is shown or stored: `<secret sha256:HEX>`.
    pub fn display(&self) -> String {
        redact(&self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// `<secret sha256:HEX>` of `value`.
pub fn redact(value: &str) -> String {
    format!(
        "<secret sha256:{}>",
        hex::encode(Sha256::digest(value.as_bytes()))
    )
}

/// Resolves a reference: `env:NAME` from the environment, `file:PATH` relative to the state
/// repo `root` (absolute paths as written). A single trailing newline of a file is dropped.
pub fn resolve(reference: &SecretRef, root: &Path) -> Result<Secret, SecretError> {
    match reference {
        SecretRef::Env(name) => std::env::var(name)
            .map(Secret)
            .map_err(|_| SecretError::MissingEnv { name: name.clone() }),
        SecretRef::File(rel) => {
            let path = root.join(rel);
            let bytes = std::fs::read(&path).map_err(|source| SecretError::File {
                path: path.clone(),
                source,
            })?;
            let mut text = String::from_utf8(bytes).map_err(|_| SecretError::NotUtf8 { path })?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(Secret(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_is_a_digest() {
        let r = redact("hunter2");
        assert!(r.starts_with("<secret sha256:") && r.ends_with('>'));
        assert!(!r.contains("hunter2"));
        assert_eq!(r.len(), "<secret sha256:>".len() + 64);
    }

    #[test]
    fn file_secrets_drop_one_newline_and_debug_is_redacted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        let s = resolve(&SecretRef::File("token".into()), dir.path()).unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert!(!format!("{s:?}").contains("s3cret"));
        let missing = resolve(&SecretRef::Env("SW_SURELY_UNSET_VAR".into()), dir.path());
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("SW_SURELY_UNSET_VAR")
        );
    }
}
