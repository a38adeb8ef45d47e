//! siteward: a GitOps reconciler for websites and webshops.
//!
//! The pipeline, one module each: [`load`] (YAML → [`spec::DesiredState`]) → [`observe`] → [`diff`] →
//! plan → apply → record. See ARCHITECTURE.md for the map and the invariants.

pub mod canon;
pub mod cli;
pub mod cmd;
pub mod demo;
pub mod diff;
pub mod exit;
pub mod load;
pub mod logging;
pub mod observe;
pub mod pki;
pub mod plan;
pub mod probe;
pub mod problem;
pub mod provider;
pub mod report;
pub mod schema;
pub mod secret;
pub mod spec;
pub mod survey;
pub mod transport;
pub mod yaml;
