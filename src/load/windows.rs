//! Reads `windows:` (a site, a policy's `defaults`, or `siteward.yaml`): a list of
//! `{deny: "DAY HH:MM - DAY HH:MM", timezone, reason}` or `{from: DATE, to: DATE, timezone,
//! reason}`, each problem located at the value it is about ([`crate::windows`]).

use super::keys;
use crate::windows::{self, Span, Window};
use crate::yaml::{Node, Reader};

/// The windows in `node`; a wrong one is reported and left out.
pub(super) fn read_windows(r: &mut Reader, node: &Node) -> Vec<Window> {
    let items = r.list(node, "windows").unwrap_or_default();
    items
        .iter()
        .filter_map(|item| read_window(r, item))
        .collect()
}

fn read_window(r: &mut Reader, item: &Node) -> Option<Window> {
    let f = r.map(item, "window", keys::WINDOW)?;
    let mut text = |key: &str| {
        let node = f.get(key)?;
        Some((r.text(node, &format!("window.{key}"))?, node))
    };
    let deny = text("deny");
    let from = text("from");
    let to = text("to");
    let timezone = text("timezone");
    let reason = text("reason").map(|(t, _)| t);
    let timezone = match timezone {
        Some((name, node)) => match windows::parse_timezone(&name) {
            Ok(tz) => Some(tz),
            Err(why) => {
                r.report(&node.loc, format!("window.timezone: {why}"));
                None
            }
        },
        None => Some(chrono_tz::UTC),
    };
    let span = match (deny, from, to) {
        (Some((spec, node)), None, None) => match windows::parse_weekly(&spec) {
            Ok((from, to)) => Some((Span::Weekly { from, to }, spec)),
            Err(why) => {
                r.report(&node.loc, format!("window.deny: {why}"));
                None
            }
        },
        (None, Some((from, node)), Some((to, _))) => match windows::parse_freeze(&from, &to) {
            Ok((f, t)) => Some((Span::Freeze { from: f, to: t }, format!("{f} to {t}"))),
            Err(why) => {
                r.report(&node.loc, format!("window: {why}"));
                None
            }
        },
        _ => {
            r.report(
                &item.loc,
                "window: write either `deny: \"DAY HH:MM - DAY HH:MM\"` (every week) or both \
                 `from` and `to` dates (a freeze), not both and not neither",
            );
            None
        }
    };
    let (span, text) = span?;
    Some(Window {
        span,
        timezone: timezone?,
        reason,
        text,
    })
}
