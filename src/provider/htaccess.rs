//! The `.htaccess` provider, for shared hosting where a site's `.htaccess` is the only handle:
//! siteward owns the lines between `# BEGIN siteward` and `# END siteward` and keeps every
//! other byte of the file (WordPress writes its own `# BEGIN WordPress` block into the same
//! file). The block holds the same Apache lines as the `apache` include (`apache.rs`).
//!
//! Apache reads `.htaccess` on every request, so there is no test or reload command: the
//! result is verified over HTTP, and a block that Apache refuses (it answers 500 when, say,
//! `AllowOverride` does not allow `Header`) fails verification and is restored. Only file
//! access is needed on the host: over `ssh://` the shell's `cat`, `mv`, `chmod` and `stat`, or
//! `sftp://` for an account without a shell.
//!
//! # Caveats
//! - A new block goes at the top of the file, so that the https redirect runs before
//!   WordPress's rewrite to `index.php`.
//! - `Header` lines need `AllowOverride FileInfo` and mod_headers, the redirect needs
//!   mod_rewrite; each group is wrapped in `<IfModule>` so that a missing module leaves the
//!   site answering (and verification reports what is not served) instead of failing with 500.

use std::fmt::Write;

use super::apache;
use super::block::{Markers, Place};
use super::desired::DesiredHeader;
use super::{ServerConfig, View};
use crate::plan::Change;
use crate::report::escape::fenced;
use crate::spec::Site;

/// The markers of siteward's block, in the style WordPress uses for its own.
const MARKERS: Markers = Markers {
    begin: "# BEGIN siteward",
    end: "# END siteward",
};

/// The `.htaccess` block kind.
pub struct Htaccess;

impl ServerConfig for Htaccess {
    fn name(&self) -> &'static str {
        "htaccess"
    }

    fn render(
        &self,
        site: &Site,
        headers: &[DesiredHeader],
        reveal: bool,
    ) -> Result<String, String> {
        let mut block = format!(
            "{}\n# managed by siteward — do not edit between these markers; site {}\n",
            MARKERS.begin, site.name
        );
        let (header_lines, rewrite_lines) = apache::lines(site, headers, reveal)?;
        if !header_lines.is_empty() {
            let _ = write!(
                block,
                "<IfModule mod_headers.c>\n{header_lines}</IfModule>\n"
            );
        }
        if !rewrite_lines.is_empty() {
            let _ = write!(
                block,
                "<IfModule mod_rewrite.c>\n{rewrite_lines}</IfModule>\n"
            );
        }
        block.push_str(MARKERS.end);
        block.push('\n');
        Ok(block)
    }

    fn splice(&self, current: Option<&str>, owned: &str) -> Result<String, String> {
        MARKERS.splice(current.unwrap_or(""), owned, Place::Start)
    }

    fn view(&self, site: &Site, current: &str) -> Result<View, String> {
        Ok(match MARKERS.block(current)? {
            Some(block) => apache::view_lines(site, block),
            None => View::default(),
        })
    }

    fn can_apply(&self, site: &Site, change: &Change) -> Result<(), String> {
        apache::can_apply(
            site,
            change,
            "in the hosting panel or the virtual host's configuration",
        )
    }

    fn advice(&self, changes: &[Change]) -> String {
        let out = apache::advice_lines(changes);
        if out.is_empty() {
            return out;
        }
        format!(
            "`.htaccess` in the site's document root, between `{}` and `{}` (needs \
             `AllowOverride FileInfo`, `mod_headers`, and `mod_rewrite` for redirects):\n\n{}",
            MARKERS.begin,
            MARKERS.end,
            fenced(&out, "apache")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(extra: &str) -> Site {
        let (state, problems) = crate::load::load_sources(&[crate::load::Source {
            path: "sites/s.test.yaml".into(),
            text: format!("name: s.test\nurl: https://s.test/\n{extra}"),
        }]);
        assert!(problems.is_empty(), "{problems:?}");
        state.sites.into_values().next().expect("site")
    }

    const WORDPRESS: &str = "# BEGIN WordPress\n<IfModule mod_rewrite.c>\nRewriteEngine On\n\
        RewriteBase /\nRewriteRule ^index\\.php$ - [L]\nRewriteCond %{REQUEST_FILENAME} !-f\n\
        RewriteCond %{REQUEST_FILENAME} !-d\nRewriteRule . /index.php [L]\n</IfModule>\n\
        # END WordPress\n";

    #[test]
    fn the_block_goes_first_and_wordpress_is_kept() {
        let s = site(
            "headers:\n  X-Frame-Options: DENY\nredirects:\n  - {from: 'http://s.test/', to: 'https://s.test/'}\n",
        );
        let headers = crate::provider::desired::headers(&s, &Default::default()).unwrap();
        let block = Htaccess.render(&s, &headers, true).unwrap();
        assert_eq!(
            block,
            "# BEGIN siteward\n# managed by siteward — do not edit between these markers; site s.test\n\
             <IfModule mod_headers.c>\nHeader always set X-Frame-Options \"DENY\"\n</IfModule>\n\
             <IfModule mod_rewrite.c>\nRewriteEngine On\nRewriteCond %{HTTPS} !=on\n\
             RewriteRule ^ https://s.test%{REQUEST_URI} [R=301,L]\n</IfModule>\n# END siteward\n"
        );
        let file = Htaccess.splice(Some(WORDPRESS), &block).unwrap();
        assert_eq!(file, format!("{block}\n{WORDPRESS}"));
        let v = Htaccess.view(&s, &file).unwrap();
        assert!(v.headers.contains("x-frame-options") && v.headers.len() == 1);
        assert!(v.redirects.contains("http://s.test/"));
        // WordPress's own rewrite lines are not siteward's.
        let wp_only = Htaccess.view(&s, WORDPRESS).unwrap();
        assert_eq!(wp_only, View::default());
    }
}
