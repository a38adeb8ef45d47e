//! What observation found on one live site: [`LiveSite`] and its parts. Pure data; the probes
//! fill it, the diff reads it, the JSON report can embed it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::CheckOutcome;

/// Everything observed on one site.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveSite {
    pub site: String,
    /// `insecure_skip_verify: true` was in effect: reported on every run.
    pub insecure_skip_verify: bool,
    /// Why the site could not be observed at all (then it is `unknown`).
    pub error: Option<String>,
    /// Whether the failure was the site not answering (refused, timed out): health `down`.
    pub unreachable: bool,
    /// The response to `GET url` (no redirects followed), when one arrived.
    pub page: Option<Page>,
    /// Why HTTPS requests were refused although the server answered (certificate problems):
    /// headers, checks and software were then not observed.
    pub https_refused: Option<String>,
    /// The certificate chain the server sent, analysed.
    pub tls: Option<TlsObservation>,
    /// One entry per desired redirect, in the same order.
    pub redirects: Vec<RedirectObservation>,
    pub checks: Vec<CheckOutcome>,
    /// Passive fingerprint, for WordPress sites without a software provider.
    pub software: Option<SoftwareObservation>,
    /// What the web grade (the MDN HTTP Observatory's tests) reads: both front-page redirect
    /// chains, cookies, the final body, a CORS preflight. Graded, not digested. Boxed, like
    /// `managed`: most sites of a large run have neither, and every site's observation is held.
    #[serde(skip)]
    pub graded: Option<Box<crate::probe::observatory::View>>,
    /// siteward's own web-server file (`manage.server`), as its provider reads it.
    #[serde(skip)]
    pub managed: Option<Box<super::managed::Managed>>,
    /// The software provider's inventory and the zips it would install (`manage.software`).
    #[serde(skip)]
    pub wordpress: Option<crate::wordpress::Observed>,
}

/// One HTTP response.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Page {
    pub status: u16,
    /// Lowercased header names → every value, in the order sent.
    pub headers: BTreeMap<String, Vec<String>>,
    pub ms: u64,
}

impl Page {
    /// All values of a header joined with `, ` (as RFC 9110 allows), `None` when not sent.
    pub fn header(&self, lower_name: &str) -> Option<String> {
        self.headers.get(lower_name).map(|v| v.join(", "))
    }
}

/// The leaf certificate and what verifying its chain said.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TlsObservation {
    pub leaf: CertInfo,
    /// Subjects of the other certificates the server sent, in order.
    pub chain: Vec<String>,
    /// The chain leads to a trusted root (judged inside the leaf's validity window, so an
    /// expired certificate from a trusted CA is still `trusted`).
    pub trusted: bool,
    /// The verification error a client would see right now, if any.
    pub verify_error: Option<String>,
    /// The leaf is valid for the URL's host name.
    pub host_match: bool,
    /// The leaf's issuer is neither sent nor a trusted root: an intermediate is missing.
    pub missing_intermediate: bool,
    /// Whole days until `not_after` (negative when expired); ticks, so never digested.
    pub days_left: i64,
    /// Whether the server stapled an OCSP response to the handshake that served the page (the
    /// client always asks for one); `None` when the chain was analysed without a handshake.
    pub ocsp_stapled: Option<bool>,
    /// What the stapled response says about the leaf (status, validity window), or why it
    /// cannot be read; not recorded (it ticks).
    #[serde(skip)]
    pub ocsp: Option<Result<crate::probe::ocsp::Stapled, String>>,
}

/// Parsed fields of one X.509 certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// Subject alternative names: DNS names, and IP addresses as text.
    pub sans: Vec<String>,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// Seconds since the epoch of `not_after`.
    #[serde(skip)]
    pub not_after_unix: i64,
    /// Seconds since the epoch of `not_before`.
    #[serde(skip)]
    pub not_before_unix: i64,
    /// `ecdsa-p256`, `rsa-2048`, … (a [`crate::spec::KeyType`] name when it is one).
    pub key: String,
    pub signature: String,
    pub self_signed: bool,
    /// The OCSP responder URL the certificate names (Authority Information Access), if any.
    pub ocsp_responder: Option<String>,
}

/// What requesting one redirect source found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedirectObservation {
    pub from: String,
    /// Every response followed, first to last (at most 10 hops).
    pub hops: Vec<Hop>,
    /// Why the chain stopped early, if it did.
    pub error: Option<String>,
}

/// One response in a redirect chain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hop {
    pub url: String,
    pub status: u16,
    /// The `Location` header resolved against `url`.
    pub location: Option<String>,
}

/// Installed software: the passive WordPress fingerprint, or a software provider's inventory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SoftwareObservation {
    pub core: Detected,
    pub plugins: BTreeMap<String, Detected>,
    pub themes: BTreeMap<String, Detected>,
    /// The provider that listed it (`wordpress via php`); `None` for the passive fingerprint.
    /// A provider's list is complete: a plugin or theme it does not name is not installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A detected version with its confidence, or why none could be told.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Detected {
    /// The version, only when evidence agrees and confidence is high enough.
    pub version: Option<String>,
    /// 0.0–1.0.
    pub confidence: f32,
    /// Found installed at all (a plugin's readme or assets answered).
    pub found: bool,
    /// What was seen, e.g. `generator meta 6.4.3`, `feed generator 6.4.3`.
    pub evidence: Vec<String>,
    /// Why there is no version (`no evidence`, `conflicting evidence: …`, `low confidence`).
    pub unknown_reason: Option<String>,
    /// Whether the plugin or theme is active, when a provider said so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}
