//! The integration suite: one binary, real servers on 127.0.0.1:0, the real
//! npm and composer against local fixtures.

mod common;
mod server_errors;
// mod server_npm; // needs common::registry (fixtures branch)
// mod server_restart; // needs common::registry (fixtures branch)
mod admin_gc;
mod admin_metrics;
mod admin_stats;
mod admin_support;
mod admin_verify;
