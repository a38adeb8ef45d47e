//! The one integration-test binary: runs the real `siteward` (or the library) against real
//! components (nginx, Apache, sshd, git, git daemon) started on 127.0.0.1 by the helpers in `support`.

mod support;

mod acme;
mod apache;
mod audit;
mod batch;
mod check;
mod connect;
mod demo;
mod exec;
mod harden;
mod kubernetes;
mod metrics;
mod notify;
mod observatory;
mod observe;
mod ocsp;
mod output;
mod providers;
mod reconcile;
mod record;
mod report;
mod scale;
mod shards;
mod stage;
mod validate;
mod vuln;
mod windows;
mod wordpress;
mod wordpress_rest;
