//! Validated scalar types of the desired state: each is parsed once at the edge (`FromStr`) and
//! cannot hold an invalid value afterwards. Error messages are lowercase and say what is allowed.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// Implements `Display` via a method returning `&str`, and `Serialize` as that string.
macro_rules! string_like {
    ($ty:ty, $method:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.$method())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.$method())
            }
        }
    };
}

/// Checks a DNS-like name: lowercase labels of `a-z0-9-` joined by dots. Such a name can never
/// contain `/`, `..` or a leading dot, so it is safe as a file or branch name component.
fn check_dns_like(s: &str, what: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err(format!("{what} must be 1 to 253 characters"));
    }
    for label in s.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ok_chars
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "`{s}` is not a valid {what}: use lowercase letters, digits, `-` and `.` (like a DNS name)"
            ));
        }
    }
    Ok(())
}

/// A site's id: DNS-like, equal to its file stem.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteName(String);

impl SiteName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SiteName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_dns_like(s, "site name").map(|()| SiteName(s.to_owned()))
    }
}
string_like!(SiteName, as_str);

/// A policy's id: DNS-like, equal to its file stem.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyName(String);

impl PolicyName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PolicyName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        check_dns_like(s, "policy name").map(|()| PolicyName(s.to_owned()))
    }
}
string_like!(PolicyName, as_str);

/// An absolute http(s) URL with a host and no credentials.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WebUrl(url::Url);

impl WebUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    pub fn url(&self) -> &url::Url {
        &self.0
    }
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
    /// The host name (or IP literal) of the URL.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }
    /// The explicit or default port.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }
}

impl FromStr for WebUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{s}` must be an http or https URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{s}` has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{s}` contains credentials; URLs must not carry secrets (use an `env:` reference)"
            ));
        }
        Ok(WebUrl(url))
    }
}
string_like!(WebUrl, as_str);

/// `ADDR[:PORT]`: where to connect instead of what DNS says (like curl `--resolve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    text: String,
    pub host: String,
    pub port: Option<u16>,
}

impl ConnectTo {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for ConnectTo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not `ADDR[:PORT]` (e.g. `127.0.0.1:8443` or `[::1]:443`)");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (s, None),
            }
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
        if !host_ok {
            return Err(bad());
        }
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad)?),
            None => None,
        };
        Ok(ConnectTo {
            text: s.to_owned(),
            host: host.to_owned(),
            port,
        })
    }
}
string_like!(ConnectTo, as_str);

/// An HTTP header name (an RFC 9110 token). Compared case-insensitively; keeps its spelling.
#[derive(Debug, Clone)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The lowercase form used for comparison.
    pub fn lower(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for HeaderName {}
impl PartialOrd for HeaderName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeaderName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Byte by byte, without building the lowercase forms: headers maps compare names often.
        let theirs = other.0.bytes().map(|b| b.to_ascii_lowercase());
        self.0.bytes().map(|b| b.to_ascii_lowercase()).cmp(theirs)
    }
}

impl FromStr for HeaderName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if s.is_empty() || !s.bytes().all(tchar) {
            return Err(format!(
                "`{}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                s.escape_debug()
            ));
        }
        Ok(HeaderName(s.to_owned()))
    }
}
string_like!(HeaderName, as_str);

/// A literal header value: no CR, LF, NUL or other control characters (tab is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderValue(String);

impl HeaderValue {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HeaderValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(c) = s
            .chars()
            .find(|c| (c.is_control() && *c != '\t') || *c == '\u{7f}')
        {
            return Err(format!(
                "header value contains the control character {:?}; CR, LF, NUL and other controls are not allowed",
                c
            ));
        }
        Ok(HeaderValue(s.trim().to_owned()))
    }
}
string_like!(HeaderValue, as_str);

/// A reference to a secret, resolved only at run time and never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`
    Env(String),
    /// `file:PATH`
    File(PathBuf),
}

impl SecretRef {
    /// Parses `env:NAME` or `file:PATH`; `None` when `s` is not a reference at all.
    pub fn parse_ref(s: &str) -> Option<Result<SecretRef, String>> {
        if let Some(name) = s.strip_prefix("env:") {
            let ok = name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            Some(if ok {
                Ok(SecretRef::Env(name.to_owned()))
            } else {
                Err(format!(
                    "`env:{name}` is not a valid environment variable name"
                ))
            })
        } else {
            s.strip_prefix("file:").map(|p| {
                let path = PathBuf::from(p);
                if p.is_empty() {
                    Err("`file:` needs a path".to_owned())
                } else if path.is_relative()
                    && path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    Err(format!(
                        "relative secret path `{p}` leaves the state repo; write an absolute path"
                    ))
                } else {
                    Ok(SecretRef::File(path))
                }
            })
        }
    }
}

impl FromStr for SecretRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SecretRef::parse_ref(s).unwrap_or_else(|| {
            Err("secrets are never written in YAML: use `env:NAME` or `file:PATH`".to_owned())
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A duration written with humantime's units (`500ms`, `10s`, `5m`, `1h`, `3d`, or combined as
/// `1h 30m`) or as a plain number of seconds. Always longer than zero; each setting bounds it
/// further when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let too_long = || format!("`{s}` is too long a duration");
        let d = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            Duration::from_secs(s.parse().map_err(|_| too_long())?)
        } else {
            humantime::parse_duration(s).map_err(|e| match e {
                humantime::DurationError::NumberOverflow => too_long(),
                _ => format!("`{s}` is not a duration (e.g. `500ms`, `10s`, `5m`, `1h`)"),
            })?
        };
        if d.is_zero() {
            return Err(format!("`{s}` must be longer than zero"));
        }
        Ok(Span(d))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

/// Declares a closed set of lowercase keywords as an enum with `FromStr`, `Display` and
/// `Serialize`; the error lists the allowed words.
macro_rules! keywords {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            /// Every keyword, in declaration order.
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("`{s}` is not one of: {}", Self::ALL.join(", "))),
                }
            }
        }
        string_like!($name, as_str);
    };
}

keywords!(
    /// What siteward may do about a site's drift.
    SyncMode {
        /// Only report (the default).
        Observe = "observe",
        /// Write a change request.
        Propose = "propose",
        /// Apply through providers.
        Auto = "auto",
    }
);

keywords!(
    /// How bad a failing rule is.
    Severity { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);

keywords!(
    /// A certificate key algorithm and size.
    KeyType {
        EcdsaP256 = "ecdsa-p256",
        EcdsaP384 = "ecdsa-p384",
        Ed25519 = "ed25519",
        Rsa2048 = "rsa-2048",
        Rsa3072 = "rsa-3072",
        Rsa4096 = "rsa-4096",
    }
);

keywords!(
    /// Who issues a site's certificate.
    Issuer { Acme = "acme", Manual = "manual" }
);

keywords!(
    /// The payload a notification target takes (`notify[].format`).
    NotifyFormat {
        /// siteward's own JSON document.
        Json = "json",
        /// A Slack incoming webhook (`text` + `blocks`).
        Slack = "slack",
        /// A Microsoft Teams incoming webhook (an Adaptive Card).
        Teams = "teams",
        /// A Mattermost incoming webhook (`text`, Markdown).
        Mattermost = "mattermost",
    }
);

keywords!(
    /// A transition a notification target can be told about (`notify[].events`).
    NotifyEvent {
        DriftStarted = "drift_started",
        DriftResolved = "drift_resolved",
        ApplyFailed = "apply_failed",
        SiteDown = "site_down",
        SiteUp = "site_up",
        CertificateExpiring = "certificate_expiring",
        GradeDropped = "grade_dropped",
        ProposalOpened = "proposal_opened",
    }
);

keywords!(
    /// Who applies web-server changes.
    ServerProvider {
        Nginx = "nginx",
        HeadersFile = "headers-file",
        /// An Apache include file.
        Apache = "apache",
        /// A marked block in a `.htaccess` file.
        Htaccess = "htaccess",
        /// A program speaking the exec protocol (a hosting provider's API).
        Exec = "exec",
    }
);

keywords!(
    /// Who issues certificates.
    CertificateProvider { Acme = "acme" }
);

keywords!(
    /// Who manages CMS software.
    SoftwareProvider { Wordpress = "wordpress" }
);

keywords!(
    /// How the WordPress provider talks to WordPress.
    WordpressVia { Php = "php", WpCli = "wp-cli", Rest = "rest" }
);

/// A date written as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub chrono::NaiveDate);

impl FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
        match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) if shaped => Ok(Date(d)),
            _ => Err(format!("`{s}` is not a date; write `YYYY-MM-DD`")),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A branch siteward commits to (the audit branch), or the prefix of such branches (proposals):
/// a name `git check-ref-format --branch` would accept, and never one that would put siteward's
/// commits on a branch people work on or that reads as something else than a local branch.
/// The branch checked out in the state repo is refused by the loader, which knows the repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchName(String);

impl BranchName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names of the usual main line; siteward's commits never go there.
const MAIN_LINES: &[&str] = &["main", "master"];
/// Git's pseudo-refs, which name a commit of the moment rather than a branch.
const PSEUDO_REFS: &[&str] = &["HEAD", "FETCH_HEAD", "ORIG_HEAD", "MERGE_HEAD"];

impl FromStr for BranchName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad_char = |c: char| c.is_control() || " ~^:?*[\\".contains(c);
        let bad = s.is_empty()
            || s.starts_with(['/', '-', '.'])
            || s.ends_with(['/', '.'])
            || s.ends_with(".lock")
            || s.contains("..")
            || s.contains("//")
            || s.contains("@{")
            || s == "@"
            || s.split('/').any(|part| part.starts_with('.'))
            || s.chars().any(bad_char);
        if bad {
            return Err(format!("`{s}` is not a valid git branch name"));
        }
        let refused = |why: &str| Err(format!("`{s}` is refused: {why}"));
        if PSEUDO_REFS.contains(&s) {
            return refused(
                "it names whatever is checked out, not a branch; name a branch of siteward's own",
            );
        }
        if s.starts_with("refs/") {
            return refused("write the branch name without `refs/` (siteward adds `refs/heads/`)");
        }
        if MAIN_LINES.contains(&s) {
            return refused(
                "siteward's commits would land on the main line; name a branch of siteward's own",
            );
        }
        if let Some(branch) = s.strip_prefix("origin/") {
            return refused(&format!(
                "it reads as the branch `{branch}` of the remote `origin`; name a local branch of siteward's own"
            ));
        }
        Ok(BranchName(s.to_owned()))
    }
}
string_like!(BranchName, as_str);

/// A command line split into words like a POSIX shell would (never run through a shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(Vec<String>);

impl Command {
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

impl FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match shlex::split(s) {
            Some(words) if !words.is_empty() => Ok(Command(words)),
            Some(_) => Err("command is empty".to_owned()),
            None => Err(format!("`{s}` has an unterminated quote or escape")),
        }
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&shlex::try_join(self.0.iter().map(String::as_str)).unwrap_or_default())
    }
}

/// An SSH target, `ssh://user@host[:port]`, or `sftp://user@host[:port]` for an account that
/// may only transfer files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// `sftp://`: files only, no commands.
    pub sftp: bool,
}

impl FromStr for SshTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            |why: &str| format!("`{s}` is not a valid `ssh://user@host[:port]` target: {why}");
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "ssh" | "sftp") {
            return Err(bad(
                "the scheme must be `ssh` (or `sftp` for an account without a shell)",
            ));
        }
        if url.password().is_some() {
            return Err(bad(
                "passwords are not allowed; use an identity file or agent",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("no path, query or fragment allowed"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let user = Some(url.username()).filter(|u| !u.is_empty());
        let safe = |t: &str| {
            !t.starts_with('-')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-[]:".contains(&b))
        };
        if !safe(host) || !user.is_none_or(safe) {
            return Err(bad(
                "user and host may hold letters, digits, `.`, `_` and `-` only",
            ));
        }
        Ok(SshTarget {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port: url.port(),
            sftp: url.scheme() == "sftp",
        })
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.sftp { "sftp://" } else { "ssh://" })?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl Serialize for SshTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One `ssh -o` option from `ssh_options`, in the one spelling ssh receives (`Key=value`):
/// only the options [`crate::transport::ssh_options`] allows, with checked values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOption(String);

impl SshOption {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SshOption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::transport::ssh_options::canonical(s).map(SshOption)
    }
}
string_like!(SshOption, as_str);

/// A lowercase hex sha256 digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Sha256Hex {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Sha256Hex(s.to_owned()))
        } else {
            Err(format!(
                "`{s}` is not a sha256 digest (64 lowercase hex digits)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_cannot_escape() {
        for bad in ["../etc", "a/b", ".hidden", "UPPER", "a..b", "-a", "", "a b"] {
            assert!(bad.parse::<SiteName>().is_err(), "{bad}");
        }
        for good in ["shop.example.nl", "a", "x-1.y"] {
            assert!(good.parse::<SiteName>().is_ok(), "{good}");
        }
    }

    #[test]
    fn connect_forms() {
        let c: ConnectTo = "127.0.0.1:8443".parse().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", Some(8443)));
        let c: ConnectTo = "[::1]:443".parse().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", Some(443)));
        let c: ConnectTo = "origin.internal".parse().unwrap();
        assert_eq!(c.port, None);
        assert!("host:0".parse::<ConnectTo>().is_err());
        assert!("host:http".parse::<ConnectTo>().is_err());
        assert!("a b:1".parse::<ConnectTo>().is_err());
    }

    #[test]
    fn header_values_reject_controls() {
        assert!("a\r\nb".parse::<HeaderValue>().is_err());
        assert!("a\0".parse::<HeaderValue>().is_err());
        assert!("max-age=1;\tpreload".parse::<HeaderValue>().is_ok());
    }

    #[test]
    fn spans_and_dates() {
        assert_eq!(
            "500ms".parse::<Span>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("2m".parse::<Span>().unwrap().0, Duration::from_secs(120));
        assert_eq!("90".parse::<Span>().unwrap().0, Duration::from_secs(90));
        assert_eq!(
            "3d".parse::<Span>().unwrap().0,
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(
            "1h 30m".parse::<Span>().unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(Span(Duration::from_secs(3600)).to_string(), "1h");
        assert!("0s".parse::<Span>().is_err());
        assert!(
            "soon"
                .parse::<Span>()
                .unwrap_err()
                .contains("is not a duration")
        );
        // Issue #8: `n * 3600` overflowed; now an error, never a panic or a wrapped value.
        assert!(
            "99999999999999999999h"
                .parse::<Span>()
                .unwrap_err()
                .contains("too long")
        );
        assert!("5124095576030432h".parse::<Span>().is_err());
        assert!("2025-02-30".parse::<Date>().is_err());
        assert!("2025-2-3".parse::<Date>().is_err());
        assert!("2025-02-03".parse::<Date>().is_ok());
    }

    #[test]
    fn ssh_targets() {
        let t: SshTarget = "ssh://deploy@web01:2222".parse().unwrap();
        assert_eq!(t.to_string(), "ssh://deploy@web01:2222");
        assert!("ssh://-oProxyCommand=x@h".parse::<SshTarget>().is_err());
        assert!("ssh://u:pw@h".parse::<SshTarget>().is_err());
        assert!("https://h".parse::<SshTarget>().is_err());
    }

    #[test]
    fn ssh_options_and_secret_paths() {
        for bad in [
            "-oProxyCommand=sh",
            "ProxyCommand=nc %h %p",
            "PKCS11Provider=./evil.so",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "NoEquals",
            "A=b\nc",
            "K=",
        ] {
            assert!(bad.parse::<SshOption>().is_err(), "{bad:?}");
        }
        assert!("ProxyJump=bastion".parse::<SshOption>().is_ok());
        // Issue #16: `accept-new` trusts a host key a pull request's `host` names; only `yes`
        // is allowed (pin keys with `known_hosts`).
        assert!("StrictHostKeyChecking=yes".parse::<SshOption>().is_ok());
        assert!(
            "StrictHostKeyChecking=accept-new"
                .parse::<SshOption>()
                .is_err()
        );
        assert!("file:../../etc/hostname".parse::<SecretRef>().is_err());
        assert!("file:/run/secrets/token".parse::<SecretRef>().is_ok());
        assert!("file:secrets/token".parse::<SecretRef>().is_ok());
    }

    #[test]
    fn branch_names() {
        assert!("siteward-audit".parse::<BranchName>().is_ok());
        assert!("ops/audit".parse::<BranchName>().is_ok());
        assert!("a..b".parse::<BranchName>().is_err());
        assert!("a b".parse::<BranchName>().is_err());
    }

    #[test]
    fn branches_people_work_on_or_that_are_not_branches_are_refused() {
        // Issue #16: these were accepted as the audit branch or the proposals prefix.
        for (name, why) in [
            ("HEAD", "names whatever is checked out"),
            ("FETCH_HEAD", "names whatever is checked out"),
            ("refs/tags/v1", "without `refs/`"),
            ("refs/heads/audit", "without `refs/`"),
            ("main", "main line"),
            ("master", "main line"),
            ("origin/main", "the branch `main` of the remote `origin`"),
        ] {
            let e = name.parse::<BranchName>().unwrap_err();
            assert!(e.contains("is refused") && e.contains(why), "{name}: {e}");
        }
        assert!("main-audit".parse::<BranchName>().is_ok());
    }
}
