//! Redirect drift: the first response from each `from` must redirect to `to` with `status`.

use super::{Desired, change};
use crate::canon::Canon;
use crate::observe::live::RedirectObservation;
use crate::plan::{Action, Change, Resource};
use crate::provider::View;
use crate::spec::Redirect;

fn want(r: &Redirect) -> String {
    format!("{} {}", r.status, r.to)
}

/// What the first hop did, as `STATUS TARGET` when it redirected.
fn got(obs: &RedirectObservation) -> Result<String, String> {
    match obs.hops.first() {
        Some(h) if (300..400).contains(&h.status) => match &h.location {
            Some(l) => Ok(format!("{} {l}", h.status)),
            None => Err(format!("{} without location", h.status)),
        },
        Some(h) => Err(format!("no redirect ({})", h.status)),
        None => Err(format!(
            "no answer: {}",
            obs.error.as_deref().unwrap_or("no response")
        )),
    }
}

/// Desired redirects, canonical: source → `STATUS TARGET`.
pub fn desired(d: &Desired<'_>) -> Canon {
    d.site
        .redirects
        .iter()
        .fold(Canon::map(), |c, r| c.with(r.from.as_str(), want(r)))
}

/// Live redirects for the same sources.
pub fn live(d: &Desired<'_>, obs: &[RedirectObservation]) -> Canon {
    d.site
        .redirects
        .iter()
        .zip(obs)
        .fold(Canon::map(), |c, (r, o)| {
            c.with(r.from.as_str(), got(o).unwrap_or_else(|e| e))
        })
}

/// Missing redirects are `add`, wrong target or status `change`.
pub fn changes(d: &Desired<'_>, obs: &[RedirectObservation]) -> Vec<Change> {
    let mut out = Vec::new();
    for (r, o) in d.site.redirects.iter().zip(obs) {
        let desired = want(r);
        let (action, live) = match got(o) {
            Ok(l) if l == desired => continue,
            Ok(l) => (Action::Change, Some(l)),
            Err(_) => (Action::Add, None),
        };
        out.push(change(
            d,
            Resource::Redirect,
            r.from.to_string(),
            action,
            live,
            Some(desired),
        ));
    }
    out
}

/// Redirects siteward's own file serves that the desired state no longer names: planned
/// removes.
pub fn retired(d: &Desired<'_>, view: &View) -> Vec<Change> {
    view.redirects
        .iter()
        .filter(|from| {
            !d.site
                .redirects
                .iter()
                .any(|r| r.from.as_str() == from.as_str())
        })
        .map(|from| {
            change(
                d,
                Resource::Redirect,
                from.clone(),
                Action::Remove,
                Some("served by siteward's file".to_owned()),
                None,
            )
        })
        .collect()
}
