//! The one integration-test binary: runs the real `siteward` against real components (nginx,
//! sshd, git) started on 127.0.0.1 by the helpers in `support`.

mod support;

mod observe;
mod providers;
mod validate;
