//! Saved plans (`siteward plan --out plan.json`, then `siteward apply plan.json`):
//! writing, loading with clear errors, and the staleness check that makes `apply` refuse a site
//! whose desired or live state changed since the plan was made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::plan::{PLAN_VERSION, Plan, SitePlan, Step};

/// A saved plan cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read plan file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write plan file `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{path}` is not a siteward plan ({reason}); make one with \
`siteward plan --out FILE.json`"
    )]
    NotAPlan { path: PathBuf, reason: String },
    #[error(
        "`{path}` is a version {found} plan; this siteward reads version {PLAN_VERSION}: \
make a new plan with this version"
    )]
    Version { path: PathBuf, found: u64 },
}

/// Writes `plan` as JSON to `path` (via a temporary file, so a reader never sees half a plan).
pub fn write(path: &Path, plan: &Plan) -> Result<(), SavedPlanError> {
    let err = |source| SavedPlanError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    crate::report::json::write(plan, tmp.as_file_mut()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Loads a saved plan, telling apart "not a plan at all" from "a plan of another version".
pub fn load(path: &Path) -> Result<Plan, SavedPlanError> {
    let not_a_plan = |reason: String| SavedPlanError::NotAPlan {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| SavedPlanError::Read {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| not_a_plan(format!("not JSON: {e}")))?;
    let is_plan = value
        .get("run")
        .is_some_and(|r| r.get("desired_commit").is_some())
        && value.get("sites").is_some_and(serde_json::Value::is_array);
    if !is_plan {
        return Err(not_a_plan("no `run` and `sites`".into()));
    }
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PLAN_VERSION) => {}
        Some(found) => {
            return Err(SavedPlanError::Version {
                path: path.to_owned(),
                found,
            });
        }
        None => return Err(not_a_plan("no `version`".into())),
    }
    serde_json::from_value(value).map_err(|e| not_a_plan(e.to_string()))
}

/// Whether a site's part of a saved plan may still be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale { reason: String },
}

/// Per site of `plan`: fresh when the desired commit is unchanged, the site's desired state
/// digest is unchanged (an uncommitted edit counts) and its live state digest equals the one in
/// the plan. `now` is this run's plan of the same sites; a site missing from it, or that cannot
/// be observed now, is stale too.
pub fn staleness(
    plan: &Plan,
    desired_commit: Option<&str>,
    now: &[SitePlan],
) -> BTreeMap<String, Freshness> {
    let short = |c: Option<&str>| c.map_or("none".to_owned(), |c| c.chars().take(12).collect());
    let desired_moved = plan.run.desired_commit.as_deref() != desired_commit;
    plan.sites
        .iter()
        .map(|site| {
            let stale = |reason: String| Freshness::Stale { reason };
            let current = now.iter().find(|p| p.site == site.site);
            let freshness = if desired_moved {
                stale(format!(
                    "desired commit changed since the plan: {} → {}",
                    short(plan.run.desired_commit.as_deref()),
                    short(desired_commit)
                ))
            } else if current.is_some_and(|c| c.desired_sha256 != site.desired_sha256) {
                stale("desired state changed since the plan (an uncommitted edit?)".into())
            } else {
                match (
                    site.observed_sha256.as_deref(),
                    current.and_then(|c| c.observed_sha256.as_deref()),
                ) {
                    (None, _) => {
                        stale("the site could not be observed when the plan was made".into())
                    }
                    (_, None) => stale("the site cannot be observed now".into()),
                    (Some(then), Some(now)) if then != now => {
                        stale("live state changed since the plan".into())
                    }
                    _ => match current.map(|c| steps(c)) {
                        Some(now) if now != steps(site) => {
                            stale("what apply would do now differs from the plan's steps".into())
                        }
                        _ => Freshness::Fresh,
                    },
                }
            };
            (site.site.clone(), freshness)
        })
        .collect()
}

/// The plan stage's verdicts of a site, comparable between a saved plan and now.
fn steps(site: &SitePlan) -> Vec<(crate::plan::Resource, &str, crate::plan::Action, Step)> {
    site.changes
        .iter()
        .map(|c| (c.resource, c.key.as_str(), c.action, c.step))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Health, RunInfo, SyncStatus};

    fn plan() -> Plan {
        let site = |name: &str, digest: Option<&str>| SitePlan {
            site: name.into(),
            sync: SyncStatus::InSync,
            health: Health::Healthy,
            observed_sha256: digest.map(str::to_owned),
            desired_sha256: "d".into(),
            changes: vec![],
            checks: vec![],
            error: None,
            warnings: vec![],
            unobserved: vec![],
            manage_changes: vec![],
            findings: vec![],
            vulnerabilities: vec![],
            software_source: None,
        };
        Plan::new(
            RunInfo {
                id: "r".into(),
                started: "2026-11-29T10:00:00Z".into(),
                desired_commit: Some("abc".repeat(10)),
            },
            vec![site("a", Some("1")), site("b", Some("2")), site("c", None)],
        )
    }

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        write(&path, &plan()).unwrap();
        assert_eq!(load(&path).unwrap(), plan());

        std::fs::write(&path, r#"{"version":1,"valid":true,"problems":[]}"#).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("is not a siteward plan"), "{e}");
        std::fs::write(&path, "not json").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("not JSON"));

        let mut v = serde_json::to_value(plan()).unwrap();
        v["version"] = 2.into();
        std::fs::write(&path, v.to_string()).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("is a version 2 plan"), "{e}");
        let e = load(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read plan file"), "{e}");
    }

    #[test]
    fn staleness_per_site() {
        let p = plan();
        let commit = p.run.desired_commit.clone();
        let now = |observed: [&str; 3], desired: [&str; 3]| -> Vec<SitePlan> {
            let mut sites = plan().sites;
            for ((s, o), d) in sites.iter_mut().zip(observed).zip(desired) {
                s.observed_sha256 = Some(o.to_owned());
                s.desired_sha256 = d.to_owned();
            }
            sites
        };
        let current = now(["1", "changed", "3"], ["d", "d", "d"]);
        let f = staleness(&p, commit.as_deref(), &current);
        assert_eq!(f["a"], Freshness::Fresh);
        assert_eq!(
            f["b"],
            Freshness::Stale {
                reason: "live state changed since the plan".into()
            }
        );
        assert!(matches!(f["c"], Freshness::Stale { .. }));

        let edited = now(["1", "2", "3"], ["edited", "d", "d"]);
        let f = staleness(&p, commit.as_deref(), &edited);
        assert!(
            matches!(&f["a"], Freshness::Stale { reason } if reason.contains("desired state changed"))
        );

        let f = staleness(&p, Some("def456def456def"), &current);
        let Freshness::Stale { reason } = &f["a"] else {
            panic!("expected stale")
        };
        assert_eq!(
            reason,
            "desired commit changed since the plan: abcabcabcabc → def456def456"
        );
        assert!(matches!(
            staleness(&p, commit.as_deref(), &[])["a"],
            Freshness::Stale { .. }
        ));
    }
}
