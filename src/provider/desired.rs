//! The desired response headers of a site with secrets resolved, shared by every provider.
//! A secret value lives only in [`DesiredHeader::value`]; anything shown to people uses
//! [`DesiredHeader::shown`], which is `<secret sha256:…>` for secrets.

use crate::secret::SiteSecrets;
use crate::spec::{HeaderName, HeaderRule, Site};

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

pub use crate::secret::shown as redacted;

/// Whether the site's rule for `name` is a secret.
pub fn is_secret(site: &Site, name: &str) -> bool {
    site.headers
        .iter()
        .any(|(n, r)| n.as_str().eq_ignore_ascii_case(name) && matches!(r, HeaderRule::Secret(_)))
}

/// Every header with a value (absent ones left out), sorted by name, secret values taken from
/// `secrets` (resolved once per run).
pub fn headers(site: &Site, secrets: &SiteSecrets) -> Result<Vec<DesiredHeader>, String> {
    let mut out = Vec::new();
    for (name, rule) in &site.headers {
        let (value, secret) = match rule {
            HeaderRule::Absent => continue,
            HeaderRule::Value(v) => (v.as_str().to_owned(), false),
            HeaderRule::Secret(r) => match secrets.get(&name.lower()) {
                Some(s) => (s.expose().to_owned(), true),
                None => return Err(format!("header `{name}`: secret `{r}` was not resolved")),
            },
        };
        out.push(DesiredHeader {
            name: name.clone(),
            value,
            secret,
        });
    }
    Ok(out)
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
