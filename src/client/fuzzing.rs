//! The client's safety checks as entry points for cargo-fuzz (fuzz/) and
//! property tests: the index check and a bundle restore. Not an API; hidden
//! from the docs and free to change with the checks.

use super::tree;
use crate::client::ClientError;
use crate::protocol::Index;

pub use super::extract::{Restored, restore};

/// The checks a fetched index passes before anything is written: safe paths
/// and symlink targets, no duplicates, nothing under a file or a link, nested
/// trees only in the workspace folders the index names.
pub fn check_index(index: &Index, root: &str) -> Result<(), ClientError> {
    tree::check_trees(index, root).map(|_| ())
}
