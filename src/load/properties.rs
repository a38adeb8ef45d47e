//! Property tests of the loader: whatever a pull request puts in a file — random bytes, broken
//! YAML, deep nesting, wrong types in every key — loading never panics, and every problem has
//! a 1-based line and column inside the file.

use proptest::prelude::*;

use super::{Source, load_sources};

/// Lines that look like site files: real keys with values of every type, mis-indented.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name"),
        Just("url"),
        Just("headers"),
        Just("redirects"),
        Just("manage"),
        Just("server"),
        Just("sync"),
        Just("checks"),
        Just("policies"),
        Just("timeout"),
        Just("X-Frame-Options"),
        Just("- from"),
        Just("&a"),
        Just("<<"),
    ];
    let value = prop_oneof![
        Just(""),
        Just("a"),
        Just("https://a.test/"),
        Just("[1, {x: 2}]"),
        Just("*a"),
        Just("'q\"uote'"),
        Just("\"unterminated"),
        Just("18446744073709551615"),
        Just("-1"),
        Just("{"),
        Just("env:X"),
        Just("\u{1b}[31m"),
    ];
    proptest::collection::vec((0..4usize, key, value), 0..24).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, k, v)| format!("{}{k}: {v}\n", "  ".repeat(indent)))
            .collect()
    })
}

proptest! {
    #[test]
    fn loading_never_panics_and_problems_are_located(
        site in prop_oneof![yamlish(), ".{0,300}"],
        policy in prop_oneof![yamlish(), ".{0,100}"],
    ) {
        let sources = [
            Source { path: "sites/a.yaml".into(), text: site.clone() },
            Source { path: "policies/p.yaml".into(), text: policy.clone() },
        ];
        let (_, problems) = load_sources(&sources);
        for p in &problems {
            let text = if p.path.ends_with("a.yaml") { &site } else { &policy };
            // YAML breaks lines at `\n`, `\r\n` and a lone `\r`; the end of input may be
            // reported on the line after the last break.
            let breaks = text.matches('\n').count() + text.matches('\r').count()
                - text.matches("\r\n").count();
            prop_assert!(p.line >= 1 && p.column >= 1, "{p:?}");
            prop_assert!(p.line <= breaks + 2, "{p:?} beyond {breaks} line breaks");
        }
    }
}
