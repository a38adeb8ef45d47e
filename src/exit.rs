//! Exit codes of SPEC.md, carried as a value from each command to `main`.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// In sync, compliant, applied, valid.
    Ok,
    /// Drift or violations remain.
    Drift,
    /// Invalid input, a site that could not be observed, a failed apply. Wins over drift.
    Error,
}

impl Exit {
    /// The process exit code: 0, 2 or 1.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Drift => 2,
            Exit::Error => 1,
        }
    }
}
