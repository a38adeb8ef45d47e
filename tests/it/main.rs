//! The one integration-test binary: runs the real `siteward` (or the library) against real
//! components (nginx, sshd, git, git daemon) started on 127.0.0.1 by the helpers in `support`.

mod support;

mod audit;
mod check;
mod connect;
mod demo;
mod harden;
mod observe;
mod output;
mod providers;
mod reconcile;
mod record;
mod stage;
mod validate;
mod vuln;
