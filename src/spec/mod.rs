//! The desired state: typed site, policy and settings files as SPEC.md defines them. Values here
//! are already validated; [`crate::load`] is the only place that builds them from YAML.

pub mod sorted_map;
pub mod values;
pub mod version;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub use sorted_map::SortedMap;
pub use values::{
    BranchName, CertificateProvider, Command, ConnectTo, Date, HeaderName, HeaderValue, Issuer,
    KeyType, PolicyName, SecretRef, ServerProvider, Severity, Sha256Hex, SiteName,
    SoftwareProvider, Span, SshOption, SshTarget, SyncMode, WebUrl, WordpressVia,
};
pub use version::{Version, VersionSpec};

/// Everything in a state repository, after loading and merging.
#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    pub settings: Settings,
    /// Sites by name, with their policies' defaults merged in.
    pub sites: BTreeMap<SiteName, Site>,
    pub policies: BTreeMap<PolicyName, Policy>,
}

/// One site, as desired (after policy defaults were merged under it).
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub name: SiteName,
    pub url: WebUrl,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "SortedMap::is_empty")]
    pub labels: SortedMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyName>,
    pub sync: SyncMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<ConnectTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_http: Option<ConnectTo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
    #[serde(skip_serializing_if = "SortedMap::is_empty")]
    pub headers: SortedMap<HeaderName, HeaderRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Redirect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<Software>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// Each provider group is boxed inside: most sites manage nothing, and a fleet's sites are
    /// held at once, so an empty `manage` costs three null pointers and no allocation.
    #[serde(skip_serializing_if = "Manage::is_empty")]
    pub manage: Manage,
    /// Change windows (`windows:`): when `apply` and `reconcile` hold this site's changes.
    /// Not part of the desired state's digest: they say when to act, not what.
    #[serde(skip)]
    pub windows: Vec<crate::windows::Window>,
}

/// What a response header should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderRule {
    /// Sent with exactly this value (compared after whitespace normalisation).
    Value(HeaderValue),
    /// Sent with the value of a secret, resolved at run time.
    Secret(SecretRef),
    /// Must not be sent.
    Absent,
}

impl Serialize for HeaderRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            HeaderRule::Value(v) => v.serialize(s),
            HeaderRule::Secret(r) => r.serialize(s),
            HeaderRule::Absent => s.serialize_str("absent"),
        }
    }
}

/// A redirect that must be served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub from: WebUrl,
    pub to: WebUrl,
    pub status: u16,
}

/// The certificate a site must serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateSpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    pub min_days_left: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Issuer>,
}

/// Default renewal threshold when `min_days_left` is not written.
pub const DEFAULT_MIN_DAYS_LEFT: u32 = 21;

/// The software a site must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Software {
    pub platform: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<VersionSpec>,
    /// `core_sha256`: the pinned sha256 of the core zip (`wordpress-<version>.zip`) that
    /// `software.core` is installed from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_sha256: Option<Sha256Hex>,
    #[serde(skip_serializing_if = "SortedMap::is_empty")]
    pub plugins: SortedMap<String, Package>,
    #[serde(skip_serializing_if = "SortedMap::is_empty")]
    pub themes: SortedMap<String, Package>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<String>,
    /// `allow_unpinned: true`: a zip without a `sha256` pin may be installed (its digest is
    /// still recorded); without it only pinned zips are.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_unpinned: bool,
    /// Version-bump proposals for this site (`software.updates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates: Option<Updates>,
}

/// A desired plugin or theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Package {
    /// Must not be installed.
    #[serde(serialize_with = "absent")]
    Absent,
    /// Installed at a version (or within a constraint), optionally pinned by zip digest.
    Present {
        version: VersionSpec,
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<Sha256Hex>,
        #[serde(skip_serializing_if = "Option::is_none")]
        active: Option<bool>,
    },
}

fn absent<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("absent")
}

/// An availability check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_ms: Option<u64>,
}

/// How changes are applied, per resource group. A group without a provider is never applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Manage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Box<ServerManage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Box<CertificateManage>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<Box<SoftwareManage>>,
}

impl Manage {
    pub fn is_empty(&self) -> bool {
        self.server.is_none() && self.certificate.is_none() && self.software.is_none()
    }
}

/// Where and how commands run: locally, or over the system `ssh`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<SshTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_options: Vec<SshOption>,
}

/// Web-server configuration management (`manage.server`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerManage {
    pub provider: ServerProvider,
    #[serde(flatten)]
    pub transport: Transport,
    /// The file (or the file holding the block) siteward owns; every kind but `exec`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_command: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_command: Option<Command>,
    /// The program of the `exec` kind (argv, no shell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Environment variables for the `exec` program, as secret references resolved for each
    /// run of it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, SecretRef>,
    /// Deadline of one run of the `exec` program, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// Certificate management (`manage.certificate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateManage {
    pub provider: CertificateProvider,
    #[serde(flatten)]
    pub transport: Transport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<WebUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_ca: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_key: Option<SecretRef>,
    pub challenge: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webroot: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_command: Option<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_command: Option<Command>,
}

/// CMS software management (`manage.software`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftwareManage {
    pub provider: SoftwareProvider,
    #[serde(flatten)]
    pub transport: Transport,
    pub via: WordpressVia,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub php: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_password: Option<SecretRef>,
}

/// A policy file.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: PolicyName,
    pub description: Option<String>,
    pub rules: Vec<Rule>,
    pub exceptions: Vec<Exception>,
}

/// A compliance rule on the observed live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    pub condition: Condition,
}

/// The one typed condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The header must be sent.
    HeaderPresent(HeaderName),
    /// The header must not be sent.
    HeaderAbsent(HeaderName),
    /// The header must be sent with exactly this value.
    HeaderValue {
        name: HeaderName,
        value: HeaderValue,
    },
    /// `Strict-Transport-Security` with at least this `max-age` (seconds).
    HstsMinMaxAge(u64),
    /// The CSP must contain these directives (with at least these sources, when given).
    CspRequires(BTreeMap<String, Vec<String>>),
    /// The certificate must have at least this many days left.
    CertMinDaysLeft(u32),
    /// The certificate key must be at least this strong.
    CertMinKey(KeyType),
    /// The server must staple an OCSP response to the certificate (`cert_ocsp_stapled: true`).
    CertOcspStapled,
    /// The certificate's lifetime (`not_after - not_before`) may be at most this.
    CertMaxLifetime(LifetimeLimit),
    /// An RSA certificate key must have at least this many bits; other key types pass.
    CertMinRsaBits(u32),
    /// The certificate must not be signed with SHA-1 (`cert_no_sha1: true`).
    CertNoSha1,
    /// None of these plugins may be installed.
    PluginDeny(Vec<String>),
    /// The core version must be at least this.
    MinCoreVersion(Version),
    /// These availability checks must pass (all, when empty).
    ChecksPass(Vec<String>),
}

/// The longest certificate lifetime a `cert_max_lifetime` rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LifetimeLimit {
    /// The CA/Browser Forum's maximum in force at the certificate's issue date (`cabf`).
    Cabf,
    /// At most this many days.
    Days(u32),
}

/// A documented, expiring exemption of one site from one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exception {
    pub rule: String,
    pub site: SiteName,
    pub reason: String,
    pub expires: Date,
}

/// Repo-wide settings (`siteward.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub audit_branch: BranchName,
    pub audit_author: Option<String>,
    pub proposals_prefix: BranchName,
    pub concurrency: usize,
    pub per_host: usize,
    pub timeout: Span,
    pub packages: Option<String>,
    /// OSV feed: a path or https URL of a JSON file or directory ([`crate::vuln`]).
    pub vulnerabilities: Option<String>,
    /// Version-bump proposals (`updates:`), when configured.
    pub updates: Option<Updates>,
    /// Repo-wide change windows (`windows:`), holding every site's changes.
    pub windows: Vec<crate::windows::Window>,
    /// Webhook targets told about transitions (`notify:`, [`crate::notify`]).
    pub notify: Vec<crate::notify::Target>,
}

/// `updates: {source, min_age}` (siteward.yaml, or a site's or policy's `software`): where
/// newer releases are listed, and how old a release must be before it is proposed (security
/// fixes skip the wait). A site's keys override the repo-wide ones key by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Updates {
    /// A release list (JSON) or package directory; `None`: the `packages` source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Minimum release age; `None` proposes at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_age: Option<Span>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            audit_branch: "siteward-audit".parse().expect("valid default"),
            audit_author: None,
            proposals_prefix: "siteward-proposals".parse().expect("valid default"),
            concurrency: 32,
            per_host: 4,
            timeout: Span(std::time::Duration::from_secs(10)),
            packages: None,
            vulnerabilities: None,
            updates: None,
            windows: Vec::new(),
            notify: Vec::new(),
        }
    }
}
