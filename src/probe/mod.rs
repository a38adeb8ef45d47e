//! Probes: the small pieces that observe one aspect of a live site over the network (HTTP
//! responses, redirects, checks, fingerprints) and the pure parsing behind them (certificates,
//! TLS chains, WordPress evidence).

pub mod cert;
pub mod checks;
pub mod fingerprint;
pub mod http;
pub mod observatory;
pub mod ocsp;
pub mod redirects;
pub mod tls;
