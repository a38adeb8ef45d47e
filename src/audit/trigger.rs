//! Who or what started a run: the `--trigger` text plus what the CI system says about itself
//! (GitHub Actions, GitLab CI), so a record answers "who, and from which commit/PR".

use serde::{Deserialize, Serialize};

/// What triggered a run. Absent fields were not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The `--trigger` text (`schedule`, `pr`, `manual`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `github` or `gitlab` when run in that CI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// The CI user, or the local `$USER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// The commit the CI job runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The ref the CI job runs on.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// The pull request (GitHub) or merge request (GitLab) number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
}

impl Trigger {
    /// The trigger of this process: `reason` plus the CI variables of its environment.
    pub fn from_env(reason: Option<&str>) -> Trigger {
        Trigger::from_vars(reason, |k| std::env::var(k).ok())
    }

    /// As [`Trigger::from_env`], reading variables through `var` (testable).
    pub fn from_vars(reason: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Trigger {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let mut t = Trigger {
            reason: reason.map(str::to_owned),
            ..Trigger::default()
        };
        if get("GITHUB_ACTIONS").is_some() || get("GITHUB_SHA").is_some() {
            t.ci = Some("github".into());
            t.actor = get("GITHUB_ACTOR");
            t.commit = get("GITHUB_SHA");
            t.git_ref = get("GITHUB_REF");
            t.pull_request = t.git_ref.as_deref().and_then(github_pr_number);
        } else if get("GITLAB_CI").is_some() || get("CI_COMMIT_SHA").is_some() {
            t.ci = Some("gitlab".into());
            t.actor = get("GITLAB_USER_LOGIN");
            t.commit = get("CI_COMMIT_SHA");
            t.git_ref = get("CI_COMMIT_REF_NAME");
            t.pull_request = get("CI_MERGE_REQUEST_IID").and_then(|v| v.parse().ok());
        }
        if t.actor.is_none() {
            t.actor = get("USER");
        }
        t
    }
}

/// `refs/pull/N/merge` (or `/head`) → N.
fn github_pr_number(git_ref: &str) -> Option<u64> {
    let rest = git_ref.strip_prefix("refs/pull/")?;
    let (n, tail) = rest.split_once('/')?;
    matches!(tail, "merge" | "head").then(|| n.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn github_pull_request() {
        let t = Trigger::from_vars(
            Some("pr"),
            vars(&[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_SHA", "abc"),
                ("GITHUB_ACTOR", "octocat"),
                ("GITHUB_REF", "refs/pull/42/merge"),
            ]),
        );
        assert_eq!(t.ci.as_deref(), Some("github"));
        assert_eq!(t.actor.as_deref(), Some("octocat"));
        assert_eq!(t.pull_request, Some(42));
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["ref"], "refs/pull/42/merge");
        assert_eq!(json["reason"], "pr");
    }

    #[test]
    fn gitlab_merge_request_and_local_runs() {
        let t = Trigger::from_vars(
            None,
            vars(&[
                ("CI_COMMIT_SHA", "def"),
                ("CI_MERGE_REQUEST_IID", "7"),
                ("GITLAB_USER_LOGIN", "ops"),
            ]),
        );
        assert_eq!(
            (t.ci.as_deref(), t.actor.as_deref(), t.pull_request),
            (Some("gitlab"), Some("ops"), Some(7))
        );
        let t = Trigger::from_vars(Some("manual"), vars(&[("USER", "anna")]));
        assert_eq!((t.ci, t.actor.as_deref()), (None, Some("anna")));
        assert_eq!(github_pr_number("refs/heads/main"), None);
    }
}
