//! The plan stage (pure): decides once, per change, what `apply` and `reconcile` will do with
//! it — `apply` (by which provider), `propose` (why not applied) or `skip` (why nothing is
//! done) — from the command, the site's `sync` mode and what its provider says it can do (a
//! verdict judged from the provider's own file, read during observation). `plan` shows these
//! steps; `apply` and `reconcile` execute exactly them; `--dry-run` prints them.

use crate::plan::{Change, Resource, SitePlan, Step, SyncStatus};
use crate::spec::SyncMode;

/// The command a plan is staged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `siteward apply` (and `siteward plan`, its preview): every site but `sync: observe`.
    Apply,
    /// `siteward reconcile`: per site according to its `sync` mode.
    Reconcile,
}

/// What the site's provider says about one change: `Ok` when it can make it true, else why
/// not.
pub type Verdict = Result<(), String>;

/// The step for one change.
pub fn step(command: Command, sync: SyncMode, verdict: &Verdict) -> (Step, Option<String>) {
    match (command, sync, verdict) {
        (_, SyncMode::Observe, _) => (
            Step::Skip,
            Some("`sync: observe`: reported only".to_owned()),
        ),
        (Command::Reconcile, SyncMode::Propose, _) => {
            (Step::Propose, Some("`sync: propose`".to_owned()))
        }
        (_, _, Ok(())) => (Step::Apply, None),
        (_, _, Err(why)) => (Step::Propose, Some(why.clone())),
    }
}

/// Stages every change of `plan`: `applicable` from the verdict, `step` and `reason` from
/// [`step`]. A site that was not observed has no changes to stage.
pub fn stage_site(
    plan: &mut SitePlan,
    command: Command,
    sync: SyncMode,
    verdict: impl Fn(&Change) -> Verdict,
) {
    if plan.sync == SyncStatus::Unknown {
        skip_all(plan, "the site was not observed");
        return;
    }
    for c in &mut plan.changes {
        let v = verdict(c);
        c.applicable = v.is_ok();
        (c.step, c.reason) = step(command, sync, &v);
    }
}

/// Turns every change of `plan` into a `skip` with `reason` (a stale saved plan, a site only
/// re-observed after an interrupted apply).
pub fn skip_all(plan: &mut SitePlan, reason: &str) {
    for c in &mut plan.changes {
        c.step = Step::Skip;
        c.reason = Some(reason.to_owned());
    }
}

/// Holds the `apply` steps of `plan`'s `resource` changes: they become `skip` with `reason`
/// (a certificate provider backing off after ACME errors).
pub fn hold(plan: &mut SitePlan, resource: Resource, reason: &str) {
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.resource == resource && c.step == Step::Apply)
    {
        c.step = Step::Skip;
        c.reason = Some(reason.to_owned());
    }
}

/// Holds every `apply` step of `plan`: they become `skip` with `reason` (the site is inside a
/// change window, [`crate::windows`]).
pub fn hold_all(plan: &mut SitePlan, reason: &str) {
    for c in plan.changes.iter_mut().filter(|c| c.step == Step::Apply) {
        c.step = Step::Skip;
        c.reason = Some(reason.to_owned());
    }
}

/// The changes of `plan` with step `step`.
pub fn with_step(plan: &SitePlan, step: Step) -> impl Iterator<Item = &Change> {
    plan.changes.iter().filter(move |c| c.step == step)
}

#[cfg(test)]
mod faithful;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_sites_are_only_reported() {
        for command in [Command::Apply, Command::Reconcile] {
            let (s, why) = step(command, SyncMode::Observe, &Ok(()));
            assert_eq!(s, Step::Skip);
            assert!(why.unwrap().contains("sync: observe"));
        }
    }

    #[test]
    fn propose_sites_are_applied_by_apply_and_proposed_by_reconcile() {
        assert_eq!(
            step(Command::Apply, SyncMode::Propose, &Ok(())).0,
            Step::Apply
        );
        let (s, why) = step(Command::Reconcile, SyncMode::Propose, &Ok(()));
        assert_eq!(
            (s, why.as_deref()),
            (Step::Propose, Some("`sync: propose`"))
        );
    }

    #[test]
    fn what_no_provider_can_do_is_proposed_with_the_reason() {
        for command in [Command::Apply, Command::Reconcile] {
            let (s, why) = step(command, SyncMode::Auto, &Err("no provider".into()));
            assert_eq!((s, why.as_deref()), (Step::Propose, Some("no provider")));
            assert_eq!(step(command, SyncMode::Auto, &Ok(())), (Step::Apply, None));
        }
    }
}
