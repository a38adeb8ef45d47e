//! Turns located YAML nodes into typed values, collecting every problem instead of stopping at
//! the first: a mapping reports each unknown key (with a did-you-mean), each value reports its own
//! type or format error at its own line and column.

use std::fmt::Display;
use std::str::FromStr;

use super::node::{Entry, Kind, Loc, Node};
use crate::problem::Problem;

/// Collects problems while typed values are read from nodes.
#[derive(Debug, Default)]
pub struct Reader {
    pub problems: Vec<Problem>,
}

/// The known keys of one mapping, after unknown keys were reported.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'n> {
    pub loc: &'n Loc,
    entries: &'n [Entry],
}

impl<'n> Fields<'n> {
    /// The value under `key`; an explicit `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
            .filter(|n| !n.is_null())
    }

    /// The entry (with the key's location) under `key`.
    pub fn entry(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The value under `key`, reporting it missing when absent.
    pub fn require(&self, r: &mut Reader, key: &str, what: &str) -> Option<&'n Node> {
        let node = self.get(key);
        if node.is_none() {
            r.report(self.loc, format!("{what}: missing required key `{key}`"));
        }
        node
    }
}

impl Reader {
    /// Records a problem at `loc`.
    pub fn report(&mut self, loc: &Loc, message: impl Into<String>) {
        self.problems.push(loc.problem(message));
    }

    /// Reads a mapping whose keys must come from `keys`; every other key is reported with a
    /// did-you-mean suggestion.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str, keys: &[&str]) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        for e in entries {
            if !keys.contains(&e.key.as_str()) {
                let hint = match suggest(&e.key, keys) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("expected one of: {}", keys.join(", ")),
                };
                self.report(
                    &e.key_loc,
                    format!("unknown key `{}` in {what}; {hint}", e.key),
                );
            }
        }
        Some(Fields {
            loc: &node.loc,
            entries,
        })
    }

    /// Reads a mapping with free-form keys (labels, headers, plugins).
    pub fn any_map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// Reads a list.
    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, what, "a list");
                None
            }
        }
    }

    /// Reads any non-null scalar as text (`6.4` written plain is the string "6.4").
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// Reads a scalar and parses it with `FromStr`, reporting the parser's message.
    pub fn parse<T>(&mut self, node: &Node, what: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = self.text(node, what)?;
        match text.parse() {
            Ok(v) => Some(v),
            Err(e) => {
                self.report(&node.loc, format!("{what}: {e}"));
                None
            }
        }
    }

    /// Reads a plain `true`/`false`.
    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.kind {
            Kind::Scalar { text, plain: true } if text == "true" => Some(true),
            Kind::Scalar { text, plain: true } if text == "false" => Some(false),
            _ => {
                self.wrong_type(node, what, "`true` or `false`");
                None
            }
        }
    }

    /// Reads a plain unsigned integer within `min..=max`.
    pub fn uint(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        let n = match &node.kind {
            Kind::Scalar { text, plain: true } => text.parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.report(
                    &node.loc,
                    format!("{what}: {n} is out of range {min}..={max}"),
                );
                None
            }
            None => {
                self.wrong_type(node, what, "a whole number");
                None
            }
        }
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        let found = node.type_name();
        self.report(
            &node.loc,
            format!("{what}: expected {expected}, found {found}"),
        );
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["headers", "redirects", "url"];
        assert_eq!(suggest("heders", &keys), Some("headers"));
        assert_eq!(suggest("Headers", &keys), Some("headers"));
        assert_eq!(suggest("uri", &keys), Some("url"));
        assert_eq!(suggest("completely-different", &keys), None);
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
