//! Canonical rendering: a small sorted tree of text, rendered as YAML. Desired and observed
//! state are both rendered through it, so the text diff lines up and the sha256 digests are
//! stable (sorted keys, normalised values, nothing that ticks such as timings).

use std::collections::BTreeMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};

/// A canonical value: text, a list, or a map with sorted keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canon {
    Text(String),
    List(Vec<Canon>),
    Map(BTreeMap<String, Canon>),
}

impl Canon {
    /// An empty map.
    pub fn map() -> Canon {
        Canon::Map(BTreeMap::new())
    }

    /// Adds `key: value` when `self` is a map (a no-op otherwise); returns `self` for chaining.
    pub fn with(mut self, key: &str, value: impl Into<Canon>) -> Canon {
        if let Canon::Map(m) = &mut self {
            m.insert(key.to_owned(), value.into());
        }
        self
    }

    /// Whether this is an empty map or list.
    pub fn is_empty(&self) -> bool {
        match self {
            Canon::Text(_) => false,
            Canon::List(l) => l.is_empty(),
            Canon::Map(m) => m.is_empty(),
        }
    }

    /// The YAML text (block style, two-space indent, strings quoted only when needed).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        match self {
            Canon::Text(t) => {
                let _ = writeln!(out, "{}", scalar(t));
            }
            _ => render(self, 0, &mut out),
        }
        out
    }

    /// Lowercase hex sha256 of [`Canon::to_yaml`].
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.to_yaml().as_bytes()))
    }
}

impl From<&str> for Canon {
    fn from(s: &str) -> Canon {
        Canon::Text(s.to_owned())
    }
}

impl From<String> for Canon {
    fn from(s: String) -> Canon {
        Canon::Text(s)
    }
}

impl From<Vec<String>> for Canon {
    fn from(v: Vec<String>) -> Canon {
        Canon::List(v.into_iter().map(Canon::Text).collect())
    }
}

fn render(value: &Canon, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    match value {
        Canon::Text(t) => {
            let _ = writeln!(out, "{pad}{}", scalar(t));
        }
        Canon::List(items) => {
            for item in items {
                match item {
                    Canon::Text(t) => {
                        let _ = writeln!(out, "{pad}- {}", scalar(t));
                    }
                    other if other.is_empty() => {
                        let _ = writeln!(out, "{pad}- {}", empty(other));
                    }
                    other => {
                        let _ = writeln!(out, "{pad}-");
                        render(other, indent + 1, out);
                    }
                }
            }
        }
        Canon::Map(map) => {
            for (k, v) in map {
                let key = scalar(k);
                match v {
                    Canon::Text(t) => {
                        let _ = writeln!(out, "{pad}{key}: {}", scalar(t));
                    }
                    other if other.is_empty() => {
                        let _ = writeln!(out, "{pad}{key}: {}", empty(other));
                    }
                    other => {
                        let _ = writeln!(out, "{pad}{key}:");
                        render(other, indent + 1, out);
                    }
                }
            }
        }
    }
}

fn empty(v: &Canon) -> &'static str {
    match v {
        Canon::List(_) => "[]",
        _ => "{}",
    }
}

/// A YAML scalar: plain when unambiguous, otherwise a JSON (= YAML double-quoted) string.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '=' | '<' | '>')
        })
        && !s.starts_with(['-', '<', '>', '='])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_and_quoted() {
        let c = Canon::map()
            .with("z", "plain")
            .with("a", Canon::map().with("http://x/", "301 https://x/"))
            .with("n", "6.4")
            .with("l", vec!["b".to_owned(), "a b".to_owned()])
            .with("e", Canon::map());
        assert_eq!(
            c.to_yaml(),
            "a:\n  \"http://x/\": \"301 https://x/\"\ne: {}\nl:\n  - b\n  - \"a b\"\nn: \"6.4\"\nz: plain\n"
        );
    }

    #[test]
    fn digest_is_stable_and_order_independent() {
        let a = Canon::map().with("x", "1").with("y", "2");
        let b = Canon::map().with("y", "2").with("x", "1");
        assert_eq!(a.sha256(), b.sha256());
        assert_eq!(a.sha256().len(), 64);
        assert_ne!(a.sha256(), Canon::map().with("x", "1").sha256());
    }
}
