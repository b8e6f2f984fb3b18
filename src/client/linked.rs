//! Trees and the local store meeting: a restore whose every content is in the
//! store (hard links into it, no bundle), and filling the store from a tree
//! just extracted from a verified bundle.

use std::path::Path;

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::extract::Restored;
use super::local_store::LocalStore;
use super::tree::{self, io_pool};
use crate::client::ClientError;
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
) -> Result<Restored, ClientError> {
    let trees = tree::check_trees(index, root)?;
    bar.set_length(trees.file_count());
    let bytes = tree::build(project, root, &trees, |bases| {
        let files: Vec<(&Path, _)> = trees
            .trees
            .iter()
            .zip(bases)
            .flat_map(|((_, layout), base)| layout.files.iter().map(move |f| (*base, *f)))
            .collect();
        io_pool().install(|| {
            files
                .par_iter()
                .map(|(base, f)| {
                    let placed = store.place(f, &base.join(&f.path))?;
                    bar.inc(1);
                    Ok(placed)
                })
                .try_reduce(|| 0, |a, b| Ok(a + b))
        })
    })?;
    store.save_seals();
    Ok(Restored {
        files: trees.file_count(),
        bytes,
    })
}

/// Hard-links (or copies) the files of a tree restored from a verified
/// bundle into the store, so the next fetch needs none of them. A failure
/// costs only future downloads: it is logged, never fatal. `project` holds
/// every tree of the index (npm workspaces have nested ones).
pub fn fill(store: &LocalStore, index: &Index, project: &Path) {
    let files: Vec<_> = index
        .trees()
        .flat_map(|(folder, entries)| {
            let tree = project.join(folder);
            entries.iter().filter_map(move |e| match e {
                crate::protocol::Entry::File(f) => Some((tree.join(&f.path), f)),
                _ => None,
            })
        })
        .collect();
    let failures: usize = io_pool().install(|| {
        files
            .par_iter()
            .map(|(path, f)| match store.adopt(f, path) {
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
