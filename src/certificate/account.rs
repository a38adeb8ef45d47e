//! The ACME account key: a `file:` or `env:` reference in YAML (never the key itself), read
//! like every other secret ([`crate::secret`]). A `file:` that does not exist yet is created
//! with a new ECDSA P-256 key (the type instant-acme signs with), PEM PKCS#8, mode 0600.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;

use super::AcmeError;
use crate::secret::Secret;
use crate::spec::SecretRef;

/// The account key of `reference` (relative `file:` paths are relative to the state repo),
/// created when its file is absent.
pub(super) fn load_or_create(reference: &SecretRef, repo: &Path) -> Result<Secret, AcmeError> {
    let fail = |detail: String| AcmeError::AccountKey {
        reference: reference.to_string(),
        detail,
    };
    if let SecretRef::File(p) = reference {
        let path = crate::load::site::resolve(repo, p);
        if !path.exists() {
            match create(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "ACME account key created (mode 0600)");
                }
                // Another run created it meanwhile: use that one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fail(format!("cannot create it: {e}"))),
            }
        }
    }
    let key = crate::secret::resolve(reference, repo)
        .map(Secret::new)
        .map_err(|e| fail(crate::error_text::chain(&e)))?;
    der(&key).map_err(fail)?;
    Ok(key)
}

/// The PKCS#8 DER of a PEM account key; the error says what the file must hold.
pub(super) fn der(key: &Secret) -> Result<PrivatePkcs8KeyDer<'static>, String> {
    PrivatePkcs8KeyDer::from_pem_slice(key.expose().as_bytes())
        .map_err(|_| "not a PEM `PRIVATE KEY` (PKCS#8); use an ECDSA P-256 key".to_owned())
}

/// Writes a new P-256 key to `path`, which must not exist (`create_new`: a key made by a
/// concurrent run is never overwritten), readable by its owner only from the first byte.
fn create(path: &Path) -> std::io::Result<()> {
    let pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| std::io::Error::other(format!("cannot generate a key: {e}")))?
        .serialize_pem();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_absent_file_key_is_created_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let reference = SecretRef::File("keys/acme.pem".into());
        let first = load_or_create(&reference, dir.path()).unwrap();
        let path = dir.path().join("keys/acme.pem");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(der(&first).is_ok());
        let again = load_or_create(&reference, dir.path()).unwrap();
        assert_eq!(first.expose(), again.expose());
        assert!(!format!("{first:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_what_it_must_hold() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "hello\n").unwrap();
        let e = load_or_create(&SecretRef::File("k".into()), dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "account key `file:k`: not a PEM `PRIVATE KEY` (PKCS#8); use an ECDSA P-256 key"
        );
    }
}
