//! The allowed keys of every mapping in site, policy and settings files. The loader rejects any
//! other key and the JSON Schema lists exactly these, so the two cannot drift apart.

pub const SITE: &[&str] = &[
    "name",
    "url",
    "owner",
    "labels",
    "description",
    "policies",
    "sync",
    "connect",
    "connect_http",
    "ca",
    "insecure_skip_verify",
    "allow_http",
    "headers",
    "redirects",
    "certificate",
    "software",
    "checks",
    "manage",
    "windows",
];
pub const REDIRECT: &[&str] = &["from", "to", "status"];
pub const CERTIFICATE: &[&str] = &["domains", "min_days_left", "key", "issuer"];
pub const SOFTWARE: &[&str] = &[
    "platform",
    "core",
    "plugins",
    "themes",
    "packages",
    "updates",
    "allow_unpinned",
    "core_sha256",
];
pub const PACKAGE: &[&str] = &["version", "sha256", "active"];
pub const CHECK: &[&str] = &["name", "path", "status", "body_contains", "max_response_ms"];
pub const MANAGE: &[&str] = &["server", "certificate", "software"];
pub const TRANSPORT: &[&str] = &["host", "identity", "known_hosts", "ssh_options"];
pub const MANAGE_SERVER: &[&str] = &[
    "provider",
    "config",
    "test_command",
    "reload_command",
    "command",
    "env",
    "timeout",
];
pub const MANAGE_CERTIFICATE: &[&str] = &[
    "provider",
    "directory",
    "directory_ca",
    "email",
    "account_key",
    "challenge",
    "webroot",
    "cert_path",
    "key_path",
    "test_command",
    "reload_command",
];
pub const MANAGE_SOFTWARE: &[&str] = &[
    "provider",
    "via",
    "path",
    "php",
    "user",
    "username",
    "app_password",
];
pub const POLICY: &[&str] = &["name", "description", "defaults", "rules", "exceptions"];
pub const RULE: &[&str] = &["id", "severity", "description", "advice"];
pub const CONDITIONS: &[&str] = &[
    "header_present",
    "header_absent",
    "header_value",
    "hsts_min_max_age",
    "csp_requires",
    "cert_min_days_left",
    "cert_min_key",
    "cert_ocsp_stapled",
    "cert_max_lifetime",
    "cert_min_rsa_bits",
    "cert_no_sha1",
    "plugin_deny",
    "min_core_version",
    "checks_pass",
];
pub const HEADER_VALUE: &[&str] = &["name", "value"];
pub const EXCEPTION: &[&str] = &["rule", "site", "reason", "expires"];
pub const SETTINGS: &[&str] = &[
    "audit",
    "proposals",
    "concurrency",
    "per_host",
    "timeout",
    "packages",
    "vulnerabilities",
    "updates",
    "windows",
    "notify",
];
pub const WINDOW: &[&str] = &["deny", "from", "to", "timezone", "reason"];
pub const AUDIT: &[&str] = &["branch", "author"];
pub const PROPOSALS: &[&str] = &["branch_prefix"];
pub const UPDATES: &[&str] = &["source", "min_age"];
pub const NOTIFY: &[&str] = &["name", "url", "format", "events", "days"];

/// Built-in test ids that a policy exception may name besides its own rule ids: the MDN HTTP
/// Observatory's test names, then siteward's own tests.
pub const BUILTIN_TESTS: &[&str] = &[
    "content-security-policy",
    "cookies",
    "cross-origin-resource-sharing",
    "redirection",
    "referrer-policy",
    "strict-transport-security",
    "subresource-integrity",
    "x-content-type-options",
    "x-frame-options",
    "cross-origin-resource-policy",
    "permissions-policy",
    "server-banner",
    "tls-certificate",
    "tls-key",
    "https-redirect",
];

/// `a` followed by `b`, for mappings that take a group's keys plus the transport keys.
pub fn with(a: &[&'static str], b: &[&'static str]) -> Vec<&'static str> {
    a.iter().chain(b).copied().collect()
}
