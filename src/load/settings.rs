//! Reads the optional repo-wide `siteward.yaml`.

use std::time::Duration;

use super::keys;
use crate::spec::{Settings, Span};
use crate::yaml::{Node, Reader};

/// Shortest per-request `timeout`.
const TIMEOUT_MIN: Span = Span(Duration::from_millis(1));
/// Longest per-request `timeout` (the same as `--timeout`'s limit): a site's budget is a small
/// multiple of it, so a larger value would only hide a dead site.
const TIMEOUT_MAX: Span = Span(Duration::from_secs(3600));
/// Most sites observed at once.
const MAX_CONCURRENCY: u64 = 4096;
/// Most requests at once to one host name.
const MAX_PER_HOST: u64 = 256;

/// Reads settings; anything missing or wrong keeps its default (and wrong values are reported).
pub fn read_settings(r: &mut Reader, node: &Node) -> Settings {
    let mut s = Settings::default();
    if node.is_null() {
        return s;
    }
    let Some(f) = r.map(node, "siteward.yaml", keys::SETTINGS) else {
        return s;
    };
    if let Some(audit) = f.get("audit").and_then(|n| r.map(n, "audit", keys::AUDIT)) {
        if let Some(b) = audit.get("branch").and_then(|n| r.parse(n, "audit.branch")) {
            s.audit_branch = b;
        }
        s.audit_author = audit.get("author").and_then(|n| {
            let text = r.text(n, "audit.author")?;
            match text.parse::<crate::git::Identity>() {
                Ok(_) => Some(text),
                Err(e) => {
                    r.report(&n.loc, format!("audit.author: {e}"));
                    None
                }
            }
        });
    }
    if let Some(p) = f
        .get("proposals")
        .and_then(|n| r.map(n, "proposals", keys::PROPOSALS))
        && let Some(b) = p
            .get("branch_prefix")
            .and_then(|n| r.parse(n, "proposals.branch_prefix"))
    {
        s.proposals_prefix = b;
    }
    if let Some(n) = f
        .get("concurrency")
        .and_then(|n| r.uint(n, "concurrency", 1, MAX_CONCURRENCY))
    {
        s.concurrency = n as usize;
    }
    if let Some(n) = f
        .get("per_host")
        .and_then(|n| r.uint(n, "per_host", 1, MAX_PER_HOST))
    {
        s.per_host = n as usize;
    }
    if let Some(t) = f
        .get("timeout")
        .and_then(|n| r.parse_within(n, "timeout", TIMEOUT_MIN, TIMEOUT_MAX))
    {
        s.timeout = t;
    }
    s.packages = f.get("packages").and_then(|n| r.text(n, "packages"));
    s.vulnerabilities = f
        .get("vulnerabilities")
        .and_then(|n| source(r, n, "vulnerabilities"));
    s.updates = f.get("updates").and_then(|n| read_updates(r, n, "updates"));
    s.windows = f
        .get("windows")
        .map(|n| super::windows::read_windows(r, n))
        .unwrap_or_default();
    s.notify = f
        .get("notify")
        .map(|n| super::notify::read_notify(r, n))
        .unwrap_or_default();
    s
}

/// `updates: {source, min_age}`, in siteward.yaml (`what` = `updates`) or a site's `software`
/// (`software.updates`).
pub(super) fn read_updates(r: &mut Reader, n: &Node, what: &str) -> Option<crate::spec::Updates> {
    let u = r.map(n, what, keys::UPDATES)?;
    Some(crate::spec::Updates {
        source: u
            .get("source")
            .and_then(|n| source(r, n, &format!("{what}.source"))),
        min_age: u
            .get("min_age")
            .and_then(|n| r.parse_within(n, &format!("{what}.min_age"), MIN_AGE_MIN, MIN_AGE_MAX)),
    })
}

/// Shortest `updates.min_age` that can be written (leave the key out for none).
const MIN_AGE_MIN: Span = Span(Duration::from_secs(1));
/// Longest `updates.min_age`: a year.
const MIN_AGE_MAX: Span = Span(Duration::from_secs(366 * 24 * 3600));

/// A data source: an https URL or a local path (plain http and other schemes are refused).
fn source(r: &mut Reader, n: &Node, what: &str) -> Option<String> {
    let text = r.text(n, what)?;
    if text.contains("://") && !text.starts_with("https://") {
        r.report(
            &n.loc,
            format!("{what}: `{text}`: only https URLs are fetched; use https or a local path"),
        );
        return None;
    }
    if text.starts_with("https://") && url::Url::parse(&text).is_err() {
        r.report(&n.loc, format!("{what}: `{text}` is not a valid URL"));
        return None;
    }
    Some(text)
}
