//! TLS: the trust roots of a site, a certificate verifier that records the chain every server
//! sends, and the analysis of that chain (trust, host name, expiry, missing intermediate).
//!
//! Why a recording verifier inside the HTTP client instead of a second handshake: the chain
//! analysed is then exactly the one that served the headers, and a site costs one TLS
//! handshake instead of two (the dominant cost of a large run). The verifier records before it
//! decides, so an untrusted or expired chain is still observed when the request is refused.
//!
//! OCSP stapling: the rustls client asks every server for a stapled OCSP response (the
//! `status_request` extension is always sent), and the verifier records whether one came with
//! the chain and what it says about the leaf ([`super::ocsp`]: status and validity window).
//! Verification does not depend on it (webpki does not check revocation).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::cert;
use crate::load::file;
use crate::observe::live::TlsObservation;

/// Building trust roots or a TLS configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read CA file `{path}`: {message}; check the site's `ca:` path")]
    CaFile { path: String, message: String },
    #[error("CA file `{path}` holds no usable PEM certificate")]
    CaEmpty { path: String },
    #[error("cannot build the TLS configuration: {0}")]
    Config(String),
}

/// What a server presented in one handshake.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The leaf first, then the other certificates in the order sent.
    pub chain: Vec<CertificateDer<'static>>,
    /// What the stapled OCSP response says about the leaf, or why it cannot be read; `None`
    /// when nothing was stapled.
    pub ocsp: Option<Result<super::ocsp::Stapled, String>>,
}

/// What servers presented, by server name, as recorded during handshakes.
pub type SeenChains = Arc<Mutex<HashMap<String, Presented>>>;

/// The crypto provider used for every connection.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The public web roots (webpki-roots), plus the PEM roots in `ca` when given.
pub fn roots(ca: Option<&Path>) -> Result<Arc<RootCertStore>, TlsSetupError> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca {
        let shown = path.display().to_string();
        let pem = file::read(path, file::MAX_PEM_BYTES, file::Links::Follow).map_err(|e| {
            TlsSetupError::CaFile {
                path: shown.clone(),
                message: crate::error_text::chain(&e),
            }
        })?;
        let mut added = 0;
        for der in CertificateDer::pem_slice_iter(&pem) {
            let der = der.map_err(|e| TlsSetupError::CaFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            if store.add(der).is_ok() {
                added += 1;
            }
        }
        if added == 0 {
            return Err(TlsSetupError::CaEmpty { path: shown });
        }
    }
    Ok(Arc::new(store))
}

/// A verifier that records each presented chain, then verifies it with the web PKI (or, when
/// `insecure`, accepts it).
#[derive(Debug)]
pub struct RecordingVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
    insecure: bool,
    seen: SeenChains,
}

impl RecordingVerifier {
    /// A verifier over `roots`; chains are recorded into `seen`.
    pub fn new(
        roots: Arc<RootCertStore>,
        insecure: bool,
        seen: SeenChains,
    ) -> Result<Arc<RecordingVerifier>, TlsSetupError> {
        let provider = provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        Ok(Arc::new(RecordingVerifier {
            webpki,
            provider,
            insecure,
            seen,
        }))
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        let ocsp = (!ocsp_response.is_empty()).then(|| {
            let serial = x509_parser::parse_x509_certificate(end_entity)
                .map(|(_, leaf)| leaf.raw_serial().to_vec())
                .map_err(|_| "the served certificate cannot be read".to_owned())?;
            super::ocsp::read(ocsp_response, &serial)
        });
        let presented = Presented { chain, ocsp };
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(server_name.to_str().to_ascii_lowercase(), presented);
        }
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration (HTTP/2 and HTTP/1.1 ALPN) around `verifier`.
pub fn client_config(
    verifier: Arc<RecordingVerifier>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Analyses a recorded chain for `host` against `roots` at time `now` (seconds since epoch).
pub fn analyse(
    chain: &[CertificateDer<'static>],
    roots: &Arc<RootCertStore>,
    host: &str,
    now: i64,
) -> Result<TlsObservation, TlsSetupError> {
    let Some((leaf_der, rest)) = chain.split_first() else {
        return Err(TlsSetupError::Config(
            "the server sent no certificate".into(),
        ));
    };
    let leaf = cert::parse(leaf_der).map_err(|e| TlsSetupError::Config(e.to_string()))?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| TlsSetupError::Config(format!("`{host}` is not a TLS server name ({e})")))?;
    let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|e| TlsSetupError::Config(e.to_string()))?;
    let at = |secs: i64| UnixTime::since_unix_epoch(Duration::from_secs(secs.max(0) as u64));
    let verify_error = webpki
        .verify_server_cert(leaf_der, rest, &name, &[], at(now))
        .err()
        .map(|e| e.to_string());
    let midpoint = leaf.not_before_unix + (leaf.not_after_unix - leaf.not_before_unix) / 2;
    let trusted = match webpki.verify_server_cert(leaf_der, rest, &name, &[], at(midpoint)) {
        Ok(_) => true,
        Err(rustls::Error::InvalidCertificate(e)) => matches!(
            e,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        Err(_) => false,
    };
    let missing_intermediate = !leaf.self_signed && issuer_missing(leaf_der, rest, roots);
    Ok(TlsObservation {
        chain: rest
            .iter()
            .filter_map(|c| cert::parse(c).ok().map(|i| i.subject))
            .collect(),
        trusted,
        verify_error,
        host_match: crate::diff::covers(&leaf.sans, host),
        missing_intermediate,
        days_left: (leaf.not_after_unix - now).div_euclid(86_400),
        ocsp_stapled: None,
        ocsp: None,
        leaf,
    })
}

/// Whether no sent certificate and no trusted root is the leaf's issuer.
fn issuer_missing(
    leaf: &CertificateDer<'_>,
    rest: &[CertificateDer<'_>],
    roots: &RootCertStore,
) -> bool {
    let Some((_, issuer)) = cert::names(leaf) else {
        return false;
    };
    let sent = rest
        .iter()
        .filter_map(|c| cert::names(c))
        .any(|(subject, _)| subject == issuer);
    let anchored = roots
        .roots
        .iter()
        .any(|a| a.subject.as_ref() == cert::der_content(&issuer));
    !sent && !anchored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{Ca, Validity, self_signed};

    fn der(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }

    fn roots_with(pem: &str) -> Arc<RootCertStore> {
        let mut store = RootCertStore::empty();
        store.add(der(pem)).unwrap();
        Arc::new(store)
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn complete_trusted_chain() {
        let root = Ca::new("root").unwrap();
        let mid = root.intermediate("mid").unwrap();
        let leaf = mid.leaf(&["a.test"], Validity::days(90)).unwrap();
        let chain = vec![der(&leaf.cert_pem), der(&mid.cert_pem)];
        let t = analyse(&chain, &roots_with(&root.cert_pem), "a.test", now()).unwrap();
        assert!(t.trusted && t.host_match && !t.missing_intermediate);
        assert_eq!(t.verify_error, None);
        assert!((88..=90).contains(&t.days_left));
    }

    #[test]
    fn missing_intermediate_is_spotted() {
        let root = Ca::new("root").unwrap();
        let mid = root.intermediate("mid").unwrap();
        let leaf = mid.leaf(&["a.test"], Validity::days(90)).unwrap();
        let t = analyse(
            &[der(&leaf.cert_pem)],
            &roots_with(&root.cert_pem),
            "a.test",
            now(),
        )
        .unwrap();
        assert!(t.missing_intermediate && !t.trusted);
        assert!(t.verify_error.is_some());
    }

    #[test]
    fn expired_but_trusted_and_mismatch() {
        let root = Ca::new("root").unwrap();
        let v = Validity {
            from_days: -30,
            to_days: -2,
        };
        let leaf = root.leaf(&["a.test"], v).unwrap();
        let t = analyse(
            &[der(&leaf.cert_pem)],
            &roots_with(&root.cert_pem),
            "b.test",
            now(),
        )
        .unwrap();
        assert!(t.trusted, "trust is judged inside the validity window");
        assert!(!t.host_match);
        assert!(t.days_left < 0);
        assert!(t.verify_error.is_some());
    }

    #[test]
    fn the_verifier_records_whether_ocsp_was_stapled() {
        let root = Ca::new("root").unwrap();
        let leaf = der(&root.leaf(&["a.test"], Validity::days(90)).unwrap().cert_pem);
        let seen = SeenChains::default();
        let verifier =
            RecordingVerifier::new(roots_with(&root.cert_pem), false, seen.clone()).unwrap();
        let at = UnixTime::since_unix_epoch(Duration::from_secs(now() as u64));
        for (name, ocsp, stapled) in [
            ("a.test", &b"\x30\x03\x0a\x01\x00"[..], true),
            ("b.test", &[][..], false),
        ] {
            let server = ServerName::try_from(name).unwrap();
            // `b.test` does not match the certificate: it is recorded before it is refused.
            let verified = verifier.verify_server_cert(&leaf, &[], &server, ocsp, at);
            assert_eq!(verified.is_ok(), stapled);
            let presented = seen.lock().unwrap()[name].clone();
            assert_eq!(presented.ocsp.is_some(), stapled);
            assert_eq!(presented.chain, std::slice::from_ref(&leaf));
        }
    }

    #[test]
    fn self_signed_is_untrusted_not_missing() {
        let root = Ca::new("root").unwrap();
        let leaf = self_signed(&["a.test"], Validity::days(30)).unwrap();
        let t = analyse(
            &[der(&leaf.cert_pem)],
            &roots_with(&root.cert_pem),
            "a.test",
            now(),
        )
        .unwrap();
        assert!(!t.trusted && !t.missing_intermediate && t.host_match);
    }
}
