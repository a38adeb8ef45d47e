//! Escaping for the output a value goes to. Values in a plan, a check report or a proposal come
//! from servers siteward does not control (headers, certificate names, error texts) and from
//! YAML in pull requests, so each renderer passes every such value through one of these:
//!
//! - [`text`] for a terminal or a log: control characters (C0, DEL, C1) and the invisible
//!   characters that reorder or break lines (bidi controls, line separators) are shown as
//!   escapes (`\x1b`, `\n`, `\u{202e}`), so a value can neither drive the terminal nor forge a
//!   line of output;
//! - [`markdown`] for running Markdown text and table cells: HTML's `<`, `>` and `&` become
//!   entities and Markdown's specials are backslash-escaped, so nothing renders as a tag, a
//!   link or emphasis;
//! - [`code_span`] / [`table_code`] for a value shown verbatim: a code span whose fence is
//!   longer than any backtick run inside;
//! - [`fenced`] for a block (a diff): a fence longer than any backtick run, each line as
//!   [`text`];
//! - [`html`] for text inside raw HTML (`<summary>`).

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal as itself.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `s` for a terminal: every control or invisible reordering character as an escape.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `s` as running Markdown text (also safe in a table cell): one line, no HTML, no Markdown
/// syntax.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in text(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '$' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` verbatim in an inline code span (one line; nothing inside a code span is HTML or
/// Markdown).
pub fn code_span(s: &str) -> String {
    let s = text(s);
    if s.is_empty() {
        return "` `".to_owned();
    }
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    // CommonMark strips one space from each side when both are present; pad so that a leading
    // or trailing backtick cannot join the fence and the value keeps its own spaces.
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && !s.trim().is_empty());
    let sp = if pad { " " } else { "" };
    format!("{fence}{sp}{s}{sp}{fence}")
}

/// [`code_span`] for a table cell: GitHub splits cells at `|` even inside code spans, so pipes
/// are escaped (and show as `|`).
pub fn table_code(s: &str) -> String {
    code_span(s).replace('|', "\\|")
}

/// A fenced code block with `info` (e.g. `diff`) holding `s`: the fence is longer than any
/// backtick run in `s`, and each line is shown as [`text`].
pub fn fenced(s: &str, info: &str) -> String {
    let fence = "`".repeat(longest_run(s, '`').max(2) + 1);
    let mut out = format!("{fence}{info}\n");
    for line in s.lines() {
        out.push_str(&text(line));
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// `s` inside raw HTML: one line, `&<>"'` as entities.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in text(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` in Slack's `mrkdwn` (notifications): one line, and the three characters Slack
/// requires escaped, `&<>`, as entities, so a value can neither mention (`<!channel>`) nor link.
pub fn slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in text(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn text_shows_control_characters_as_escapes() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
        assert_eq!(text("one\ntwo\r\tx"), "one\\ntwo\\r\\tx");
        assert_eq!(text("\u{9b}31m \u{202e}evil"), "\\x9b31m \\u{202e}evil");
    }

    #[test]
    fn markdown_renders_nothing() {
        assert_eq!(
            markdown("</details><h1>x</h1> *a* [l](u) `c` | \x1b"),
            "&lt;/details&gt;&lt;h1&gt;x&lt;/h1&gt; \\*a\\* \\[l\\](u) \\`c\\` \\| \\\\x1b"
        );
    }

    #[test]
    fn code_spans_outlast_any_backtick_run() {
        assert_eq!(code_span("DENY"), "`DENY`");
        assert_eq!(code_span("a ``b`` c"), "```a ``b`` c```");
        assert_eq!(code_span("`x"), "`` `x ``");
        assert_eq!(code_span(" x "), "`  x  `");
        assert_eq!(code_span(""), "` `");
        assert_eq!(code_span("<h1>\n"), "`<h1>\\n`");
        assert_eq!(table_code("a|b"), "`a\\|b`");
        assert_eq!(
            fenced("+ ```\n- x\x1b", "diff"),
            "````diff\n+ ```\n- x\\x1b\n````\n"
        );
        assert_eq!(html("<b>\"'&"), "&lt;b&gt;&quot;&#39;&amp;");
    }

    /// Where a code span `s` (as [`code_span`] makes it) ends: its opening fence must close
    /// exactly at the end.
    fn closes_at_end(s: &str) -> bool {
        let n = s.chars().take_while(|c| *c == '`').count();
        let inner = &s[n..s.len() - n];
        n > 0 && s.ends_with(&"`".repeat(n)) && longest_run(inner, '`') < n
    }

    proptest! {
        #[test]
        fn text_never_holds_a_control_character(s in any::<String>()) {
            prop_assert!(!text(&s).chars().any(hidden));
        }

        #[test]
        fn markdown_never_holds_a_tag_or_a_live_backtick(s in any::<String>()) {
            let md = markdown(&s);
            prop_assert!(!md.contains('<') && !md.contains('>'));
            prop_assert!(!md.chars().any(hidden));
            // Every backtick is escaped: no code span (or fence) can open.
            let mut escaped = false;
            for c in md.chars() {
                prop_assert!(c != '`' || escaped, "{md}");
                escaped = c == '\\' && !escaped;
            }
        }

        #[test]
        fn code_spans_are_balanced(s in any::<String>()) {
            let span = code_span(&s);
            prop_assert!(!span.chars().any(hidden));
            prop_assert!(closes_at_end(&span), "{span}");
        }

        #[test]
        fn fences_outlast_their_content(s in any::<String>()) {
            let block = fenced(&s, "diff");
            let fence = block.lines().next().unwrap_or_default().trim_end_matches("diff");
            prop_assert!(fence.len() >= 3);
            let body: Vec<&str> = block.lines().collect();
            prop_assert_eq!(body.last().copied(), Some(fence));
            for line in &body[1..body.len() - 1] {
                prop_assert!(!line.trim_start().starts_with(fence), "{line}");
                prop_assert!(!line.chars().any(hidden));
            }
        }
    }
}
