//! Observation of siteward's own files: for each site with `manage.server`, the provider's
//! view of its file on the target (local or over SSH) and whether the desired config renders.
//! Read here, once, so that the plan stage judges every change before anything runs.

use std::path::Path;

use futures_util::{StreamExt, stream};

use super::ObserveOpts;
use crate::plan::{Change, Resource};
use crate::provider::{Provider, View};
use crate::secret::RunSecrets;
use crate::spec::Site;
use crate::stage::Verdict;
use crate::transport::Transport;

/// A site's managed web-server file as observed.
#[derive(Debug, Clone)]
pub struct Managed {
    pub provider: Provider,
    /// What the file sets now.
    pub view: View,
    /// Whether the desired config renders (e.g. nginx refuses a `$` in a value).
    pub render: Result<(), String>,
}

/// Reads the managed file of each of `sites` (in order), `concurrency` at a time. `None` for
/// a site without `manage.server`; an error when the file cannot be read.
pub async fn read_all(
    sites: &[&Site],
    repo: &Path,
    opts: ObserveOpts,
    secrets: &RunSecrets,
) -> Vec<Option<Result<Managed, String>>> {
    stream::iter(sites.iter().map(|site| read(site, repo, opts, secrets)))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await
}

async fn read(
    site: &Site,
    repo: &Path,
    opts: ObserveOpts,
    secrets: &RunSecrets,
) -> Option<Result<Managed, String>> {
    let m = site.manage.server.as_ref()?;
    let provider = match Provider::for_site(site, repo) {
        Ok(Some(p)) => p,
        Ok(None) => return None,
        Err(e) => return Some(Err(crate::error_text::chain(&e))),
    };
    let transport = match Transport::from_spec(&m.transport, repo, opts.transport_timeouts()) {
        Ok(t) => t,
        Err(e) => return Some(Err(crate::error_text::chain(&e))),
    };
    let view = match provider.observe(site, &transport).await {
        Ok(v) => v,
        Err(e) => return Some(Err(crate::error_text::chain(&e))),
    };
    let render = secrets.site(site.name.as_str()).and_then(|s| {
        provider
            .render(site, s)
            .map(drop)
            .map_err(|e| crate::error_text::chain(&e))
    });
    Some(Ok(Managed {
        provider,
        view,
        render,
    }))
}

/// What the site's providers can do with `change`: `Ok` when one can apply it now.
pub fn verdict(
    site: &Site,
    managed: Option<&Managed>,
    wordpress: Option<&crate::wordpress::Observed>,
    change: &Change,
) -> Verdict {
    match change.resource {
        Resource::Header | Resource::Redirect => match managed {
            Some(m) => m
                .render
                .clone()
                .and_then(|()| m.provider.can_apply(site, change, &m.view)),
            None => Err(
                "no provider manages this site's headers and redirects (`manage.server`)"
                    .to_owned(),
            ),
        },
        // `acme` is the only certificate provider: it renews when its keys are configured.
        Resource::Certificate => crate::certificate::can_renew(site),
        Resource::Core | Resource::Plugin | Resource::Theme => {
            crate::wordpress::can_apply(site, wordpress, change)
        }
    }
}
