//! Apply: one site's changes through its provider, inside a crash-journal entry. The core has
//! already decided *which* changes to apply (see [`crate::reconcile`]); this module only splits
//! them into what the provider can do now and what it cannot, runs the provider, and turns the
//! outcome into action records. Providers back up, write, test, reload, verify and roll back.

use std::path::Path;

use crate::audit::{ActionRecord, ActionResult};
use crate::journal::{Entry, Journal};
use crate::plan::{Change, SitePlan};
use crate::provider::{Applicability, Provider};
use crate::spec::Site;
use crate::transport::{Timeouts, Transport};

/// The changes of a site split by whether its provider can apply them now.
#[derive(Debug, Default)]
pub struct Split {
    pub apply: Vec<Change>,
    /// With the reason the provider gave (or that there is no provider).
    pub cannot: Vec<(Change, String)>,
}

/// How a site's apply went.
#[derive(Debug)]
pub struct SiteApply {
    pub actions: Vec<ActionRecord>,
    /// Changes left for a proposal, with the reason.
    pub cannot: Vec<(Change, String)>,
    /// The provider's error text when the apply failed (already rolled back).
    pub error: Option<String>,
}

/// Everything one apply needs besides the site.
#[derive(Debug, Clone, Copy)]
pub struct ApplyCtx<'a> {
    pub repo: &'a Path,
    pub run_id: &'a str,
    pub journal: &'a Journal,
    pub timeouts: Timeouts,
    pub dry_run: bool,
}

/// Applies the applicable changes of `plan` to `site`; `recovering` when the crash journal
/// says a killed run was applying this site.
pub async fn apply_site(
    ctx: ApplyCtx<'_>,
    site: &Site,
    plan: &SitePlan,
    recovering: bool,
) -> SiteApply {
    let mut out = SiteApply {
        actions: Vec::new(),
        cannot: Vec::new(),
        error: None,
    };
    // 1. The provider and its transport.
    let setup = Provider::for_site(site, ctx.repo)
        .map_err(|e| crate::error_text::chain(&e))
        .and_then(|p| match p {
            Some(p) => {
                let spec = &site
                    .manage
                    .server
                    .as_ref()
                    .map(|m| m.transport.clone())
                    .unwrap_or_default();
                Transport::from_spec(spec, ctx.repo, ctx.timeouts)
                    .map(|t| Some((p, t)))
                    .map_err(|e| crate::error_text::chain(&e))
            }
            None => Ok(None),
        });
    let (provider, transport) = match setup {
        Ok(Some(pt)) => pt,
        Ok(None) => {
            out.cannot = plan
                .changes
                .iter()
                .map(|c| (c.clone(), cannot_reason(c)))
                .collect();
            return out;
        }
        Err(e) => return failed_setup(plan, e, out),
    };
    // 2. A desired state the provider cannot render (e.g. a `$` in an nginx value) is proposed
    //    as a whole rather than failing on every run.
    if let Err(e) = provider.render(site) {
        out.cannot = plan
            .changes
            .iter()
            .map(|c| (c.clone(), crate::error_text::chain(&e)))
            .collect();
        return out;
    }
    // 3. Split by what the provider can do, given its own view of its file.
    let observed = match provider.observe(site, &transport).await {
        Ok(o) => o,
        Err(e) => {
            return failed(
                plan.changes.iter().filter(|c| c.applicable),
                crate::error_text::chain(&e),
                out,
            );
        }
    };
    let split = split(&provider, site, &plan.changes, observed.as_deref());
    out.cannot = split.cannot;
    if split.apply.is_empty() {
        return out;
    }
    if ctx.dry_run {
        out.actions = records(&split.apply, ActionResult::Skipped, "dry run: would apply");
        return out;
    }
    // 4. Apply inside a journal entry (left behind only if this process is killed).
    let entry = Entry {
        run: ctx.run_id.to_owned(),
        site: site.name.to_string(),
        pid: std::process::id(),
        host: crate::journal::hostname(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        provider: provider.name().to_owned(),
        config: provider.config_path().display().to_string(),
    };
    let guard = match ctx.journal.begin(&entry) {
        Ok(g) => g,
        Err(e) => {
            return failed(
                split.apply.iter(),
                format!("cannot write the crash journal: {e}"),
                out,
            );
        }
    };
    let result = if recovering {
        provider.recover(site, &transport).await
    } else {
        provider.apply(site, &transport).await
    };
    drop(guard);
    match result {
        Ok(_) => {
            out.actions = records(
                &split.apply,
                ActionResult::Applied,
                &format!("applied via {}", provider.name()),
            )
        }
        Err(e) => out = failed(split.apply.iter(), crate::error_text::chain(&e), out),
    }
    out
}

/// Splits `changes` into those `provider` can apply now and the rest.
pub fn split(
    provider: &Provider,
    site: &Site,
    changes: &[Change],
    observed: Option<&str>,
) -> Split {
    let mut s = Split::default();
    for c in changes {
        if !c.applicable {
            s.cannot.push((c.clone(), cannot_reason(c)));
            continue;
        }
        match provider.applicable_to(site, c, observed) {
            Applicability::Yes => s.apply.push(c.clone()),
            Applicability::No(why) => s.cannot.push((c.clone(), why)),
        }
    }
    s
}

/// Why a change the diff marked not applicable cannot be applied.
fn cannot_reason(c: &Change) -> String {
    match &c.provider {
        Some(p) => {
            format!("the `{p}` provider cannot apply this change in this version of siteward")
        }
        None => "no provider manages this resource for the site (`manage`)".to_owned(),
    }
}

/// One action record per change, all with the same result and message.
pub fn records(changes: &[Change], result: ActionResult, message: &str) -> Vec<ActionRecord> {
    changes
        .iter()
        .map(|c| ActionRecord {
            resource: c.resource,
            key: c.key.clone(),
            action: c.action,
            result,
            message: Some(message.to_owned()),
        })
        .collect()
}

/// The provider could not even be set up or read: the applicable changes failed, the others
/// still go to a proposal.
fn failed_setup(plan: &SitePlan, error: String, mut out: SiteApply) -> SiteApply {
    out.cannot = plan
        .changes
        .iter()
        .filter(|c| !c.applicable)
        .map(|c| (c.clone(), cannot_reason(c)))
        .collect();
    failed(plan.changes.iter().filter(|c| c.applicable), error, out)
}

fn failed<'a>(
    changes: impl Iterator<Item = &'a Change>,
    error: String,
    mut out: SiteApply,
) -> SiteApply {
    let changes: Vec<Change> = changes.cloned().collect();
    out.actions = records(&changes, ActionResult::Failed, &error);
    out.error = Some(error);
    out
}
