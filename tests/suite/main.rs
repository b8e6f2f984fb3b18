//! The one integration test binary: every suite is a module.

mod client_bundles;
mod client_failures;
mod client_support;
mod common;
