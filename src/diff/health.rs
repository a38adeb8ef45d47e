//! Health of one site from reachability and its availability checks.

use crate::observe::live::LiveSite;
use crate::plan::Health;

/// `down` when it does not answer, refuses HTTPS, or fails every check; `degraded` when some
/// checks fail (or, without checks, the page is a 5xx); `unknown` when observation failed for
/// another reason; otherwise `healthy`.
pub fn health(live: &LiveSite) -> Health {
    if live.error.is_some() {
        return if live.unreachable {
            Health::Down
        } else {
            Health::Unknown
        };
    }
    if live.https_refused.is_some() {
        return Health::Down;
    }
    let ok = live.checks.iter().filter(|c| c.ok).count();
    if live.checks.is_empty() {
        match &live.page {
            Some(p) if p.status >= 500 => Health::Degraded,
            _ => Health::Healthy,
        }
    } else if ok == live.checks.len() {
        Health::Healthy
    } else if ok == 0 {
        Health::Down
    } else {
        Health::Degraded
    }
}
