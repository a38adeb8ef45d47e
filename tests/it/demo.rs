//! `siteward demo`: the whole loop with no network and no setup, through the real binary.

use super::support::{git_in, siteward};

#[test]
fn demo_runs_the_whole_loop_and_cleans_up() {
    let out = siteward(&["demo"]);
    out.expect_code(0);
    let text = &out.stdout;
    // Plan shows drift, reconcile applies the auto sites and proposes for the shop, plan again
    // shows them in sync, the audit log has the run.
    assert!(
        text.contains("3 site(s): 0 in sync, 3 drift, 0 unknown"),
        "{text}"
    );
    assert!(
        text.contains("3 site(s): 2 in sync, 1 drift, 0 unknown"),
        "{text}"
    );
    assert!(
        text.contains("proposed on `siteward-proposals/shop.demo.test`"),
        "{text}"
    );
    assert!(text.contains("Siteward-Run: "), "{text}");
    assert!(text.contains("# Change request: shop.demo.test"), "{text}");
    let state = text
        .lines()
        .find_map(|l| l.strip_prefix("state repo: "))
        .expect("state repo line");
    assert!(
        !std::path::Path::new(state).exists(),
        "the sandbox is removed"
    );
}

#[test]
fn demo_keep_leaves_a_usable_state_repo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keep = dir.path().join("sandbox");
    let out = siteward(&["demo", "--keep", keep.to_str().expect("utf-8")]);
    out.expect_code(0);
    let state = keep.join("state");
    let branches = git_in(&state, &["branch", "--list"]);
    assert!(
        branches.contains("siteward-audit")
            && branches.contains("siteward-proposals/shop.demo.test"),
        "{branches}"
    );
    let status = git_in(&state, &["status", "--porcelain"]);
    assert!(status.is_empty(), "the working tree is untouched: {status}");
    siteward(&["--repo", state.to_str().expect("utf-8"), "validate"]).expect_code(0);
    // A second --keep into the same (now non-empty) directory is refused.
    let again = siteward(&["demo", "--keep", keep.to_str().expect("utf-8")]);
    again.expect_code(1);
    assert!(again.stderr.contains("must be empty"), "{}", again.stderr);
}
