//! Apply: one site's planned `apply` steps through its providers, each inside a crash-journal
//! entry. The plan stage ([`crate::stage`]) has already decided which changes are applied; this
//! module hands each resource group to its provider — headers and redirects to `manage.server`,
//! certificates to `manage.certificate` ([`crate::certificate`]) — which backs up, writes,
//! tests, reloads, verifies by observing again and rolls back on failure, and turns the
//! outcomes into action records.

use std::collections::BTreeMap;
use std::path::Path;

use crate::audit::{ActionRecord, ActionResult};
use crate::certificate::backoff::{self, Backoff};
use crate::journal::{Entry, Journal};
use crate::observe::ObserveOpts;
use crate::plan::{Change, Resource};
use crate::provider::Provider;
use crate::secret::RunSecrets;
use crate::spec::Site;
use crate::transport::Transport;
use crate::verify::Verify;

/// How a site's apply went.
#[derive(Debug, Default)]
pub struct SiteApply {
    pub actions: Vec<ActionRecord>,
    /// The provider's error text when the apply failed (already rolled back).
    pub error: Option<String>,
}

/// Everything one apply needs besides the site.
#[derive(Debug, Clone, Copy)]
pub struct ApplyCtx<'a> {
    pub repo: &'a Path,
    pub run_id: &'a str,
    pub journal: &'a Journal,
    /// How the run observes: verification after the apply observes the same way.
    pub opts: ObserveOpts,
    /// The run's secrets, resolved once.
    pub secrets: &'a RunSecrets,
    /// Sites' series of failed ACME issuances (from the audit branch): the next failure backs
    /// off longer.
    pub backoff: &'a BTreeMap<String, Backoff>,
    /// The run's limits on software changes (parallel sites, the canary).
    pub software: &'a crate::wordpress::fleet::Gate,
    pub dry_run: bool,
}

/// Applies `changes` (the site's changes with step `apply`) to `site`; `recovering` when the
/// crash journal says a killed run was applying this site. Certificate changes go to the
/// certificate provider, every other change to the server provider; one failing does not stop
/// the other.
pub async fn apply_site(
    ctx: ApplyCtx<'_>,
    site: &Site,
    changes: &[Change],
    recovering: bool,
) -> SiteApply {
    let (certificate, rest): (Vec<Change>, Vec<Change>) = changes
        .iter()
        .cloned()
        .partition(|c| c.resource == Resource::Certificate);
    let (software, server): (Vec<Change>, Vec<Change>) = rest.into_iter().partition(|c| {
        matches!(
            c.resource,
            Resource::Core | Resource::Plugin | Resource::Theme
        )
    });
    let mut out = apply_server(ctx, site, &server, recovering).await;
    for other in [
        apply_certificate(ctx, site, &certificate).await,
        apply_software(ctx, site, &software).await,
    ] {
        out.actions.extend(other.actions);
        out.error = match (out.error, other.error) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
    }
    out
}

/// Applies plugin and theme changes through the site's `manage.software` provider
/// ([`crate::wordpress`]): verified zips, a safe order, maintenance mode, verification (the
/// inventory, the site answering, its `checks:`) and the previous state restored on failure.
/// A killed run left at most a backup and a maintenance file WordPress ignores after ten
/// minutes; recovering is a fresh apply from a fresh inventory.
async fn apply_software(ctx: ApplyCtx<'_>, site: &Site, changes: &[Change]) -> SiteApply {
    if changes.is_empty() {
        return SiteApply::default();
    }
    if ctx.dry_run {
        let msg = format!("dry run: would apply via {}", crate::wordpress::NAME);
        return SiteApply {
            actions: records(changes, ActionResult::Skipped, &msg),
            error: None,
        };
    }
    // 1. A turn within the fleet's limits, unless the canary stopped the wave.
    let _turn = match ctx.software.enter().await {
        Ok(t) => t,
        Err(why) => {
            return SiteApply {
                actions: records(changes, ActionResult::Skipped, &why),
                error: None,
            };
        }
    };
    // 2. Apply inside a journal entry, verified; a failure counts towards the canary.
    let root = site
        .manage
        .software
        .as_ref()
        .and_then(|m| m.path.clone())
        .unwrap_or_default();
    let entry = entry(ctx, site, crate::wordpress::NAME, &root);
    let guard = match ctx.journal.begin(&entry) {
        Ok(g) => g,
        Err(e) => return failed(changes, format!("cannot write the crash journal: {e}")),
    };
    let verify = Verify::new(ctx.repo, ctx.opts, ctx.secrets, changes).with_checks();
    let timeouts = ctx.opts.transport_timeouts();
    let result = match crate::wordpress::rest::applies(site) {
        true => {
            let (repo, opts, secrets) = (ctx.repo, ctx.opts, ctx.secrets);
            crate::wordpress::rest_apply::apply(site, repo, opts, secrets, changes, &verify)
                .await
                .map_err(|e| crate::error_text::chain(&e))
        }
        false => {
            crate::wordpress::apply(site, ctx.repo, timeouts, ctx.opts.timeout, changes, &verify)
                .await
                .map_err(|e| crate::error_text::chain(&e))
        }
    };
    drop(guard);
    match result {
        Ok(done) => SiteApply {
            actions: records(changes, ActionResult::Applied, &done),
            error: None,
        },
        Err(error) => {
            ctx.software.failed();
            failed(changes, format!("site `{}`: wordpress: {error}", site.name))
        }
    }
}

/// The site's `manage.server` provider and its transport, or why they cannot be set up.
fn server_setup(ctx: ApplyCtx<'_>, site: &Site) -> Result<(Provider, Transport), String> {
    let provider = Provider::for_site(site, ctx.repo)
        .map_err(|e| crate::error_text::chain(&e))?
        .ok_or_else(|| "the site has no `manage.server` provider".to_owned())?;
    let spec = site
        .manage
        .server
        .as_ref()
        .map(|m| m.transport.clone())
        .unwrap_or_default();
    let transport = Transport::from_spec(&spec, ctx.repo, ctx.opts.transport_timeouts())
        .map_err(|e| crate::error_text::chain(&e))?;
    Ok((provider, transport))
}

/// Applies header and redirect changes through the site's `manage.server` provider.
async fn apply_server(
    ctx: ApplyCtx<'_>,
    site: &Site,
    changes: &[Change],
    recovering: bool,
) -> SiteApply {
    if changes.is_empty() {
        return SiteApply::default();
    }
    // 1. The provider and its transport.
    let (provider, transport) = match server_setup(ctx, site) {
        Ok(pt) => pt,
        Err(e) => return failed(changes, e),
    };
    if ctx.dry_run {
        let msg = format!("dry run: would apply via {}", provider.name());
        return SiteApply {
            actions: records(changes, ActionResult::Skipped, &msg),
            error: None,
        };
    }
    // 2. Apply inside a journal entry (left behind only if this process is killed).
    let entry = entry(ctx, site, provider.name(), provider.config_path());
    let guard = match ctx.journal.begin(&entry) {
        Ok(g) => g,
        Err(e) => return failed(changes, format!("cannot write the crash journal: {e}")),
    };
    let secrets = match ctx.secrets.site(site.name.as_str()) {
        Ok(s) => s,
        Err(e) => return failed(changes, e),
    };
    let verify = Verify::new(ctx.repo, ctx.opts, ctx.secrets, changes);
    let result = if recovering {
        provider.recover(site, &transport, secrets, &verify).await
    } else {
        provider.apply(site, &transport, secrets, &verify).await
    };
    drop(guard);
    match result {
        Ok(_) => SiteApply {
            actions: records(
                changes,
                ActionResult::Applied,
                &format!("applied via {}", provider.name()),
            ),
            error: None,
        },
        Err(e) => failed(changes, crate::error_text::chain(&e)),
    }
}

/// Applies certificate changes through the site's `manage.certificate` provider (`acme`): one
/// new certificate for every domain, whichever certificate changes were planned. A killed run
/// leaves nothing to resume (the order died with it), so recovering is a fresh issuance.
async fn apply_certificate(ctx: ApplyCtx<'_>, site: &Site, changes: &[Change]) -> SiteApply {
    if changes.is_empty() {
        return SiteApply::default();
    }
    // 1. The provider and its transport.
    let acme = match crate::certificate::Acme::for_site(site, ctx.repo) {
        Ok(a) => a,
        Err(e) => return failed(changes, e),
    };
    let transport =
        match crate::certificate::Acme::transport(site, ctx.repo, ctx.opts.transport_timeouts()) {
            Ok(t) => t,
            Err(e) => return failed(changes, crate::error_text::chain(&e)),
        };
    if ctx.dry_run {
        let msg = format!("dry run: would apply via {}", crate::certificate::NAME);
        return SiteApply {
            actions: records(changes, ActionResult::Skipped, &msg),
            error: None,
        };
    }
    // 2. Issue and deploy inside a journal entry; verified by observing TLS again.
    let entry = entry(ctx, site, crate::certificate::NAME, acme.cert_path());
    let guard = match ctx.journal.begin(&entry) {
        Ok(g) => g,
        Err(e) => return failed(changes, format!("cannot write the crash journal: {e}")),
    };
    // The expiry is the CA's to choose: the new serial being served proves the renewal.
    let verified: Vec<Change> = changes
        .iter()
        .filter(|c| c.key != "expiry")
        .cloned()
        .collect();
    let verify = Verify::new(ctx.repo, ctx.opts, ctx.secrets, &verified);
    let result = acme.apply(site, ctx.repo, &transport, &verify).await;
    drop(guard);
    match result {
        Ok(issued) => {
            let mut msg = format!("{issued} via {}", crate::certificate::NAME);
            if let Some(advice) = issued.renewal_advice(site) {
                msg = format!("{msg}; {advice}");
            }
            SiteApply {
                actions: records(changes, ActionResult::Applied, &msg),
                error: None,
            }
        }
        Err(e) => {
            let error = format!(
                "site `{}`: acme: {}",
                site.name,
                crate::error_text::chain(&e)
            );
            let Some(server) = e.backs_off() else {
                return failed(changes, error);
            };
            // An ACME error: later runs hold the site's certificate changes until then.
            let failures = ctx
                .backoff
                .get(site.name.as_str())
                .map_or(0, |b| b.failures)
                + 1;
            let retry = backoff::next_retry(failures, server, chrono::Utc::now())
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let error = format!("{error}; next attempt after {retry} (failure {failures})");
            let mut out = failed(changes, error);
            for a in &mut out.actions {
                a.retry_after = Some(retry.clone());
            }
            out
        }
    }
}

/// The crash-journal entry for applying `site` through `provider`, which writes `config`.
fn entry(ctx: ApplyCtx<'_>, site: &Site, provider: &str, config: &Path) -> Entry {
    Entry {
        run: ctx.run_id.to_owned(),
        site: site.name.to_string(),
        pid: std::process::id(),
        host: crate::journal::hostname(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        provider: provider.to_owned(),
        config: config.display().to_string(),
    }
}

/// One action record per change, all with the same result and message.
pub fn records<'a>(
    changes: impl IntoIterator<Item = &'a Change>,
    result: ActionResult,
    message: &str,
) -> Vec<ActionRecord> {
    changes
        .into_iter()
        .map(|c| ActionRecord {
            resource: c.resource,
            key: c.key.clone(),
            action: c.action,
            result,
            message: Some(message.to_owned()),
            retry_after: None,
        })
        .collect()
}

fn failed(changes: &[Change], error: String) -> SiteApply {
    SiteApply {
        actions: records(changes, ActionResult::Failed, &error),
        error: Some(error),
    }
}

/// Applies several sites on one server as one batch (see [`crate::provider::batch`]): each
/// site inside its own crash-journal entry, one config test and one reload for all, a failure
/// reported for exactly the sites it concerns. A panic fails every site of the batch.
pub async fn apply_batch(
    ctx: ApplyCtx<'_>,
    group: &[(&Site, &[Change])],
) -> Vec<(String, SiteApply)> {
    let work = batch_steps(ctx, group);
    match crate::isolate::catch(work).await {
        Ok(done) => done,
        Err(panic) => group
            .iter()
            .map(|(site, changes)| {
                let error = crate::isolate::panic_text(&panic);
                (site.name.to_string(), failed(changes, error))
            })
            .collect(),
    }
}

async fn batch_steps(ctx: ApplyCtx<'_>, group: &[(&Site, &[Change])]) -> Vec<(String, SiteApply)> {
    use crate::provider::batch::{self, Member};
    let mut out: Vec<(String, SiteApply)> = Vec::new();
    // 1. Each site's provider, transport and secrets; a site that cannot be set up fails alone.
    let mut ready = Vec::new();
    for (site, changes) in group {
        let name = site.name.to_string();
        let setup = server_setup(ctx, site).and_then(|(p, t)| {
            let secrets = ctx.secrets.site(site.name.as_str())?;
            Ok((p, t, secrets))
        });
        match setup {
            Ok((p, t, secrets)) => ready.push((*site, *changes, p, t, secrets)),
            Err(e) => out.push((name, failed(changes, e))),
        }
    }
    // 2. One crash-journal entry per site, left behind only if this process is killed.
    let mut guards = Vec::new();
    let mut members = Vec::new();
    let mut applied: Vec<(&Site, &[Change], &'static str)> = Vec::new();
    for (site, changes, p, t, secrets) in &ready {
        match ctx
            .journal
            .begin(&entry(ctx, site, p.name(), p.config_path()))
        {
            Ok(g) => {
                guards.push(g);
                members.push(Member {
                    provider: p,
                    site,
                    transport: t,
                    secrets,
                    verify: Verify::new(ctx.repo, ctx.opts, ctx.secrets, changes),
                });
                applied.push((site, changes, p.name()));
            }
            Err(e) => out.push((
                site.name.to_string(),
                failed(changes, format!("cannot write the crash journal: {e}")),
            )),
        }
    }
    // 3. The batch.
    let results = batch::apply(&members).await;
    drop(guards);
    for ((site, changes, provider), result) in applied.into_iter().zip(results) {
        let done = match result {
            Ok(_) => SiteApply {
                actions: records(
                    changes,
                    ActionResult::Applied,
                    &format!("applied via {provider}"),
                ),
                error: None,
            },
            Err(e) => failed(changes, crate::error_text::chain(&e)),
        };
        out.push((site.name.to_string(), done));
    }
    out
}
