//! Which `ssh -o` options a site file may set: an allow-list of options that only tune a
//! connection siteward already decided to make (timeouts, keep-alives, compression, log
//! level, a jump host).
//!
//! Site files arrive in pull requests, and `plan` reads siteward's own file over ssh, so an
//! option in YAML runs on the CI machine before anyone reviewed it. A deny-list cannot keep up
//! with ssh's ~100 options (`SendEnv=*`, `ForwardAgent`, `Hostname`, `RemoteForward`,
//! `UserKnownHostsFile=/dev//null`, …), so everything not listed here is refused; anything
//! else belongs in the operator's own ssh config, which siteward's `ssh` reads.
//!
//! An option is read the way ssh reads one (`Key=Value` or `Key Value`, whitespace around `=`,
//! the key matched case-insensitively, optional double quotes around key or value) and is then
//! passed to ssh in one canonical spelling, `Key=value`, built from the list below and a value
//! that passed a strict per-option check: what ssh receives is always what was checked.
//!
//! Not allowed on purpose: `Ciphers`, `MACs`, `KexAlgorithms`, `HostKeyAlgorithms` (a pull
//! request could weaken the crypto), `StrictHostKeyChecking` other than `yes`, anything naming
//! files, commands, forwarding, environment or another destination (`Hostname`, `Port`,
//! `User`: use `host: ssh://user@host:port`).

use std::fmt::Write;

/// How a value of one option is checked.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// A whole number within the range.
    Uint(u32, u32),
    /// `yes` or `no`.
    YesNo,
    /// One of these words (case-insensitive; passed in the spelling given here).
    OneOf(&'static [&'static str]),
    /// One or two DSCP/ToS words (`IPQoS`).
    Qos,
    /// `none`, or comma-separated `[user@]host[:port]` of plain name characters.
    Jump,
}

/// The allowed options, in ssh's spelling, with the values each takes.
const ALLOWED: &[(&str, Value)] = &[
    ("AddressFamily", Value::OneOf(&["any", "inet", "inet6"])),
    ("Compression", Value::YesNo),
    ("ConnectionAttempts", Value::Uint(1, 10)),
    ("ConnectTimeout", Value::Uint(1, 600)),
    ("IPQoS", Value::Qos),
    (
        "LogLevel",
        Value::OneOf(&["QUIET", "FATAL", "ERROR", "INFO", "VERBOSE"]),
    ),
    ("ProxyJump", Value::Jump),
    ("ServerAliveCountMax", Value::Uint(0, 100)),
    ("ServerAliveInterval", Value::Uint(0, 3600)),
    ("StrictHostKeyChecking", Value::OneOf(&["yes"])),
    ("TCPKeepAlive", Value::YesNo),
];

/// IPQoS words ssh knows.
const QOS: &[&str] = &[
    "af11",
    "af12",
    "af13",
    "af21",
    "af22",
    "af23",
    "af31",
    "af32",
    "af33",
    "af41",
    "af42",
    "af43",
    "cs0",
    "cs1",
    "cs2",
    "cs3",
    "cs4",
    "cs5",
    "cs6",
    "cs7",
    "ef",
    "le",
    "lowdelay",
    "throughput",
    "reliability",
    "none",
];

/// The allowed option names, for messages: `AddressFamily, Compression, …`.
pub fn allowed_names() -> String {
    ALLOWED
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one `ssh_options` entry and returns it as ssh will receive it (`Key=value`), or why
/// it is refused (one lowercase sentence that names the option and what to do).
pub fn canonical(input: &str) -> Result<String, String> {
    let shown = input.escape_debug().to_string();
    if input.chars().any(char::is_control) {
        return Err(format!(
            "`{shown}` is refused: it contains a control character"
        ));
    }
    let (key, value) = split(input.trim()).ok_or_else(|| {
        format!("`{shown}` is refused: write it as `Key=Value`, e.g. `ConnectTimeout=5`")
    })?;
    let Some((name, kind)) = ALLOWED
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
    else {
        return Err(format!(
            "`{shown}` is refused: `{}` is not an ssh option a site file may set{}; allowed: {}; \
             put anything else in the ssh config of the machine that runs siteward",
            key.escape_debug(),
            hint(key),
            allowed_names()
        ));
    };
    let value = check_value(*kind, value).map_err(|why| {
        format!(
            "`{shown}` is refused: {name} takes {why}{}",
            if name.eq_ignore_ascii_case("StrictHostKeyChecking") {
                "; turning host-key checking off or trusting new keys is not allowed, pin the host with `known_hosts` instead"
            } else {
                ""
            }
        )
    })?;
    Ok(format!("{name}={value}"))
}

/// Why well-known dangerous options are refused, for the message.
fn hint(key: &str) -> &'static str {
    let key = key.to_ascii_lowercase();
    if matches!(
        key.as_str(),
        "proxycommand"
            | "localcommand"
            | "permitlocalcommand"
            | "knownhostscommand"
            | "remotecommand"
            | "pkcs11provider"
            | "securitykeyprovider"
    ) {
        " (it makes ssh run local commands or load local code)"
    } else if key.contains("knownhosts") || key.contains("hostkey") {
        " (it could turn host-key checking off; pin the host with `known_hosts`)"
    } else {
        ""
    }
}

/// Splits `Key=Value` / `Key Value` / `Key = "Value"` as ssh does: the key ends at whitespace,
/// `"` or `=`; one `=` with any whitespace around it separates it from the value; a key or a
/// value may be wrapped in double quotes. `None` when there is no key or no value, or quotes
/// are unbalanced or inside a word.
fn split(s: &str) -> Option<(&str, &str)> {
    let (key, rest) = match s.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"')?,
        None => {
            let end = s.find(|c: char| c.is_whitespace() || c == '=' || c == '"')?;
            s.split_at(end)
        }
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => rest,
    };
    let plain_key = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
    (plain_key && !value.is_empty() && !value.contains('"')).then_some((key, value))
}

/// Checks a value against its kind; returns the spelling passed to ssh, or what it takes.
fn check_value(kind: Value, value: &str) -> Result<String, String> {
    match kind {
        Value::Uint(min, max) => value
            .parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(|n| n.to_string())
            .ok_or_else(|| format!("a whole number from {min} to {max}")),
        Value::YesNo => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_owned()),
            _ => Err("`yes` or `no`".to_owned()),
        },
        Value::OneOf(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(value))
            .map(|w| (*w).to_owned())
            .ok_or_else(|| {
                let mut list = String::new();
                for (i, w) in words.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    let _ = write!(list, "{sep}`{w}`");
                }
                format!("one of {list}")
            }),
        Value::Qos => {
            let words: Vec<String> = value
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect();
            let known = words.iter().all(|w| QOS.contains(&w.as_str()));
            if (1..=2).contains(&words.len()) && known {
                Ok(words.join(" "))
            } else {
                Err(format!("one or two of {}", QOS.join(", ")))
            }
        }
        Value::Jump => {
            if value.eq_ignore_ascii_case("none") {
                return Ok("none".to_owned());
            }
            let hops: Vec<&str> = value.split(',').collect();
            if hops.len() <= 4 && hops.iter().all(|h| jump_hop(h)) {
                Ok(value.to_owned())
            } else {
                Err(
                    "`none` or up to 4 comma-separated `[user@]host[:port]` of letters, \
                     digits, `.`, `_` and `-`"
                        .to_owned(),
                )
            }
        }
    }
}

/// One `[user@]host[:port]` of a jump list: plain name characters, nothing that could become an
/// option or a shell word (ssh builds a command line from it).
fn jump_hop(hop: &str) -> bool {
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 253
            && !w.starts_with(['-', '.'])
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let (user, rest) = match hop.split_once('@') {
        Some((u, r)) => (Some(u), r),
        None => (None, hop),
    };
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    user.is_none_or(word)
        && word(host)
        && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_options_come_out_in_one_spelling() {
        for (input, out) in [
            ("ConnectTimeout=5", "ConnectTimeout=5"),
            ("connecttimeout 5", "ConnectTimeout=5"),
            ("  ServerAliveInterval = 30 ", "ServerAliveInterval=30"),
            ("\"Compression\"=YES", "Compression=yes"),
            ("TCPKeepAlive=\"no\"", "TCPKeepAlive=no"),
            ("IPQoS af21 CS1", "IPQoS=af21 cs1"),
            ("loglevel=error", "LogLevel=ERROR"),
            (
                "ProxyJump=deploy@bastion:2222,jump2",
                "ProxyJump=deploy@bastion:2222,jump2",
            ),
            ("StrictHostKeyChecking=yes", "StrictHostKeyChecking=yes"),
        ] {
            assert_eq!(canonical(input).as_deref(), Ok(out), "{input:?}");
        }
    }

    #[test]
    fn everything_else_is_refused() {
        // Issue #16: these passed the old deny-list.
        for bad in [
            "StrictHostKeyChecking=false",
            "StrictHostKeyChecking no",
            "StrictHostKeyChecking=accept-new",
            "UserKnownHostsFile=/dev//null",
            "GlobalKnownHostsFile=/dev/null",
            "SendEnv=*",
            "SetEnv=LD_PRELOAD=/tmp/x.so",
            "ForwardAgent=yes",
            "ForwardX11=yes",
            "Hostname=evil.example",
            "Port=2222",
            "User=root",
            "RemoteForward=2222 localhost:22",
            "LocalForward=1 localhost:1",
            "DynamicForward=1080",
            "ControlPath=/tmp/x",
            "ControlMaster=yes",
            "IdentityFile=/etc/shadow",
            "CertificateFile=/x",
            "Include=/etc/passwd",
            "Match=exec true",
            "Ciphers=+3des-cbc",
            "HostKeyAlgorithms=+ssh-dss",
            "ProxyCommand=nc %h %p",
            "\"ProxyCommand\"=sh",
            "Proxy\"Command\"=sh",
            "-oProxyCommand=sh",
            "ProxyJump=-oProxyCommand=sh",
            "ProxyJump=a;sh",
            "ProxyJump=$(id)",
            "ConnectTimeout=0",
            "ConnectTimeout=5s",
            "LogLevel=DEBUG3",
            "IPQoS=af21 cs1 ef",
            "NoEquals",
            "K=",
            "=v",
            "A=b\nc",
            "ConnectTimeout=\"5",
        ] {
            assert!(canonical(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn refusals_name_the_option_and_the_allowed_ones() {
        let e = canonical("ForwardAgent=yes").unwrap_err();
        assert!(
            e.contains("`ForwardAgent` is not an ssh option a site file may set"),
            "{e}"
        );
        assert!(e.contains("allowed: AddressFamily, Compression"), "{e}");
        let e = canonical("UserKnownHostsFile=/dev//null").unwrap_err();
        assert!(e.contains("host-key checking off"), "{e}");
        let e = canonical("PKCS11Provider=./evil.so").unwrap_err();
        assert!(e.contains("load local code"), "{e}");
        let e = canonical("StrictHostKeyChecking=no").unwrap_err();
        assert!(e.contains("host-key checking off"), "{e}");
        let e = canonical("ConnectTimeout=x").unwrap_err();
        assert!(
            e.contains("ConnectTimeout takes a whole number from 1 to 600"),
            "{e}"
        );
    }
}
