//! The one integration-test binary: every test runs the real `siteward` (or the library)
//! against real components (git, git daemon) in temporary directories.

mod audit;
mod support;
