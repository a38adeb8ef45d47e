//! Header drift: desired values (literal, secret or `absent`) against the live response.

use super::values::normalise;
use super::{Desired, change};
use crate::canon::Canon;
use crate::observe::live::Page;
use crate::plan::{Action, Change, Resource};
use crate::spec::HeaderRule;

/// The desired value of header `lower` as text (secrets resolved), `None` for `absent`.
fn want(d: &Desired<'_>, lower: &str, rule: &HeaderRule) -> Option<String> {
    match rule {
        HeaderRule::Value(v) => Some(v.as_str().to_owned()),
        HeaderRule::Secret(_) => d.secrets.get(lower).cloned(),
        HeaderRule::Absent => None,
    }
}

/// How a value is shown: secrets only as their digest.
fn show(rule: &HeaderRule, value: &str) -> String {
    match rule {
        HeaderRule::Secret(_) => crate::secret::shown(&super::values::squash(value)),
        _ => value.to_owned(),
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
            Some(v) => show(rule, &normalise(&lower, &v)),
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
            live.map(|v| show(rule, &v)),
            want.map(|v| show(rule, &v)),
        ));
    }
    out
}
