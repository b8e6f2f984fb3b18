//! depcache: a cache of installed dependency trees (npm's `node_modules`,
//! composer's `vendor`) served as ZIP bundles from a content-addressed store.
//!
//! The rooms: `protocol` (wire types, key recipe, validation) and `store` are
//! shared; `server`, `client` and `admin` each build on them and never on one
//! another.

pub mod admin;
pub mod bundle;
pub mod cli;
pub mod client;
pub(crate) mod digest;
pub(crate) mod error;
pub mod install;
pub mod protocol;
pub mod server;
pub mod store;
pub(crate) mod units;
