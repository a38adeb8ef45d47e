//! Header drift: desired values (literal, secret or `absent`) against the live response.

use super::{Desired, change};
use crate::canon::Canon;
use crate::header_values::{normalise, squash};
use crate::observe::live::Page;
use crate::plan::{Action, Change, Resource};
use crate::provider::View;
use crate::spec::HeaderRule;

/// The desired value of header `lower` as text (secrets resolved), `None` for `absent`.
fn want(d: &Desired<'_>, lower: &str, rule: &HeaderRule) -> Option<String> {
    match rule {
        HeaderRule::Value(v) => Some(v.as_str().to_owned()),
        HeaderRule::Secret(_) => d.secrets.get(lower).map(|s| s.expose().to_owned()),
        HeaderRule::Absent => None,
    }
}

/// How a value is shown: secrets only as their digest.
fn show(rule: &HeaderRule, value: &str) -> String {
    match rule {
        HeaderRule::Secret(_) => crate::secret::shown(&squash(value)),
        _ => value.to_owned(),
    }
}

/// How a live value is shown. Besides current secrets, a header whose name suggests a
/// credential is shown as a digest too: it may carry a secret that the site file no longer
/// references (retired to `absent` or replaced by a literal), which must not reach a plan,
/// record or proposal.
fn show_live(d: &Desired<'_>, rule: &HeaderRule, lower: &str, value: &str) -> String {
    const SENSITIVE: [&str; 9] = [
        "key", "token", "secret", "auth", "pass", "sign", "cred", "session", "cookie",
    ];
    if matches!(rule, HeaderRule::Secret(_))
        || SENSITIVE.iter().any(|w| lower.contains(w))
        || d.run.contains(value)
    {
        crate::secret::shown(&squash(value))
    } else {
        value.to_owned()
    }
}

/// Desired headers, canonical: lowercased name → normalised value or `absent`.
pub fn desired(d: &Desired<'_>) -> Canon {
    let mut c = Canon::map();
    for (name, rule) in &d.site.headers {
        let lower = name.lower();
        let text = match want(d, &lower, rule) {
            Some(v) => show(rule, &normalise(&lower, &v)),
            None => "absent".to_owned(),
        };
        c = c.with(&lower, text);
    }
    c
}

/// Live headers projected on the desired names.
pub fn live(d: &Desired<'_>, page: &Page) -> Canon {
    let mut c = Canon::map();
    for (name, rule) in &d.site.headers {
        let lower = name.lower();
        let text = match page.header(&lower) {
            Some(v) => show_live(d, rule, &lower, &normalise(&lower, &v)),
            None => "absent".to_owned(),
        };
        c = c.with(&lower, text);
    }
    c
}

/// One change per header that differs.
pub fn changes(d: &Desired<'_>, page: &Page) -> Vec<Change> {
    let mut out = Vec::new();
    for (name, rule) in &d.site.headers {
        let lower = name.lower();
        let live = page.header(&lower);
        let want = want(d, &lower, rule);
        let action = match (&live, &want) {
            (Some(_), None) => Action::Remove,
            (None, Some(_)) => Action::Add,
            (Some(l), Some(w)) if normalise(&lower, l) != normalise(&lower, w) => Action::Change,
            _ => continue,
        };
        out.push(change(
            d,
            Resource::Header,
            lower,
            action,
            live.map(|v| show_live(d, rule, &name.lower(), &v)),
            want.map(|v| show(rule, &v)),
        ));
    }
    out
}

/// Headers siteward's own file sets that the desired state no longer names: planned removes.
pub fn retired(d: &Desired<'_>, page: Option<&Page>, view: &View) -> Vec<Change> {
    view.headers
        .iter()
        .filter(|name| !d.site.headers.keys().any(|n| n.lower() == **name))
        .map(|name| {
            let live = page
                .and_then(|p| p.header(name))
                .map(|v| show_live(d, &HeaderRule::Absent, name, &v));
            change(
                d,
                Resource::Header,
                name.clone(),
                Action::Remove,
                live,
                None,
            )
        })
        .collect()
}
