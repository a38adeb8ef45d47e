//! Secret references (`env:NAME`, `file:PATH`) resolved at run time, and the one way a secret
//! is ever shown: `<secret sha256:HEX>`.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::spec::SecretRef;

/// Largest secret file read.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// A secret could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `env:{name}` is not set; export it before running")]
    EnvMissing { name: String },
    #[error("secret `file:{path}` cannot be read")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("secret `file:{path}` is larger than 64 KiB")]
    TooLarge { path: String },
}

/// Resolves a reference; file paths are relative to the state repo `repo`. A trailing newline
/// of a file secret is dropped (editors add one).
pub fn resolve(reference: &SecretRef, repo: &Path) -> Result<String, SecretError> {
    match reference {
        SecretRef::Env(name) => {
            std::env::var(name).map_err(|_| SecretError::EnvMissing { name: name.clone() })
        }
        SecretRef::File(p) => {
            let path = crate::load::site::resolve(repo, p);
            let shown = p.display().to_string();
            let io = |source| SecretError::File {
                path: shown.clone(),
                source,
            };
            let len = std::fs::metadata(&path).map_err(io)?.len();
            if len > MAX_SECRET_BYTES {
                return Err(SecretError::TooLarge { path: shown });
            }
            let text = std::fs::read_to_string(&path).map_err(io)?;
            Ok(text.trim_end_matches(['\r', '\n']).to_owned())
        }
    }
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
    fn missing_env_names_the_variable() {
        let e = resolve(
            &SecretRef::Env("SITEWARD_TEST_UNSET_X".into()),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SITEWARD_TEST_UNSET_X"));
    }
}
