//! Fleet safety for software changes in one run: at most `--max-parallel-sites` sites change
//! software at once, and after `--stop-after-failures N` failed software applies (a failed
//! verification rolled back, or any other failure) no further site's software is touched — the
//! first sites act as the canary of the wave. Held sites are recorded as `skipped`, saying why.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The run-wide limits on software changes.
#[derive(Debug)]
pub struct Gate {
    slots: Option<Semaphore>,
    stop_after: Option<usize>,
    failures: AtomicUsize,
}

/// A turn to change one site's software; dropped when the apply ends.
#[derive(Debug)]
pub struct Turn<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

impl Gate {
    /// `max_parallel`: sites changing software at once (`None`: as many as the run applies);
    /// `stop_after`: failed software applies after which the rest are held (`None`: never).
    pub fn new(max_parallel: Option<usize>, stop_after: Option<usize>) -> Gate {
        Gate {
            slots: max_parallel.map(Semaphore::new),
            stop_after,
            failures: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn; `Err` with the reason when the canary has stopped the wave.
    pub async fn enter(&self) -> Result<Turn<'_>, String> {
        let permit = match &self.slots {
            Some(s) => Some(s.acquire().await.map_err(|e| e.to_string())?),
            None => None,
        };
        let failed = self.failures.load(Ordering::SeqCst);
        match self.stop_after {
            Some(n) if failed >= n => Err(format!(
                "held: {failed} software apply(s) failed in this run (`--stop-after-failures \
                 {n}`); software changes stop for the rest of the fleet"
            )),
            _ => Ok(Turn { _permit: permit }),
        }
    }

    /// Counts one failed software apply.
    pub fn failed(&self) {
        self.failures.fetch_add(1, Ordering::SeqCst);
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_canary_stops_the_wave_after_n_failures() {
        let gate = Gate::new(Some(1), Some(2));
        for _ in 0..2 {
            let turn = gate.enter().await.unwrap();
            gate.failed();
            drop(turn);
        }
        let why = gate.enter().await.unwrap_err();
        assert!(why.contains("2 software apply(s) failed"), "{why}");
        assert!(Gate::default().enter().await.is_ok());
    }

    #[tokio::test]
    async fn at_most_max_parallel_turns_at_once() {
        let gate = Gate::new(Some(1), None);
        let first = gate.enter().await.unwrap();
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), gate.enter());
        assert!(
            second.await.is_err(),
            "a second turn while the first is held"
        );
        drop(first);
        assert!(gate.enter().await.is_ok());
    }
}
