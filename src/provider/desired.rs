//! The desired response headers of a site with secrets resolved, shared by every provider.
//! A secret value lives only in [`DesiredHeader::value`]; anything shown to people uses
//! [`DesiredHeader::shown`], which is `<secret sha256:…>` for secrets.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::spec::{HeaderName, HeaderRule, HeaderValue, SecretRef, Site};

/// Largest secret file read (`file:` references).
const MAX_SECRET: u64 = 64 * 1024;

/// One header the site must send, with its value resolved.
#[derive(Clone)]
pub struct DesiredHeader {
    pub name: HeaderName,
    pub value: String,
    pub secret: bool,
}

impl std::fmt::Debug for DesiredHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.shown())
    }
}

impl DesiredHeader {
    /// The value as it may be printed: the digest for a secret.
    pub fn shown(&self) -> String {
        if self.secret {
            redacted(&self.value)
        } else {
            self.value.clone()
        }
    }
}

/// `<secret sha256:HEX>`: how a secret value appears in texts, plans and logs.
pub fn redacted(value: &str) -> String {
    format!(
        "<secret sha256:{}>",
        hex::encode(Sha256::digest(value.as_bytes()))
    )
}

/// Whether the site's rule for `name` is a secret.
pub fn is_secret(site: &Site, name: &str) -> bool {
    site.headers
        .iter()
        .any(|(n, r)| n.as_str().eq_ignore_ascii_case(name) && matches!(r, HeaderRule::Secret(_)))
}

/// Every header with a value (absent ones are left out), sorted by name, secrets resolved.
/// `repo` anchors relative `file:` paths.
pub fn headers(site: &Site, repo: &Path) -> Result<Vec<DesiredHeader>, String> {
    let mut out = Vec::new();
    for (name, rule) in &site.headers {
        let (value, secret) = match rule {
            HeaderRule::Absent => continue,
            HeaderRule::Value(v) => (v.as_str().to_owned(), false),
            HeaderRule::Secret(r) => (resolve(r, repo, name)?, true),
        };
        out.push(DesiredHeader {
            name: name.clone(),
            value,
            secret,
        });
    }
    Ok(out)
}

/// Resolves a secret header value; errors never contain the value.
fn resolve(r: &SecretRef, repo: &Path, header: &HeaderName) -> Result<String, String> {
    let raw = match r {
        SecretRef::Env(var) => std::env::var(var).map_err(|_| {
            format!("header `{header}`: environment variable `{var}` is not set (or not UTF-8)")
        })?,
        SecretRef::File(p) => {
            let full = crate::load::site::resolve(repo, p);
            let cannot = |e: std::io::Error| {
                format!(
                    "header `{header}`: cannot read secret file `{}`: {e}",
                    full.display()
                )
            };
            let mut text = String::new();
            std::fs::File::open(&full)
                .map_err(cannot)?
                .take(MAX_SECRET)
                .read_to_string(&mut text)
                .map_err(cannot)?;
            text.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    raw.parse::<HeaderValue>()
        .map(|v| v.as_str().to_owned())
        .map_err(|_| {
            format!(
                "header `{header}`: secret `{r}` contains a control character (CR, LF, NUL ...)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_is_a_digest() {
        let r = redacted("s3cret");
        assert!(
            r.starts_with("<secret sha256:") && !r.contains("s3cret"),
            "{r}"
        );
        assert_eq!(r.len(), "<secret sha256:>".len() + 64);
    }
}
