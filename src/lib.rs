//! siteward: a GitOps reconciler for websites and webshops.
//!
//! The pipeline, one module each: [`load`] (YAML → [`spec::DesiredState`]) → [`observe`] → [`diff`] →
//! plan → apply → record. See ARCHITECTURE.md for the map and the invariants.

pub mod apply;
pub mod audit;
pub mod canon;
pub mod certificate;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod credential_binding;
pub mod demo;
pub mod diff;
pub mod error_text;
pub mod exit;
#[cfg(feature = "fault-injection")]
mod fault;
pub mod git;
pub mod header_values;
pub mod isolate;
pub mod journal;
pub mod load;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod pki;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod problem;
pub mod progress;
pub mod proposal;
pub mod provider;
pub mod reconcile;
pub mod report;
pub mod saved_plan;
pub mod schema;
pub mod secret;
pub mod select;
pub mod spec;
pub mod stage;
pub mod survey;
pub mod transport;
pub mod updates;
pub mod verify;
pub mod vuln;
pub mod windows;
pub mod wordpress;
pub mod yaml;
