//! Reads the optional repo-wide `siteward.yaml`.

use super::keys;
use crate::spec::{Settings, Span};
use crate::yaml::{Node, Reader};

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
        .and_then(|n| r.uint(n, "concurrency", 1, 4096))
    {
        s.concurrency = n as usize;
    }
    if let Some(n) = f
        .get("per_host")
        .and_then(|n| r.uint(n, "per_host", 1, 256))
    {
        s.per_host = n as usize;
    }
    if let Some(t) = f.get("timeout").and_then(|n| r.parse::<Span>(n, "timeout")) {
        s.timeout = t;
    }
    s.packages = f.get("packages").and_then(|n| r.text(n, "packages"));
    s
}
