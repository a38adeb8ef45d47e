//! The `acme` certificate provider (`manage.certificate`): a new certificate for every desired
//! domain from an ACME CA, deployed where the web server reads it.
//!
//! # Guarantees
//! - The ACME protocol is instant-acme's (no JWS of our own); the account key is a `file:` or
//!   `env:` reference, created with mode 0600 when a `file:` is absent ([`account`]).
//! - http-01 tokens are written into `webroot` through the site's transport and removed again
//!   whatever happens ([`issue`]).
//! - The new private key is generated here, of the desired type, and only ever written with
//!   mode 0600; certificate and key are written atomically, tested, reloaded, and verified over
//!   TLS (the served serial is the new one); on any failure both files are restored and the
//!   server reloaded ([`deploy`]).
//!
//! # Caveats
//! Only `http-01` is supported, so wildcard domains are proposed, never applied.

mod account;
pub mod advice;
pub mod backoff;
mod deploy;
mod issue;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spec::{CertificateManage, KeyType, Site};
use crate::transport::{Transport, TransportError};
use crate::verify::Verify;

/// The provider's name in plans and records.
pub const NAME: &str = "acme";

/// Default commands around a deploy, as for the nginx server provider.
const TEST_COMMAND: &[&str] = &["nginx", "-t"];
const RELOAD_COMMAND: &[&str] = &["nginx", "-s", "reload"];

/// A certificate apply failed. Messages name the site and the stage; never key material.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("{0}")]
    Config(String),
    #[error("account key `{reference}`: {detail}")]
    AccountKey { reference: String, detail: String },
    #[error("ACME server `{directory}`: {detail}")]
    Acme {
        directory: String,
        detail: String,
        /// When the server asked to be polled again, if it did.
        retry_after: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("http-01 challenge for `{domain}` failed: {detail}")]
    Challenge { domain: String, detail: String },
    #[error("issuance did not finish within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{stage} failed: {detail}; the previous certificate and key were restored")]
    Deploy { stage: &'static str, detail: String },
    #[error(
        "{stage} failed: {detail}; restoring the previous certificate and key failed too: \
         {rollback}; fix `{path}` by hand"
    )]
    RollbackFailed {
        stage: &'static str,
        detail: String,
        rollback: String,
        path: PathBuf,
    },
}

impl AcmeError {
    /// Whether this failure was the ACME exchange's (the CA, the challenge, a timeout), which
    /// makes later runs back off; `Some` of a `Retry-After` the CA sent.
    pub fn backs_off(&self) -> Option<Option<chrono::DateTime<chrono::Utc>>> {
        match self {
            AcmeError::Acme { retry_after, .. } => Some(*retry_after),
            AcmeError::Challenge { .. } | AcmeError::Timeout(_) => Some(None),
            _ => None,
        }
    }
}

/// A site's `manage.certificate` with `provider: acme`, checked and with defaults filled in.
#[derive(Debug, Clone)]
pub struct Acme {
    directory: String,
    directory_ca: Option<PathBuf>,
    email: Option<String>,
    account_key: crate::spec::SecretRef,
    webroot: PathBuf,
    cert_path: PathBuf,
    key_path: PathBuf,
    test: Vec<String>,
    reload: Vec<String>,
    /// Every name the certificate must cover: the URL's host first, then `certificate.domains`.
    domains: Vec<String>,
    key: KeyType,
}

/// What was issued and deployed: for the run record (never key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    pub serial: String,
    pub not_after: String,
    pub issuer: String,
    pub domains: Vec<String>,
    /// Whole days between `not_before` and `not_after`.
    pub lifetime_days: i64,
}

impl Issuance {
    /// Advice when `certificate.min_days_left` does not suit the lifetime the CA issues:
    /// above it every run renews; above a third of it renewals come needlessly early.
    pub fn renewal_advice(&self, site: &Site) -> Option<String> {
        let min = i64::from(site.certificate.as_ref()?.min_days_left);
        crate::diff::cert::renewal_advice(min, self.lifetime_days)
    }
}

impl std::fmt::Display for Issuance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "issued serial {} (not after {}, issuer `{}`) for {}",
            self.serial,
            self.not_after,
            self.issuer,
            self.domains.join(", ")
        )
    }
}

/// Whether the `acme` provider can renew `site`'s certificate: `Ok` when every key it needs is
/// set, else what to add (the plan's reason for proposing instead).
pub fn can_renew(site: &Site) -> Result<(), String> {
    Acme::for_site(site, Path::new(".")).map(drop)
}

impl Acme {
    /// The provider for `site`; relative operational paths are relative to the state repo
    /// `repo` (and must be absolute over SSH). The error is a sentence the plan shows.
    pub fn for_site(site: &Site, repo: &Path) -> Result<Acme, String> {
        let Some(m) = &site.manage.certificate else {
            return Err(
                "no provider manages this site's certificate (`manage.certificate`)".to_owned(),
            );
        };
        if site.certificate.as_ref().and_then(|c| c.issuer) == Some(crate::spec::Issuer::Manual) {
            return Err(
                "`certificate.issuer: manual`: this certificate is renewed by hand, not by `acme`"
                    .to_owned(),
            );
        }
        let missing = |key: &str| {
            format!("`manage.certificate.{key}` is not set; the `acme` provider needs it to renew")
        };
        if m.challenge != "http-01" {
            return Err(format!(
                "`manage.certificate.challenge: {}` is not supported; use `http-01`",
                m.challenge
            ));
        }
        let directory = m.directory.as_ref().ok_or_else(|| missing("directory"))?;
        let account_key = m
            .account_key
            .clone()
            .ok_or_else(|| missing("account_key"))?;
        let path = |key: &str, p: &Option<PathBuf>| -> Result<PathBuf, String> {
            let p = p.as_ref().ok_or_else(|| missing(key))?;
            if m.transport.host.is_some() && p.is_relative() {
                return Err(format!(
                    "`manage.certificate.{key}` `{}` must be an absolute path when `host` is set",
                    p.display()
                ));
            }
            Ok(crate::load::site::resolve(repo, p))
        };
        let webroot = path("webroot", &m.webroot)?;
        let cert_path = path("cert_path", &m.cert_path)?;
        let key_path = path("key_path", &m.key_path)?;
        let domains = domains(site);
        if let Some(w) = domains.iter().find(|d| d.starts_with("*.")) {
            return Err(format!(
                "`{w}` is a wildcard, which `http-01` cannot validate; issue it by hand"
            ));
        }
        Ok(Acme {
            directory: directory.as_str().to_owned(),
            directory_ca: m
                .directory_ca
                .as_ref()
                .map(|p| crate::load::site::resolve(repo, p)),
            email: m.email.clone(),
            account_key,
            webroot,
            cert_path,
            key_path,
            test: words(m.test_command.as_ref(), TEST_COMMAND),
            reload: words(m.reload_command.as_ref(), RELOAD_COMMAND),
            domains,
            key: site
                .certificate
                .as_ref()
                .and_then(|c| c.key)
                .unwrap_or(KeyType::EcdsaP256),
        })
    }

    /// The certificate file on the target (the crash journal names it).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The transport of `manage.certificate`.
    pub fn transport(
        site: &Site,
        repo: &Path,
        timeouts: crate::transport::Timeouts,
    ) -> Result<Transport, TransportError> {
        let spec = site
            .manage
            .certificate
            .as_deref()
            .map(|m: &CertificateManage| m.transport.clone())
            .unwrap_or_default();
        Transport::from_spec(&spec, repo, timeouts)
    }

    /// Issues a certificate for every domain and deploys it: write, test, reload, verify with
    /// `verify` (plus the new serial), restore on any failure. `repo` holds the account key.
    pub async fn apply(
        &self,
        site: &Site,
        repo: &Path,
        transport: &Transport,
        verify: &Verify<'_>,
    ) -> Result<Issuance, AcmeError> {
        // 1. The account key (created 0600 when a `file:` is absent).
        let account_key = account::load_or_create(&self.account_key, repo)?;
        // 2. A new key of the desired type and a certificate for it (challenge files removed
        //    whatever happens).
        let issued = issue::issue(self, &account_key, transport).await?;
        // 3. Deploy and verify; restore on failure.
        let verify = verify.clone().with_serial(issued.info.serial.clone());
        deploy::deploy(self, site, transport, &issued, &verify).await?;
        Ok(issued.info)
    }
}

/// The names the certificate must cover, lowercased, without duplicates: the URL's host, then
/// `certificate.domains` in order.
fn domains(site: &Site) -> Vec<String> {
    let mut out = vec![site.url.host().to_ascii_lowercase()];
    for d in site.certificate.iter().flat_map(|c| &c.domains) {
        let d = d.trim_end_matches('.').to_ascii_lowercase();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn words(cmd: Option<&crate::spec::Command>, default: &[&str]) -> Vec<String> {
    match cmd {
        Some(c) => c.words().to_vec(),
        None => default.iter().map(|w| (*w).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Source, load_sources};

    fn site(manage: &str) -> Site {
        let text = format!(
            "name: a.test\nurl: https://a.test/\ncertificate:\n  domains: [a.test, www.a.test]\n  \
             key: rsa-2048\nmanage:\n  certificate:\n    provider: acme\n{manage}"
        );
        let (state, problems) = load_sources(&[Source {
            path: "sites/a.test.yaml".into(),
            text,
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    const FULL: &str = "    directory: https://127.0.0.1:14000/dir\n    account_key: file:acme.key\n    \
                        webroot: /srv/www\n    cert_path: /etc/ssl/a.crt\n    key_path: /etc/ssl/a.key\n";

    #[test]
    fn a_complete_section_can_renew_with_nginx_defaults() {
        let s = site(FULL);
        assert_eq!(can_renew(&s), Ok(()));
        let a = Acme::for_site(&s, Path::new("/repo")).unwrap();
        assert_eq!(a.domains, ["a.test", "www.a.test"]);
        assert_eq!(a.key, KeyType::Rsa2048);
        assert_eq!(a.test, ["nginx", "-t"]);
        assert_eq!(a.reload, ["nginx", "-s", "reload"]);
    }

    #[test]
    fn a_missing_key_is_the_reason_named() {
        for key in [
            "directory",
            "account_key",
            "webroot",
            "cert_path",
            "key_path",
        ] {
            let manage: String = FULL
                .lines()
                .filter(|l| !l.trim_start().starts_with(&format!("{key}:")))
                .map(|l| format!("{l}\n"))
                .collect();
            let why = can_renew(&site(&manage)).unwrap_err();
            assert!(
                why.contains(&format!("`manage.certificate.{key}`")),
                "{why}"
            );
        }
    }

    #[test]
    fn renewal_advice_compares_min_days_left_with_the_lifetime() {
        let issued = |lifetime_days| Issuance {
            serial: "01".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            issuer: "CN=test".into(),
            domains: vec!["a.test".into()],
            lifetime_days,
        };
        // `min_days_left` is 21 by default.
        let s = site(FULL);
        assert_eq!(issued(90).renewal_advice(&s), None);
        let early = issued(47).renewal_advice(&s).unwrap();
        assert!(
            early.contains("more than a third of the 47-day lifetime"),
            "{early}"
        );
        let always = issued(20).renewal_advice(&s).unwrap();
        assert!(always.contains("so every run renews"), "{always}");
    }

    #[test]
    fn a_manual_issuer_is_never_renewed_by_acme() {
        let text = "name: a.test\nurl: https://a.test/\ncertificate:\n  issuer: manual\n\
                    manage:\n  certificate:\n    provider: acme\n";
        let (state, _) = load_sources(&[Source {
            path: "sites/a.test.yaml".into(),
            text: format!("{text}{FULL}"),
        }]);
        let manual = state.sites.into_values().next().expect("site");
        assert!(can_renew(&manual).unwrap_err().contains("issuer: manual"));
    }

    #[test]
    fn relative_paths_over_ssh_are_refused() {
        let manage = FULL.replace("/srv/www", "www") + "    host: ssh://deploy@web01\n";
        let why = can_renew(&site(&manage)).unwrap_err();
        assert!(why.contains("must be an absolute path"), "{why}");
    }
}
