//! Shared test fixtures: the in-process npm registry, npm/composer project
//! generators with reference installs, and tree comparison.
// Each test module uses only a subset of these helpers and re-exports.
#![allow(dead_code, unused_imports)]

pub mod composer_project;
pub mod crafted_server;
pub mod npm_project;
pub mod private_composer;
pub mod private_registry;
pub mod real_tools;
pub mod registry;
pub mod s3;
pub mod server;
pub mod tls_proxy;
pub mod tree;
pub mod yarn_project;

pub use composer_project::{
    ComposerProject, composer_install_reference, composer_project, composer_project_with,
    composer_server_reference,
};
pub use npm_project::{npm_ci_reference, npm_project, try_npm_ci, try_npm_project};
pub use registry::{NpmRegistry, registry};
pub use tree::{Node, assert_same_tree, tree_manifest, unzip_into};

/// A key the test holds as hex, or already as a `Key` (from a request or an
/// index), as the store takes it: parsed once, like the server's edge does.
pub fn key(hex: &(impl std::fmt::Display + ?Sized)) -> depcache::protocol::Key {
    depcache::protocol::Key::parse(&hex.to_string()).expect("a well-formed key")
}
