//! The integration suite: one binary, so one in-process npm registry (started
//! once) serves every test module; real servers on 127.0.0.1:0, the real npm
//! and composer against local fixtures.

mod admin_gc;
mod admin_metrics;
mod admin_stats;
mod admin_support;
mod admin_verify;
mod bundle_zip;
mod client_bundles;
mod client_failures;
mod client_hits;
mod client_http_safety;
mod client_local_store;
mod client_support;
mod client_symlink_safety;
mod common;
mod container_build_scripts;
mod container_e2e;
mod container_registry;
mod fetch_e2e;
mod fetch_scripts;
mod fetch_workspaces;
mod fixtures;
mod fuzz_regressions;
mod generated_docs;
mod install_script;
mod local_store_upkeep;
mod openapi;
mod path_properties;
mod readme;
mod s3_gc_hammer;
mod s3_kill;
mod s3_servers;
mod serve_cli;
mod serve_private_cli;
mod server_composer;
mod server_errors;
mod server_hits;
mod server_limits;
mod server_npm;
mod server_private_composer;
mod server_private_registries;
mod server_restart;
mod server_trusted_registries;
mod server_urls;
mod store_contract;
