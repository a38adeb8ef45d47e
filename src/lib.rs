//! siteward: a GitOps reconciler for websites and webshops.
//!
//! The pipeline, one module each: [`load`] (YAML → [`spec::DesiredState`]) → observe → diff →
//! plan → apply → record. See ARCHITECTURE.md for the map and the invariants.

pub mod audit;
pub mod cli;
pub mod cmd;
pub mod exit;
pub mod git;
pub mod load;
pub mod lock;
pub mod logging;
pub mod plan;
pub mod problem;
pub mod saved_plan;
pub mod schema;
pub mod secret;
pub mod select;
pub mod spec;
pub mod yaml;
