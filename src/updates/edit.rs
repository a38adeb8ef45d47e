//! The in-place edit of a site file: only the version strings of the bumped packages change;
//! every other byte — comments, key order, quoting, spacing — stays as written. Each version is
//! found through the located YAML tree ([`crate::yaml::node`]) and spliced at its line and column,
//! then the result is parsed again to prove the edit landed where it should.

use std::sync::Arc;

use super::Bump;
use crate::spec::{Version, VersionSpec};
use crate::vuln::Kind;
use crate::yaml::node::{Kind as NodeKind, Node, parse};

/// Why a file could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("`{path}` is not valid YAML: {message}")]
    Parse { path: String, message: String },
    #[error(
        "`{path}`: {what} is not written in this file as `{from}` (set by a policy, an alias or a constraint)"
    )]
    NotHere {
        path: String,
        what: String,
        from: String,
    },
    #[error("`{path}`:{line}:{column}: the text there is not the version `{from}`")]
    Mismatch {
        path: String,
        line: usize,
        column: usize,
        from: String,
    },
}

/// `text` with each bump's version string replaced by its new version.
pub fn apply(path: &str, text: &str, bumps: &[Bump]) -> Result<String, EditError> {
    let shown: Arc<str> = Arc::from(path);
    let root = parse(&shown, text).map_err(|p| EditError::Parse {
        path: path.to_owned(),
        message: p.first().map(ToString::to_string).unwrap_or_default(),
    })?;
    let mut splices: Vec<(usize, usize, &str)> = Vec::new();
    for b in bumps {
        let node = find(&root, b).ok_or_else(|| not_here(path, b))?;
        let NodeKind::Scalar { text: scalar, .. } = &node.kind else {
            return Err(not_here(path, b));
        };
        let from: Version = b.from.parse().map_err(|_| not_here(path, b))?;
        if scalar.parse::<VersionSpec>().ok().as_ref() != Some(&VersionSpec::Exact(from)) {
            return Err(not_here(path, b));
        }
        let mismatch = || EditError::Mismatch {
            path: path.to_owned(),
            line: node.loc.line,
            column: node.loc.column,
            from: b.from.clone(),
        };
        let start = offset(text, node.loc.line, node.loc.column).ok_or_else(mismatch)?;
        let rest = &text[start..];
        let inner = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                if !(body.starts_with(scalar.as_str()) && body[scalar.len()..].starts_with(q)) {
                    return Err(mismatch());
                }
                start + 1
            }
            _ if rest.starts_with(scalar.as_str()) => start,
            _ => return Err(mismatch()),
        };
        splices.push((inner, inner + scalar.len(), b.to.as_str()));
    }
    splices.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_owned();
    for (from, to, new) in &splices {
        out.replace_range(*from..*to, new);
    }
    // Proof: the edited file parses and now reads the new versions where the old ones were.
    let again = parse(&shown, &out).map_err(|p| EditError::Parse {
        path: path.to_owned(),
        message: p.first().map(ToString::to_string).unwrap_or_default(),
    })?;
    for b in bumps {
        match find(&again, b).map(|n| &n.kind) {
            Some(NodeKind::Scalar { text, .. }) if *text == b.to => {}
            _ => return Err(not_here(path, b)),
        }
    }
    Ok(out)
}

fn not_here(path: &str, b: &Bump) -> EditError {
    let what = match b.kind {
        Kind::Core => "software.core".to_owned(),
        Kind::Plugin => format!("software.plugins.{}", b.slug),
        Kind::Theme => format!("software.themes.{}", b.slug),
    };
    EditError::NotHere {
        path: path.to_owned(),
        what,
        from: b.from.clone(),
    }
}

/// The scalar holding a bump's version: `software.core`, or a plugin/theme entry written as a
/// string or as `{version: ..}`.
fn find<'n>(root: &'n Node, b: &Bump) -> Option<&'n Node> {
    let sw = root.get("software")?;
    let entry = match b.kind {
        Kind::Core => return sw.get("core"),
        Kind::Plugin => sw.get("plugins")?.get(&b.slug)?,
        Kind::Theme => sw.get("themes")?.get(&b.slug)?,
    };
    match &entry.kind {
        NodeKind::Map(_) => entry.get("version"),
        _ => Some(entry),
    }
}

/// Byte offset of a 1-based line and (character) column.
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let row = &text[start..];
    let col = row
        .char_indices()
        .nth(column.checked_sub(1)?)
        .map(|(i, _)| i)?;
    Some(start + col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = r#"# yaml-language-server: $schema=../siteward.schema.json
name: shop.example.nl   # the shop
url: https://shop.example.nl/
software:
  platform: wordpress
  core: '6.4.1'        # pinned after the Dec release
  plugins:
    # forms
    contact-form-7: "5.8.3"
    woocommerce: {version: 8.5.2, active: true}   # flow style
    wordfence: ">=7.11, <8"
    wp-résumé: "1.0"
  themes:
    storefront:
      version: "4.5.3"
      active: true
"#;

    fn bump(kind: Kind, slug: &str, from: &str, to: &str) -> Bump {
        Bump {
            kind,
            slug: slug.into(),
            from: from.into(),
            to: to.into(),
            released: None,
            url: None,
            security: vec![],
        }
    }

    #[test]
    fn only_the_version_strings_change() {
        let bumps = [
            bump(Kind::Core, "wordpress", "6.4.1", "6.4.3"),
            bump(Kind::Plugin, "contact-form-7", "5.8.3", "5.8.10"),
            bump(Kind::Plugin, "woocommerce", "8.5.2", "8.6.1"),
            bump(Kind::Theme, "storefront", "4.5.3", "4.5.5"),
        ];
        let out = apply("sites/shop.example.nl.yaml", SITE, &bumps).unwrap();
        let expected = SITE
            .replace("core: '6.4.1'", "core: '6.4.3'")
            .replace("\"5.8.3\"", "\"5.8.10\"")
            .replace("version: 8.5.2,", "version: 8.6.1,")
            .replace("\"4.5.3\"", "\"4.5.5\"");
        assert_eq!(out, expected, "every other byte stays");
    }

    #[test]
    fn a_version_not_written_here_is_refused() {
        let e = apply(
            "s.yaml",
            SITE,
            &[bump(Kind::Plugin, "wordfence", "7.11", "7.12")],
        )
        .unwrap_err();
        assert!(matches!(e, EditError::NotHere { .. }), "{e}");
        let e = apply(
            "s.yaml",
            SITE,
            &[bump(Kind::Plugin, "akismet", "5.0", "5.1")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("software.plugins.akismet"), "{e}");
        // A multi-byte slug before the value: columns are characters, offsets bytes.
        let out = apply(
            "s.yaml",
            SITE,
            &[bump(Kind::Plugin, "wp-résumé", "1.0", "1.1")],
        )
        .unwrap();
        assert_eq!(
            out,
            SITE.replace("wp-résumé: \"1.0\"", "wp-résumé: \"1.1\"")
        );
    }
}
