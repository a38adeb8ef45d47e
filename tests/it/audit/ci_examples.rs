//! The CI examples in `examples/ci/` stay valid: every file parses as YAML, and every
//! `siteward ...` command in them is accepted by the real binary's argument parser when run on
//! a fixture state repo (CI expressions and variables replaced by fixture values).

use std::path::Path;

use crate::support::git::{GitRepo, siteward};

/// Values for the CI expressions and variables the examples use.
const FIXTURES: &[(&str, &str)] = &[
    ("${{ github.base_ref }}", "main"),
    ("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
];

/// Shell operators that end the siteward part of a command line.
const OPERATORS: &[&str] = &["||", "&&", ";", "|", ">", ">>", "2>&1"];

/// Keys whose values are shell commands: GitHub's `run`, GitLab's `script` lists, Buildkite's
/// `command`/`commands`.
const SHELL_KEYS: &[&str] = &[
    "run",
    "script",
    "before_script",
    "after_script",
    "command",
    "commands",
];

/// Every shell command string in a YAML document.
fn shell_strings(v: &serde_norway::Value, in_shell: bool, out: &mut Vec<String>) {
    match v {
        serde_norway::Value::String(s) if in_shell => out.push(s.clone()),
        serde_norway::Value::Sequence(items) => {
            items.iter().for_each(|i| shell_strings(i, in_shell, out))
        }
        serde_norway::Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            let shell = k.as_str().is_some_and(|k| SHELL_KEYS.contains(&k));
            shell_strings(v, shell, out);
        }),
        serde_norway::Value::Tagged(t) => shell_strings(&t.value, in_shell, out),
        _ => {}
    }
}

/// The argv (without `siteward`) of every siteward command line in `text`.
pub(crate) fn siteward_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut line = line.trim().to_owned();
        for (from, to) in FIXTURES {
            line = line.replace(from, to);
        }
        let Some(words) = shlex::split(&line) else {
            continue;
        };
        if words.first().map(String::as_str) != Some("siteward") || words.len() < 2 {
            continue;
        }
        let argv: Vec<String> = words[1..]
            .iter()
            .take_while(|w| !OPERATORS.contains(&w.as_str()))
            .cloned()
            .collect();
        assert!(
            argv.iter().all(|w| !w.contains('$')),
            "unsubstituted variable in `{line}`"
        );
        out.push(argv);
    }
    out
}

#[test]
fn ci_examples_parse_and_their_commands_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci");
    let state = GitRepo::new();
    state.write(
        "sites/shop.example.nl.yaml",
        "name: shop.example.nl\nurl: https://shop.example.nl/\n",
    );
    state.commit("first");
    state.write(
        "sites/shop.example.nl.yaml",
        "name: shop.example.nl\nurl: https://shop.example.nl/\nowner: ops\n",
    );
    state.commit("second");
    state.git(&["update-ref", "refs/remotes/origin/main", "HEAD~1"]);

    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "apply-on-merge.yml",
            "buildkite-pipeline.yml",
            "gitlab-ci.yml",
            "pr-plan.yml",
            "scheduled-reconcile.yml"
        ]
    );
    let mut commands = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: serde_norway::Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", file.display()));
        let mut all = Vec::new();
        shell_strings(&doc, false, &mut all);
        let found: Vec<Vec<String>> = all.iter().flat_map(|s| siteward_commands(s)).collect();
        assert!(
            !found.is_empty(),
            "no siteward command in {}",
            file.display()
        );
        commands.extend(found.into_iter().map(|argv| (file.clone(), argv)));
    }
    assert_eq!(commands.len(), 8, "{commands:?}");
    let subcommands: Vec<&str> = commands.iter().map(|(_, a)| a[0].as_str()).collect();
    for wanted in ["plan", "apply", "reconcile"] {
        assert!(
            subcommands.contains(&wanted),
            "no `siteward {wanted}` in the examples"
        );
    }
    for (file, argv) in &commands {
        let out = siteward(state.path()).args(argv).run();
        let context = format!("{}: siteward {}: {out:#?}", file.display(), argv.join(" "));
        assert!([0, 1, 2].contains(&out.code), "{context}");
        for clap_error in ["unexpected argument", "invalid value", "Usage:", "required"] {
            assert!(!out.stderr.contains(clap_error), "{context}");
        }
    }
}
