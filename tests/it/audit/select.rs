//! `--changed-since REV` against a real git repository: own file changes, policy changes,
//! deletions (reported, not acted on), staged, unstaged and untracked files.

use siteward::git::Repo;
use siteward::select::changed_since;

use crate::support::git::GitRepo;

fn site(name: &str, extra: &str) -> String {
    format!("name: {name}\nurl: https://{name}/\n{extra}")
}

#[test]
fn changed_since_selects_sites_by_own_file_and_policy() {
    let state = GitRepo::new();
    state
        .write("policies/baseline.yaml", "name: baseline\n")
        .write("policies/webshop.yaml", "name: webshop\n")
        .write(
            "sites/a.example.yaml",
            &site("a.example", "policies: [baseline]\n"),
        )
        .write(
            "sites/shops/b.example.yaml",
            &site("b.example", "policies: [baseline, webshop]\n"),
        )
        .write("sites/c.example.yaml", &site("c.example", ""))
        .write("sites/d.example.yaml", &site("d.example", ""));
    let base = state.commit("initial");

    // Unstaged edit, a policy edit (staged), a deletion and an untracked new site.
    state.write("sites/c.example.yaml", &site("c.example", "owner: ops\n"));
    state.write(
        "policies/webshop.yaml",
        "name: webshop\ndescription: shops\n",
    );
    state.git(&["add", "policies/webshop.yaml"]);
    std::fs::remove_file(state.path().join("sites/d.example.yaml")).unwrap();
    state.write("sites/e.example.yaml", &site("e.example", ""));

    let desired = siteward::load::load_repo(state.path()).unwrap();
    let repo = Repo::open(state.path()).unwrap();
    let changed = changed_since(&repo, &base, &desired).unwrap();
    let names: Vec<&str> = changed.sites.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["b.example", "c.example", "e.example"]);
    assert_eq!(changed.removed, ["d.example"]);

    // After committing, `HEAD~1` names the same change; `HEAD` none.
    state.commit("edits");
    let changed = changed_since(&repo, "HEAD~1", &desired).unwrap();
    assert_eq!(changed.sites.len(), 3);
    let none = changed_since(&repo, "HEAD", &desired).unwrap();
    assert!(none.sites.is_empty() && none.removed.is_empty());

    // A settings change selects every site.
    state.write("siteward.yaml", "concurrency: 8\n");
    let all = changed_since(&repo, "HEAD", &desired).unwrap();
    assert_eq!(all.sites.len(), desired.sites.len());

    let err = changed_since(&repo, "no-such-rev", &desired).unwrap_err();
    let msg = siteward::error_text::chain(&err);
    assert!(
        msg.starts_with("`--changed-since no-such-rev`: revision `no-such-rev` not found"),
        "{msg}"
    );
}
