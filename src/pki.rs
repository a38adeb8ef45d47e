//! A small in-memory certificate authority (rcgen) for `siteward demo` and the test suite:
//! root, intermediate and leaf certificates with chosen names and validity, as PEM.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A CA that can sign intermediates and leaves.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The CA's own certificate, PEM.
    pub cert_pem: String,
}

/// Validity window relative to now, in days (negative = in the past).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub from_days: i64,
    pub to_days: i64,
}

impl Validity {
    /// Valid from yesterday for `days` days.
    pub fn days(days: i64) -> Validity {
        Validity {
            from_days: -1,
            to_days: days,
        }
    }
}

fn window(params: &mut CertificateParams, v: Validity) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(v.from_days);
    params.not_after = now + Duration::days(v.to_days);
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "siteward test");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    window(&mut params, Validity::days(3650));
    params
}

fn leaf_params(domains: &[&str], validity: Validity) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = domains.iter().map(|d| (*d).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(
        DnType::CommonName,
        domains.first().copied().unwrap_or("leaf"),
    );
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    window(&mut params, validity);
    Ok(params)
}

impl Ca {
    /// A new self-signed root CA named `name`.
    pub fn new(name: &str) -> Result<Ca, rcgen::Error> {
        let params = ca_params(name);
        let key = KeyPair::generate()?;
        let cert_pem = params.self_signed(&key)?.pem();
        Ok(Ca {
            params,
            key,
            cert_pem,
        })
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Result<Ca, rcgen::Error> {
        let mut params = ca_params(name);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert_pem = params.signed_by(&key, &issuer)?.pem();
        Ok(Ca {
            params,
            key,
            cert_pem,
        })
    }

    /// A server certificate (ECDSA P-256) for `domains`, signed by this CA.
    pub fn leaf(&self, domains: &[&str], validity: Validity) -> Result<Issued, rcgen::Error> {
        let params = leaf_params(domains, validity)?;
        let key = KeyPair::generate()?;
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert_pem = params.signed_by(&key, &issuer)?.pem();
        Ok(Issued {
            cert_pem,
            key_pem: key.serialize_pem(),
        })
    }
}

/// A self-signed server certificate (not a CA) for `domains`.
pub fn self_signed(domains: &[&str], validity: Validity) -> Result<Issued, rcgen::Error> {
    let params = leaf_params(domains, validity)?;
    let key = KeyPair::generate()?;
    let cert_pem = params.self_signed(&key)?.pem();
    Ok(Issued {
        cert_pem,
        key_pem: key.serialize_pem(),
    })
}
