//! Reads `notify:` in `siteward.yaml`: a list of `{name, url, format, events, days}` webhook
//! targets ([`crate::notify`]), each problem located at the value it is about. A URL written
//! out must be https (plain http only to a loopback host); one holding a token should be an
//! `env:`/`file:` reference, checked when the run resolves it. No message repeats a URL.

use std::collections::BTreeSet;

use super::keys;
use crate::notify::{DEFAULT_DAYS, Endpoint, Target};
use crate::spec::SecretRef;
use crate::spec::values::{NotifyEvent, NotifyFormat};
use crate::yaml::{Node, Reader, read::suggest};

/// Most days ahead `days` may look.
const MAX_DAYS: u64 = 3650;

/// The targets in `node`; a wrong one is reported and left out.
pub(super) fn read_notify(r: &mut Reader, node: &Node) -> Vec<Target> {
    let items = r.list(node, "notify").unwrap_or_default();
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let Some(target) = read_target(r, item) else {
            continue;
        };
        if !names.insert(target.name.clone()) {
            r.report(
                &item.loc,
                format!(
                    "notify: the name `{}` is used twice; names tell targets apart",
                    target.name
                ),
            );
            continue;
        }
        out.push(target);
    }
    out
}

fn read_target(r: &mut Reader, item: &Node) -> Option<Target> {
    let f = r.map(item, "notify target", keys::NOTIFY)?;
    let name = f
        .require(r, "name", "notify target")
        .and_then(|n| r.text(n, "notify.name"));
    let what = format!("notify `{}`", name.as_deref().unwrap_or("?"));
    if let Some(n) = f.get("name")
        && name
            .as_deref()
            .is_some_and(|t| t.trim().is_empty() || t.chars().any(char::is_control))
    {
        r.report(
            &n.loc,
            "notify.name: write a short name without control characters",
        );
    }
    let endpoint = f
        .require(r, "url", &what)
        .and_then(|n| Some((r.text(n, &format!("{what}.url"))?, n)))
        .and_then(|(text, n)| match SecretRef::parse_ref(&text) {
            Some(Ok(reference)) => Some(Endpoint::Secret(reference)),
            Some(Err(why)) => {
                r.report(&n.loc, format!("{what}.url: {why}"));
                None
            }
            None => match crate::notify::check_url(&text) {
                Ok(_) => Some(Endpoint::Url(text)),
                Err(why) => {
                    r.report(&n.loc, format!("{what}.url: {why}"));
                    None
                }
            },
        });
    let format = match f.get("format") {
        Some(n) => keyword(r, n, &format!("{what}.format"), NotifyFormat::ALL),
        None => Some(NotifyFormat::Json),
    };
    // Required: every target says what it is told (`grade_dropped` also costs requests).
    let events = {
        let n = f.require(r, "events", &what)?;
        let items = r.list(n, &format!("{what}.events"))?;
        if items.is_empty() {
            r.report(&n.loc, format!("{what}.events: name at least one event"));
        }
        let mut set = BTreeSet::new();
        for e in items {
            set.insert(keyword::<NotifyEvent>(
                r,
                e,
                &format!("{what}.events"),
                NotifyEvent::ALL,
            )?);
        }
        set
    };
    let days = match f.get("days") {
        Some(n) if !events.contains(&NotifyEvent::CertificateExpiring) => {
            r.report(
                &n.loc,
                format!("{what}.days: only `certificate_expiring` uses it; add that event or remove `days`"),
            );
            None
        }
        Some(n) => r
            .uint(n, &format!("{what}.days"), 0, MAX_DAYS)
            .map(|d| d as u32),
        None => Some(DEFAULT_DAYS),
    };
    Some(Target {
        name: name?,
        endpoint: endpoint?,
        format: format?,
        events,
        days: days?,
    })
}

/// A keyword of `all`, with a did-you-mean for a near miss.
fn keyword<T: std::str::FromStr>(r: &mut Reader, n: &Node, what: &str, all: &[&str]) -> Option<T> {
    let text = r.text(n, what)?;
    match text.parse() {
        Ok(v) => Some(v),
        Err(_) => {
            let hint = match suggest(&text, all) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", all.join(", ")),
            };
            r.report(&n.loc, format!("{what}: unknown `{text}`; {hint}"));
            None
        }
    }
}
