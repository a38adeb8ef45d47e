//! Redirect drift: the first response from each `from` must redirect to `to` with `status`.
//!
//! A source that gave no response at all (refused, timed out) is unknown, not drift: it
//! yields no change (an `add` would make `reconcile` write, reload, fail verification and roll
//! back on every run), and the site carries a warning and lists it as unobserved, so that the
//! run exits 1.

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
        if o.hops.is_empty() {
            continue;
        }
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

/// The redirect sources that gave no response: their keys (`redirect http://…`), with one
/// warning each pushed on `warnings` naming the source and the address requested.
pub fn unobserved(
    d: &Desired<'_>,
    obs: &[RedirectObservation],
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let mut keys = Vec::new();
    for (r, o) in d.site.redirects.iter().zip(obs) {
        if !o.hops.is_empty() {
            continue;
        }
        let why = o.error.as_deref().unwrap_or("no response");
        warnings.push(format!(
            "redirect from `{}` could not be observed (requested at {}): {why}; it is unknown, \
             not drift, and nothing is planned for it",
            r.from,
            address(d, r)
        ));
        keys.push(format!("redirect {}", r.from));
    }
    keys
}

/// Where a request for the redirect's source went, for people: the `connect`/`connect_http`
/// address with its port, or the source's own host.
fn address(d: &Desired<'_>, r: &Redirect) -> String {
    let from = r.from.url();
    let port = from.port_or_known_default().unwrap_or(80);
    let to = match (from.scheme(), &d.site.connect_http, &d.site.connect) {
        ("http", Some(c), _) => Some((c, c.port.unwrap_or(port), "connect_http")),
        ("http", None, Some(c)) => Some((c, port, "connect")),
        ("https", _, Some(c)) => Some((c, c.port.unwrap_or(port), "connect")),
        _ => None,
    };
    match to {
        Some((c, port, key)) => format!("`{}:{port}` from `{key}`", c.host),
        None => format!("`{}:{port}`", r.from.host()),
    }
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
