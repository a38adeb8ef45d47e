//! Per-host request limits: at most N requests at once to one host NAME. Virtual hosts that
//! share an address are limited separately, as SPEC asks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One semaphore per lowercased host name, created on first use.
#[derive(Debug, Clone)]
pub struct HostLimits {
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl HostLimits {
    /// Limits of `per_host` requests at once (at least 1).
    pub fn new(per_host: usize) -> HostLimits {
        HostLimits {
            per_host: per_host.max(1),
            hosts: Arc::default(),
        }
    }

    /// Waits for a request slot for `host`; the slot is freed when the permit drops.
    pub async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let sem = {
            let mut hosts = self.hosts.lock().ok()?;
            hosts
                .entry(host.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
                .clone()
        };
        sem.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hosts_are_limited_separately() {
        let limits = HostLimits::new(1);
        let a = limits.acquire("a.test").await;
        assert!(a.is_some());
        // Another name gets its own slot although `a.test` is busy.
        let b = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            limits.acquire("b.test"),
        )
        .await;
        assert!(b.is_ok());
        let again = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            limits.acquire("A.TEST"),
        )
        .await;
        assert!(again.is_err(), "the same name (any case) waits");
    }
}
