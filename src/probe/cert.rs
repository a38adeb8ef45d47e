//! Pure X.509 reading: DER → [`CertInfo`], host-name matching against SANs, and the raw
//! subject/issuer names used to spot a missing intermediate.

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::observe::live::CertInfo;

/// A certificate could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("the server sent a certificate that is not valid DER X.509 ({0})")]
pub struct CertParseError(String);

/// Parses one DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, CertParseError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertParseError(e.to_string()))?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(ip) => sans.extend(ip_text(ip)),
                _ => {}
            }
        }
    }
    let v = cert.validity();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string(),
        sans,
        not_before: rfc3339(v.not_before.timestamp()),
        not_after: rfc3339(v.not_after.timestamp()),
        not_after_unix: v.not_after.timestamp(),
        not_before_unix: v.not_before.timestamp(),
        key: key_name(&cert),
        signature: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        ocsp_responder: ocsp_responder(&cert),
    })
}

/// The first OCSP responder URL in the Authority Information Access extension.
fn ocsp_responder(cert: &X509Certificate<'_>) -> Option<String> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => {
                aia.iter()
                    .find_map(|d| match (&d.access_method, &d.access_location) {
                        (m, GeneralName::URI(uri))
                            if *m == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP =>
                        {
                            Some((*uri).to_owned())
                        }
                        _ => None,
                    })
            }
            _ => None,
        })
}

/// `(subject, issuer)` raw DER names of a certificate, for chain matching.
pub fn names(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some((
        cert.subject().as_raw().to_vec(),
        cert.issuer().as_raw().to_vec(),
    ))
}

/// The content of a DER SEQUENCE (its tag and length stripped); trust anchors store names so.
pub fn der_content(raw: &[u8]) -> &[u8] {
    match raw {
        [0x30, len, rest @ ..] if *len < 0x80 => rest,
        [0x30, len, rest @ ..] => rest.get(usize::from(len & 0x7f)..).unwrap_or(rest),
        _ => raw,
    }
}

fn ip_text(raw: &[u8]) -> Option<String> {
    match raw.len() {
        4 => <[u8; 4]>::try_from(raw)
            .ok()
            .map(|b| std::net::Ipv4Addr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(raw)
            .ok()
            .map(|b| std::net::Ipv6Addr::from(b).to_string()),
        _ => None,
    }
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

fn key_name(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.3.101.112" => return "ed25519".into(),
        "1.3.101.113" => return "ed448".into(),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => format!("rsa-{}", k.key_size()),
        Ok(PublicKey::EC(p)) => match p.key_size() {
            256 => "ecdsa-p256".into(),
            384 => "ecdsa-p384".into(),
            521 => "ecdsa-p521".into(),
            n => format!("ecdsa-{n}"),
        },
        _ => format!("unknown ({})", spki.algorithm.algorithm.to_id_string()),
    }
}

fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.11" => "sha256-rsa",
        "1.2.840.113549.1.1.12" => "sha384-rsa",
        "1.2.840.113549.1.1.13" => "sha512-rsa",
        "1.2.840.113549.1.1.5" => "sha1-rsa",
        "1.2.840.113549.1.1.10" => "rsa-pss",
        "1.2.840.10045.4.3.2" => "ecdsa-sha256",
        "1.2.840.10045.4.3.3" => "ecdsa-sha384",
        "1.2.840.10045.4.3.4" => "ecdsa-sha512",
        "1.3.101.112" => "ed25519",
        other => return other.to_owned(),
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{Ca, Validity};
    use rustls::pki_types::{CertificateDer, pem::PemObject};

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn parses_a_leaf() {
        let ca = Ca::new("test root").unwrap();
        let leaf = ca
            .leaf(&["a.test", "www.a.test"], Validity::days(5))
            .unwrap();
        let info = parse(&der(&leaf.cert_pem)).unwrap();
        assert_eq!(info.sans, ["a.test", "www.a.test"]);
        assert_eq!(info.key, "ecdsa-p256");
        assert_eq!(info.signature, "ecdsa-sha256");
        assert!(info.issuer.contains("test root"));
        assert!(!info.self_signed);
        assert!(info.not_after_unix > info.not_before_unix);
        let (_, issuer) = names(&der(&leaf.cert_pem)).unwrap();
        let (root_subject, _) = names(&der(&ca.cert_pem)).unwrap();
        assert_eq!(issuer, root_subject);
        assert!(der_content(&issuer).len() + 2 <= issuer.len());
        assert_eq!(info.ocsp_responder, None);
    }

    #[test]
    fn reads_the_ocsp_responder() {
        // AuthorityInfoAccess: one AccessDescription, id-ad-ocsp → URI `http://o.test/`.
        let mut aia = vec![
            0x30, 0x1c, 0x30, 0x1a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01,
            0x86, 0x0e,
        ];
        aia.extend_from_slice(b"http://o.test/");
        let mut params = rcgen::CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                aia,
            ));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let info = parse(cert.der()).unwrap();
        assert_eq!(info.ocsp_responder.as_deref(), Some("http://o.test/"));
    }
}
