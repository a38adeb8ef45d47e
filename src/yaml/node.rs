//! A located YAML tree: every scalar, sequence and mapping remembers the file, line and column it
//! came from, so that later checks can report `path:line:col` for any value — even after policy
//! defaults have been merged under a site.
//!
//! Parsing is event-driven (yaml-rust2) so that we, not the parser, decide how aliases expand:
//! every expansion is charged against a node budget, which makes alias bombs fail fast with
//! bounded memory. Duplicate keys are reported here too, because a mapping type would hide them.

use std::collections::HashMap;
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

use crate::problem::Problem;

/// Most nodes one file may expand to (aliases included). Real site files have a few hundred.
pub const NODE_BUDGET: usize = 100_000;

/// Mappings up to this many keys are checked for duplicates by a scan of their entries.
const SCANNED_KEYS: usize = 16;

/// Where a node starts: file path (as shown to the user), 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub path: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl Loc {
    /// The location of a whole file (line 1, column 1).
    pub fn file(path: &Arc<str>) -> Loc {
        Loc {
            path: path.clone(),
            line: 1,
            column: 1,
        }
    }

    /// A problem at this location.
    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            path: self.path.to_string(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// One YAML node with its location.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub loc: Loc,
    /// Nodes in this subtree, itself included (what an alias to it costs).
    size: usize,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in document order; keys are unique (duplicates are reported and dropped).
    Map(Vec<Entry>),
}

/// A mapping entry: the key text and its location, and the value.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_loc: Loc,
    pub value: Node,
}

impl Node {
    /// Builds a node; `size` is derived from the children.
    pub fn new(kind: Kind, loc: Loc) -> Node {
        let size = 1 + match &kind {
            Kind::Scalar { .. } => 0,
            Kind::Seq(items) => items.iter().map(|n| n.size).sum(),
            Kind::Map(entries) => entries.iter().map(|e| e.value.size + 1).sum(),
        };
        Node { kind, loc, size }
    }

    /// True for `null`, `~` and an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } if self.is_null() => "null",
            Kind::Scalar { text, plain: true } if is_bool(text) => "a boolean",
            Kind::Scalar { text, plain: true } if text.parse::<f64>().is_ok() => "a number",
            Kind::Scalar { .. } => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The mapping entries, if this is a mapping.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `key` of a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }
}

/// A hint in the user's terms for the parser messages that usually mean a mis-indented line or
/// a quote inside a quoted value. `row` is the text of the line the parser stopped on, `col` the
/// 0-based column (in characters) where it stopped.
fn syntax_hint(info: &str, row: &str, col: usize) -> Option<&'static str> {
    const INDENT: &str = "hint: indent this line like its siblings (the keys of one mapping \
                          start in the same column, with spaces)";
    if info.contains("did not find expected key") || info.contains("expected '-' indicator") {
        return Some(INDENT);
    }
    if info.contains("mapping values are not allowed") {
        // A `: ` earlier on the same line: the value itself holds `: `. Otherwise the key is
        // indented deeper than the one above, whose value it then seems to continue.
        let before: String = row.chars().take(col).collect();
        return Some(if before.contains(": ") {
            "hint: a value that holds `: ` must be quoted, e.g. `X-Note: \"a: b\"`"
        } else {
            INDENT
        });
    }
    if info.contains("quoted scalar") {
        if info.contains("trailing content") {
            let quote = row.chars().nth(col.checked_sub(1)?)?;
            return match quote {
                '"' => Some(
                    "hint: the `\"` before this point ends the value; write a value that holds \
                     double quotes in single quotes (`'default-src \"self\"'`) or escape them \
                     as `\\\"`",
                ),
                '\'' => Some(
                    "hint: the `'` before this point ends the value; write a value that holds \
                     single quotes in double quotes (`\"default-src 'self'\"`) or double them \
                     as `''`",
                ),
                _ => None,
            };
        }
        if info.contains("end of stream") {
            return Some("hint: the quote that starts here is never closed");
        }
    }
    None
}

fn is_bool(text: &str) -> bool {
    matches!(text, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
}

/// Parses one YAML document. `None` plus problems when the text is not valid YAML; an empty
/// document parses as a null scalar at line 1.
pub fn parse(path: &Arc<str>, text: &str) -> Result<Node, Vec<Problem>> {
    let mut builder = Builder {
        path: path.clone(),
        text,
        anchors: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
        problems: Vec::new(),
        budget: NODE_BUDGET,
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    let mut root = None;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(next) => next,
            Err(e) => return Err(vec![builder.syntax_problem(&e)]),
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(vec![builder.loc(&mark).problem(
                        "more than one YAML document (`---`); a file holds exactly one",
                    )]);
                }
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            start => match builder.node(&mut parser, start, mark) {
                Ok(node) => root = Some(node),
                Err(problem) => return Err(vec![problem]),
            },
        }
    }
    if !builder.problems.is_empty() {
        return Err(builder.problems);
    }
    Ok(root.unwrap_or_else(|| {
        Node::new(
            Kind::Scalar {
                text: String::new(),
                plain: true,
            },
            Loc::file(path),
        )
    }))
}

struct Builder<'t> {
    path: Arc<str>,
    /// The document text, to phrase syntax errors in the user's terms.
    text: &'t str,
    anchors: Vec<(usize, Node)>,
    /// The items and entries of the sequences and mappings being built, innermost last: each
    /// collection is then allocated once, at its final size.
    items: Vec<Node>,
    entries: Vec<Entry>,
    /// Non-fatal problems (duplicate keys); fatal ones are returned as `Err`.
    problems: Vec<Problem>,
    budget: usize,
}

type Step<T> = Result<T, Problem>;

impl Builder<'_> {
    fn loc(&self, mark: &Marker) -> Loc {
        Loc {
            path: self.path.clone(),
            line: mark.line().max(1),
            column: mark.col() + 1,
        }
    }

    fn charge(&mut self, cost: usize, mark: &Marker) -> Step<()> {
        if cost > self.budget {
            return Err(self.loc(mark).problem(format!(
                "document expands to more than {NODE_BUDGET} nodes (an alias bomb?); refusing to load it"
            )));
        }
        self.budget -= cost;
        Ok(())
    }

    fn next(&self, parser: &mut Parser<std::str::Chars<'_>>) -> Step<(Event, Marker)> {
        parser.next_token().map_err(|e| self.syntax_problem(&e))
    }

    /// The parser's message, plus a hint where its words alone are cryptic.
    fn syntax_problem(&self, e: &ScanError) -> Problem {
        let mark = e.marker();
        let row = self.text.lines().nth(mark.line().saturating_sub(1));
        let hint = syntax_hint(e.info(), row.unwrap_or_default(), mark.col())
            .map(|h| format!("; {h}"))
            .unwrap_or_default();
        self.loc(mark)
            .problem(format!("invalid YAML: {}{hint}", e.info()))
    }

    fn node(
        &mut self,
        parser: &mut Parser<std::str::Chars<'_>>,
        event: Event,
        mark: Marker,
    ) -> Step<Node> {
        let loc = self.loc(&mark);
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, _tag) => {
                self.charge(1, &mark)?;
                let plain = style == TScalarStyle::Plain;
                (Node::new(Kind::Scalar { text, plain }, loc), anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n)
                else {
                    return Err(loc.problem("alias to an unknown anchor"));
                };
                let node = node.clone();
                self.charge(node.size, &mark)?;
                return Ok(node);
            }
            Event::SequenceStart(anchor, _tag) => {
                self.charge(1, &mark)?;
                let base = self.items.len();
                loop {
                    let (ev, m) = self.next(parser)?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    let item = self.node(parser, ev, m)?;
                    self.items.push(item);
                }
                let items = self.items.drain(base..).collect();
                (Node::new(Kind::Seq(items), loc), anchor)
            }
            Event::MappingStart(anchor, _tag) => {
                self.charge(1, &mark)?;
                let base = self.entries.len();
                // Key → line of its first definition, for mappings of more than a few keys: one
                // lookup per key keeps a mapping with tens of thousands of keys (labels) linear,
                // while a small mapping is scanned without copying or hashing its keys.
                let mut seen: HashMap<String, usize> = HashMap::new();
                loop {
                    let (ev, m) = self.next(parser)?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key_node = self.node(parser, ev, m)?;
                    let (vev, vm) = self.next(parser)?;
                    let value = self.node(parser, vev, vm)?;
                    let Kind::Scalar { text: key, .. } = key_node.kind else {
                        return Err(key_node.loc.problem("mapping keys must be plain strings"));
                    };
                    if key == "<<" {
                        return Err(key_node.loc.problem(
                            "merge keys (`<<`) are not supported; list a policy under `policies` instead",
                        ));
                    }
                    let entries = &self.entries[base..];
                    let first_line = if entries.len() < SCANNED_KEYS {
                        entries
                            .iter()
                            .find(|e| e.key == key)
                            .map(|e| e.key_loc.line)
                    } else {
                        if seen.is_empty() {
                            seen.extend(entries.iter().map(|e| (e.key.clone(), e.key_loc.line)));
                        }
                        seen.get(&key).copied()
                    };
                    if let Some(first_line) = first_line {
                        let msg =
                            format!("duplicate key `{key}` (first defined at line {first_line})");
                        self.problems.push(key_node.loc.problem(msg));
                        continue;
                    }
                    if !seen.is_empty() {
                        seen.insert(key.clone(), key_node.loc.line);
                    }
                    self.entries.push(Entry {
                        key,
                        key_loc: key_node.loc,
                        value,
                    });
                }
                let entries: Vec<Entry> = self.entries.drain(base..).collect();
                // A block mapping's event mark is not where a reader looks; its first key is.
                let loc = entries.first().map_or(loc, |e| e.key_loc.clone());
                (Node::new(Kind::Map(entries), loc), anchor)
            }
            other => return Err(loc.problem(format!("unexpected YAML event {other:?}"))),
        };
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> Arc<str> {
        Arc::from("t.yaml")
    }

    #[test]
    fn locations_are_one_based() {
        let node = parse(&path(), "a: 1\nb:\n  c: x\n").unwrap();
        let c = node.get("b").unwrap().get("c").unwrap();
        assert_eq!((c.loc.line, c.loc.column), (3, 6));
        let entries = node.get("b").unwrap().entries().unwrap();
        assert_eq!((entries[0].key_loc.line, entries[0].key_loc.column), (3, 3));
    }

    #[test]
    fn duplicate_keys_are_reported() {
        let problems = parse(&path(), "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].line, problems[0].column), (3, 1));
        assert!(
            problems[0].message.contains("duplicate key `a`"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn fifty_thousand_keys_parse_and_a_late_duplicate_is_found() {
        // Issue #8: 49,900 labels (just under the node budget) took 10 s with a scan of the
        // earlier keys per key; a set of seen keys is linear.
        let mut text = String::from("labels:\n");
        for i in 0..49_900 {
            text.push_str(&format!("  k{i:05}: v\n"));
        }
        let node = parse(&path(), &text).unwrap();
        assert_eq!(node.get("labels").unwrap().entries().unwrap().len(), 49_900);
        text.push_str("  k00007: again\n");
        let problems = parse(&path(), &text).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 49_902);
        assert!(
            problems[0]
                .message
                .contains("duplicate key `k00007` (first defined at line 9)"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn alias_bomb_fails_fast() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let problems = parse(&path(), &text).unwrap_err();
        assert!(
            problems[0].message.contains("alias bomb"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn small_aliases_expand() {
        let node = parse(&path(), "a: &x {k: v}\nb: *x\n").unwrap();
        assert!(node.get("b").unwrap().get("k").is_some());
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let problems = parse(&path(), "a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problems[0].message.starts_with("invalid YAML"));
        assert!(problems[0].line >= 1);
    }
}
