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

    /// Reads a scalar with `FromStr` and checks that it lies within `min..=max`; the problem
    /// names the allowed range.
    pub fn parse_within<T>(&mut self, node: &Node, what: &str, min: T, max: T) -> Option<T>
    where
        T: FromStr + PartialOrd + Display,
        T::Err: Display,
    {
        let value: T = self.parse(node, what)?;
        if value < min || value > max {
            let text = match &node.kind {
                Kind::Scalar { text, .. } => text.as_str(),
                _ => "",
            };
            self.report(
                &node.loc,
                format!("{what}: `{text}` is out of range {min}..={max}"),
            );
            return None;
        }
        Some(value)
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

    /// Reads a plain unsigned integer within `min..=max`. A number too large even for a `u64` is
    /// out of range too, never a type error.
    pub fn uint(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        let digits = match &node.kind {
            Kind::Scalar { text, plain: true } => {
                let t = text.strip_prefix('+').unwrap_or(text);
                (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then_some(t)
            }
            _ => None,
        };
        match digits.map(|t| (t, t.parse::<u64>())) {
            Some((_, Ok(n))) if (min..=max).contains(&n) => Some(n),
            Some((t, _)) => {
                self.report(
                    &node.loc,
                    format!("{what}: {t} is out of range {min}..={max}"),
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

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo. Distance is
/// optimal string alignment (`strsim`): an edit, or a swap of two neighbouring letters, costs 1.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
    fn a_swap_of_neighbours_is_one_typo() {
        // Two swapped pairs: four plain edits (too far to suggest), two swaps (close enough).
        let keys = ["headers", "redirects", "url"];
        assert_eq!(strsim::levenshtein("ehaedrs", "headers"), 4);
        assert_eq!(suggest("ehaedrs", &keys), Some("headers"));
    }
}
