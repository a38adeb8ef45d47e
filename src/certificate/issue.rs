//! One issuance through instant-acme: the account (from its key), an order for every domain,
//! http-01 answered by files in the webroot (written through the transport and removed again
//! whatever happens), a CSR for a new key of the desired type, and the certificate chain.

use std::path::PathBuf;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus,
    RetryPolicy,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use super::{Acme, AcmeError, Issuance};
use crate::secret::Secret;
use crate::spec::KeyType;
use crate::transport::Transport;

/// How long the CA may take to validate every challenge, and to issue after the CSR.
const POLL: Duration = Duration::from_secs(60);

/// How long one issuance (account, order, challenges, certificate) may take in all.
pub(super) const ISSUE_BUDGET: Duration = Duration::from_secs(150);

/// A certificate chain (PEM, leaf first) and its new private key.
pub(super) struct Issued {
    pub chain_pem: String,
    /// PEM PKCS#8; shown only as a digest.
    pub key_pem: Secret,
    pub info: Issuance,
}

/// Issues a certificate for `acme`'s domains with the account `account_key`, within
/// [`ISSUE_BUDGET`] in all. The budget bounds each phase, never the removal of challenge
/// files, which always runs.
pub(super) async fn issue(
    acme: &Acme,
    account_key: &Secret,
    transport: &Transport,
) -> Result<Issued, AcmeError> {
    let deadline = tokio::time::Instant::now() + ISSUE_BUDGET;
    // 1. The account and the order.
    let mut order = within(deadline, open_order(acme, account_key)).await?;
    // 2. The challenges, answered from the webroot; the files go whatever happens.
    let mut written = Vec::new();
    let validated = within(
        deadline,
        validate(acme, &mut order, transport, &mut written),
    )
    .await;
    let mut cleanup = Vec::new();
    for path in &written {
        if let Err(e) = transport.remove(path).await {
            cleanup.push(e.to_string());
        }
    }
    if !cleanup.is_empty() {
        tracing::warn!(errors = %cleanup.join("; "), "challenge files could not be removed");
    }
    validated?;
    // 3. A new key of the desired type, the CSR, the certificate.
    let key = new_key(acme.key)?;
    let csr = csr(&acme.domains, &key)?;
    let chain_pem = within(deadline, async {
        let api = |e: instant_acme::Error| api_error(acme, &e);
        order.finalize_csr(&csr).await.map_err(api)?;
        order
            .poll_certificate(&RetryPolicy::new().timeout(POLL))
            .await
            .map_err(api)
    })
    .await?;
    let info = inspect(acme, &chain_pem)?;
    Ok(Issued {
        chain_pem,
        key_pem: Secret::new(key.serialize_pem()),
        info,
    })
}

/// `phase`, unless the issuance's deadline passes first.
async fn within<T>(
    deadline: tokio::time::Instant,
    phase: impl Future<Output = Result<T, AcmeError>>,
) -> Result<T, AcmeError> {
    tokio::time::timeout_at(deadline, phase)
        .await
        .map_err(|_| AcmeError::Timeout(ISSUE_BUDGET))?
}

/// The account (registered on first use; its key identifies it) and a new order for every
/// domain.
async fn open_order(acme: &Acme, account_key: &Secret) -> Result<Order, AcmeError> {
    let api = |e: instant_acme::Error| api_error(acme, &e);
    let builder = match &acme.directory_ca {
        Some(ca) => Account::builder_with_root(ca),
        None => Account::builder(),
    }
    .map_err(api)?;
    let der = super::account::der(account_key).map_err(|detail| AcmeError::AccountKey {
        reference: acme.account_key.to_string(),
        detail,
    })?;
    let key =
        instant_acme::Key::from_pkcs8_der(der.clone_key()).map_err(|e| AcmeError::AccountKey {
            reference: acme.account_key.to_string(),
            detail: format!("{e}; instant-acme signs with ECDSA P-256 keys only"),
        })?;
    let (account, _) = builder
        .create_from_key((key, PrivateKeyDer::Pkcs8(der)), acme.directory.clone())
        .await
        .map_err(api)?;
    if let Some(email) = &acme.email {
        let contact = format!("mailto:{email}");
        account
            .update_contacts(&[contact.as_str()])
            .await
            .map_err(api)?;
    }
    let ids: Vec<Identifier> = acme.domains.iter().cloned().map(Identifier::Dns).collect();
    account.new_order(&NewOrder::new(&ids)).await.map_err(api)
}

/// Answers every pending http-01 challenge (recording each file written in `written`) and
/// waits until the order is ready; a failure names the domain whose challenge failed.
async fn validate(
    acme: &Acme,
    order: &mut Order,
    transport: &Transport,
    written: &mut Vec<PathBuf>,
) -> Result<(), AcmeError> {
    let api = |e: instant_acme::Error| api_error(acme, &e);
    let mut authzs = order.authorizations();
    while let Some(authz) = authzs.next().await {
        let mut authz = authz.map_err(api)?;
        let domain = authz.identifier().to_string();
        match authz.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            other => {
                return Err(AcmeError::Challenge {
                    domain,
                    detail: format!("the authorization is {other:?} before any challenge"),
                });
            }
        }
        let mut challenge =
            authz
                .challenge(ChallengeType::Http01)
                .ok_or_else(|| AcmeError::Challenge {
                    domain: domain.clone(),
                    detail: "the CA offers no http-01 challenge".to_owned(),
                })?;
        if !token_ok(&challenge.token) {
            return Err(AcmeError::Challenge {
                domain,
                detail: "the CA sent a token that is not a plain file name".to_owned(),
            });
        }
        let path = acme
            .webroot
            .join(".well-known/acme-challenge")
            .join(&challenge.token);
        written.push(path.clone());
        transport
            .write(&path, challenge.key_authorization().as_str().as_bytes())
            .await?;
        challenge.set_ready().await.map_err(api)?;
    }
    let polled = order.poll_ready(&RetryPolicy::new().timeout(POLL)).await;
    match polled {
        Ok(OrderStatus::Ready) => Ok(()),
        Ok(_) | Err(instant_acme::Error::Api(_)) => Err(failed_challenge(order).await),
        Err(e) => Err(api(e)),
    }
}

/// An error of the ACME exchange, with the time the server asked to be polled again, if any.
fn api_error(acme: &Acme, e: &instant_acme::Error) -> AcmeError {
    let retry_after = match e {
        instant_acme::Error::Timeout(Some(at)) => {
            let wait = at.saturating_duration_since(std::time::Instant::now());
            chrono::Duration::from_std(wait)
                .ok()
                .map(|d| chrono::Utc::now() + d)
        }
        _ => None,
    };
    AcmeError::Acme {
        directory: acme.directory.clone(),
        detail: crate::error_text::chain(e),
        retry_after,
    }
}

/// The domain whose challenge failed and the CA's words about it.
async fn failed_challenge(order: &mut Order) -> AcmeError {
    let mut authzs = order.authorizations();
    let mut domains = Vec::new();
    while let Some(Ok(mut authz)) = authzs.next().await {
        let domain = authz.identifier().to_string();
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if state.status == AuthorizationStatus::Valid {
            continue;
        }
        let detail = state
            .challenges
            .iter()
            .filter(|c| c.r#type == ChallengeType::Http01)
            .find_map(|c| c.error.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| format!("the authorization is {:?}", state.status));
        domains.push((domain, detail));
    }
    match domains.into_iter().next() {
        Some((domain, detail)) => AcmeError::Challenge { domain, detail },
        None => AcmeError::Challenge {
            domain: "(unknown)".to_owned(),
            detail: "the order became invalid".to_owned(),
        },
    }
}

/// A token is used as a file name: base64url characters only (RFC 8555 §8.3).
fn token_ok(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new private key of type `key`.
fn new_key(key: KeyType) -> Result<rcgen::KeyPair, AcmeError> {
    use rcgen::{KeyPair, RsaKeySize};
    let made = match key {
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
    };
    made.map_err(|e| AcmeError::Config(format!("cannot generate a `{}` key: {e}", key.as_str())))
}

/// A CSR (DER) for `domains` signed by `key`.
fn csr(domains: &[String], key: &rcgen::KeyPair) -> Result<Vec<u8>, AcmeError> {
    let fail = |e: rcgen::Error| AcmeError::Config(format!("cannot build the CSR: {e}"));
    let mut params = rcgen::CertificateParams::new(domains.to_vec()).map_err(fail)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    Ok(params.serialize_request(key).map_err(fail)?.der().to_vec())
}

/// The issued leaf's facts; refuses a certificate that does not cover every domain.
fn inspect(acme: &Acme, chain_pem: &str) -> Result<Issuance, AcmeError> {
    let bad = |detail: String| AcmeError::Acme {
        directory: acme.directory.clone(),
        detail,
        retry_after: None,
    };
    let leaf = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| bad("the CA sent no PEM certificate".to_owned()))?;
    let info = crate::probe::cert::parse(&leaf).map_err(|e| bad(e.to_string()))?;
    if let Some(d) = acme
        .domains
        .iter()
        .find(|d| !crate::diff::cert::covers(&info.sans, d))
    {
        return Err(bad(format!("the issued certificate does not cover `{d}`")));
    }
    Ok(Issuance {
        serial: info.serial,
        not_after: info.not_after,
        issuer: info.issuer,
        domains: acme.domains.clone(),
        lifetime_days: (info.not_after_unix - info.not_before_unix) / 86_400,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_plain_file_names() {
        assert!(token_ok("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
        for bad in ["", "../x", "a/b", "a.b", "a b"] {
            assert!(!token_ok(bad), "{bad}");
        }
    }

    #[test]
    fn every_key_type_can_be_generated_and_signs_a_csr() {
        for key in [
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::Ed25519,
            KeyType::Rsa2048,
        ] {
            let k = new_key(key).unwrap();
            assert!(k.serialize_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
            assert!(
                !csr(&["a.test".into(), "www.a.test".into()], &k)
                    .unwrap()
                    .is_empty()
            );
        }
    }
}
