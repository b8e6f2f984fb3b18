//! The CI side: reading a project's manifest and lockfile into a request, and
//! (in `fetch`) restoring the tree the server answers with.

mod extract;
mod fallback;
mod fetch;
mod http;
mod linked;
mod local_store;
mod noop;
mod partial;
mod progress;
mod project;
mod remove;
mod stat_manifest;
mod swap;
mod tree;

pub use fetch::{FetchOptions, fetch};
pub use http::HttpSettings;
pub use project::{ProjectSpec, load_project};
