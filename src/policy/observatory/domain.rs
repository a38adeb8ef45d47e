//! A host's registrable domain, as the MDN HTTP Observatory compares script origins for
//! subresource integrity (tldts's `parse(host).domain`): one label more than the host's public
//! suffix, by the ICANN section of the Public Suffix List (`psl`, built in); a suffix the list
//! does not know is its last label. Private suffixes (`github.io`) do not count, as in tldts's
//! default.

/// The registrable domain of `host`, lowercased; `None` for an IP address, a single label or
/// a host that is itself a public suffix (`co.uk`).
pub fn registrable(host: &str) -> Option<String> {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let suffix = icann_suffix(&host)?;
    let rest = host.strip_suffix(suffix)?.strip_suffix('.')?;
    let label = rest.rsplit('.').next().filter(|l| !l.is_empty())?;
    Some(format!("{label}.{suffix}"))
}

/// The public suffix of `host` by the list's ICANN section: the list's own answer, or, when
/// that is a private suffix, the answer for it without its first label (again if need be).
fn icann_suffix(host: &str) -> Option<&str> {
    let mut name = host;
    loop {
        let found = psl::suffix(name.as_bytes())?;
        let suffix = &name[name.len() - found.trim().as_bytes().len()..];
        if found.typ() != Some(psl::Type::Private) {
            return Some(suffix);
        }
        name = suffix.split_once('.')?.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_domains() {
        for (host, want) in [
            ("www.example.com", Some("example.com")),
            ("a.b.co.uk", Some("b.co.uk")),
            ("co.uk", None),
            ("user.github.io", Some("github.io")),
            ("wp.test", Some("wp.test")),
            ("a.wp.test.", Some("wp.test")),
            ("localhost", None),
            ("127.0.0.1", None),
            ("[::1]", None),
            ("Shop.Example.NL", Some("example.nl")),
        ] {
            assert_eq!(registrable(host).as_deref(), want, "{host}");
        }
    }
}
