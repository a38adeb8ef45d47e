//! What a person runs to fix a certificate by hand: the certbot command that issues a
//! certificate for every desired domain with the desired key, and the nginx lines that serve
//! it. Used in change requests for sites whose certificate siteward does not renew (no
//! `manage.certificate`, `sync: propose`, or a configuration the provider refuses). Pure.

use std::fmt::Write;

use crate::spec::{KeyType, Site};

/// certbot and nginx lines for `site`'s certificate (Markdown with fenced blocks).
pub fn markdown(site: &Site) -> String {
    let domains = super::domains(site);
    let first = domains.first().cloned().unwrap_or_default();
    let m = site.manage.certificate.as_ref();
    let webroot = m
        .and_then(|m| m.webroot.as_ref())
        .map_or_else(|| format!("/var/www/{first}"), |p| p.display().to_string());
    let key = site
        .certificate
        .as_ref()
        .and_then(|c| c.key)
        .unwrap_or(KeyType::EcdsaP256);
    let mut cmd = format!("certbot certonly --webroot -w {}", quote(&webroot));
    for d in &domains {
        let _ = write!(cmd, " -d {}", quote(d));
    }
    let _ = write!(cmd, " {}", key_flags(key));
    if let Some(dir) = m.and_then(|m| m.directory.as_ref()) {
        let _ = write!(cmd, " --server {}", quote(dir.as_str()));
    }
    match m.and_then(|m| m.email.as_deref()) {
        Some(email) => {
            let _ = write!(cmd, " --email {}", quote(email));
        }
        None => cmd.push_str(" --register-unsafely-without-email"),
    }
    let live = format!("/etc/letsencrypt/live/{first}");
    let mut md = String::from(
        "Certificate: issue one for every domain with the desired key, from a webroot the site \
         serves over plain HTTP (`/.well-known/acme-challenge/`):\n\n",
    );
    let _ = writeln!(md, "```sh\n{cmd}\n```\n");
    if key == KeyType::Ed25519 {
        md.push_str(
            "certbot cannot issue Ed25519 keys; use another ACME client, or `ecdsa-p256`.\n\n",
        );
    }
    let _ = writeln!(
        md,
        "Then serve it (the full chain, so no intermediate is missing) in the site's \
         `server {{}}` block, and test and reload:\n\n```nginx\nssl_certificate {live}/fullchain.pem;\n\
         ssl_certificate_key {live}/privkey.pem;\n```\n\n```sh\nnginx -t && nginx -s reload\n```"
    );
    md
}

fn key_flags(key: KeyType) -> &'static str {
    match key {
        KeyType::EcdsaP256 | KeyType::Ed25519 => "--key-type ecdsa --elliptic-curve secp256r1",
        KeyType::EcdsaP384 => "--key-type ecdsa --elliptic-curve secp384r1",
        KeyType::Rsa2048 => "--key-type rsa --rsa-key-size 2048",
        KeyType::Rsa3072 => "--key-type rsa --rsa-key-size 3072",
        KeyType::Rsa4096 => "--key-type rsa --rsa-key-size 4096",
    }
}

/// Quotes a word for a POSIX shell when it needs it.
fn quote(word: &str) -> String {
    shlex::try_quote(word).map_or_else(|_| "''".to_owned(), |q| q.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Source, load_sources};

    #[test]
    fn certbot_covers_every_domain_with_the_desired_key() {
        let text = "name: a.test\nurl: https://a.test/\ncertificate:\n  domains: [a.test, www.a.test]\n  \
                    key: rsa-2048\n";
        let (state, problems) = load_sources(&[Source {
            path: "sites/a.test.yaml".into(),
            text: text.into(),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        let site = state.sites.into_values().next().unwrap();
        let md = markdown(&site);
        assert!(
            md.contains(
                "certbot certonly --webroot -w /var/www/a.test -d a.test -d www.a.test \
                 --key-type rsa --rsa-key-size 2048 --register-unsafely-without-email"
            ),
            "{md}"
        );
        assert!(md.contains("ssl_certificate /etc/letsencrypt/live/a.test/fullchain.pem;"));
    }
}
