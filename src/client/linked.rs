//! Trees and the local store meeting: a restore whose every content is in the
//! store (hard links into it, no bundle), and filling the store from a tree
//! just extracted from a verified bundle.

use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::extract::Restored;
use super::local_store::LocalStore;
use super::tree::{self, io_pool};
use crate::error::CliError;
use crate::protocol::Index;

/// Builds `project/<root>` from the store alone, with the same checks,
/// staging and swap as a bundle restore. Every content must be in the store
/// (see `partial::missing`).
pub fn restore(
    store: &LocalStore,
    index: &Index,
    project: &Path,
    root: &str,
    bar: &ProgressBar,
) -> Result<Restored, CliError> {
    let layout = tree::check_index(index, root)?;
    bar.set_length(layout.files.len() as u64);
    let bytes = tree::build(project, root, &layout, |base| {
        io_pool().install(|| {
            layout
                .files
                .par_iter()
                .map(|f| {
                    let placed = store.place(f, &base.join(&f.path))?;
                    bar.inc(1);
                    Ok(placed)
                })
                .try_reduce(|| 0, |a, b| Ok(a + b))
        })
    })?;
    Ok(Restored {
        files: layout.files.len() as u64,
        bytes,
    })
}

/// Hard-links (or copies) the files of a tree restored from a verified
/// bundle into the store, so the next fetch needs none of them. A failure
/// costs only future downloads: it is logged, never fatal.
pub fn fill(store: &LocalStore, index: &Index, tree: &Path) {
    let failures: usize = io_pool().install(|| {
        index
            .files()
            .collect::<Vec<_>>()
            .par_iter()
            .map(|f| match store.adopt(f, &tree.join(&f.path)) {
                Ok(()) => 0,
                Err(e) => {
                    tracing::debug!("not stored locally: {e}");
                    1
                }
            })
            .sum()
    });
    if failures > 0 {
        tracing::warn!("{failures} files could not be added to the local store (run with -v)");
    }
}
