//! `siteward demo`: the whole loop on an embedded sandbox, with no network and no setup.

pub mod server;
