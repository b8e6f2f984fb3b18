//! The CI side: reading a project's manifest and lockfile into a request, and
//! (in `fetch`) restoring the tree the server answers with.

mod error;
mod extract;
mod fallback;
mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod linked;
mod local_store;
mod noop;
mod not_in_key;
mod npm_config;
mod partial;
mod pnp_tree;
mod progress;
mod project;
mod remove;
mod report;
mod scripts;
mod stat_manifest;
mod swap;
mod tree;
mod yarn_env;

pub use error::ClientError;
pub use fetch::{FetchOptions, fetch};
pub use http::HttpSettings;
pub use local_store::prune::{PruneOptions, PruneReport, prune};
pub use local_store::scan::Problem;
pub use local_store::status::{StatusReport, status};
pub use local_store::verify::{VerifyReport, verify as verify_store};
pub use not_in_key::{NotInKey, config_not_in_key};
pub use project::{ProjectSpec, load_project};
pub use report::{Fallback, FetchReport};
pub use scripts::ScriptError;
