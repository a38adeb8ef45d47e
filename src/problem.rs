//! A located problem in the state repository: what `validate` prints and what every loader
//! error becomes. Sorted by path, then line, then column.

use std::fmt;

use serde::Serialize;

/// One problem in one file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// `path:line:col: message`, with control characters in the path or the message (echoed from
/// the file) shown as escapes, so that `validate` never writes them to a terminal.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::report::escape::text;
        write!(
            f,
            "{}:{}:{}: {}",
            text(&self.path),
            self.line,
            self.column,
            text(&self.message)
        )
    }
}

/// Sorts problems by path, line, column and message, and drops exact repeats (policy defaults
/// merged under several sites would otherwise repeat the same problem once per site).
pub fn sort_and_dedup(problems: &mut Vec<Problem>) {
    problems.sort();
    problems.dedup();
}
