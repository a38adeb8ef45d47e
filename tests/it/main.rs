//! The one integration-test binary: runs the real `siteward` (or the library) against real
//! components (nginx, sshd, git, git daemon) started on 127.0.0.1 by the helpers in `support`.

mod support;

mod audit;
mod check;
mod demo;
mod harden;
mod observe;
mod providers;
mod reconcile;
mod stage;
mod validate;
