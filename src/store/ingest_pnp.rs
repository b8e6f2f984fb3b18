//! Ingesting a Yarn Plug'n'Play install: its outputs (`protocol::pnp`) are
//! a few named files and two folders beside the project's own files, walked
//! here into the trees of a format-3 index; the rest is `ingest`'s.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::ingest::{IngestError, Tree, TreeFile, TreeLimits, Used, walk};
use crate::protocol::{PNP_OUTPUTS, PNP_ROOT, PnpOutput};

/// A Plug'n'Play install's outputs (`PNP_OUTPUTS`), the root's files first:
/// the named files that exist, as regular files only, and the folders that
/// exist, walked as any tree.
pub(super) fn walk_pnp(
    project: &Path,
    limits: TreeLimits,
) -> Result<(Vec<Tree>, Vec<TreeFile>), IngestError> {
    let mut trees = Vec::new();
    let mut files = Vec::new();
    let mut used = Used::default();
    for (folder, kind) in PNP_OUTPUTS {
        let path = project.join(folder);
        let meta = std::fs::symlink_metadata(&path).ok();
        let number = trees.len();
        match kind {
            PnpOutput::Files(names) => {
                for name in names.iter() {
                    let file = path.join(name);
                    let Ok(meta) = std::fs::symlink_metadata(&file) else {
                        continue;
                    };
                    let shown = format!("{folder}/{name}");
                    if !meta.file_type().is_file() {
                        return Err(IngestError::Unsupported {
                            path: shown,
                            what: "not a regular file".to_string(),
                        });
                    }
                    used.add_file(meta.len(), limits)?;
                    let mode = meta.permissions().mode() & 0o7777;
                    files.push((number, (name.to_string(), file, mode)));
                }
                if *folder == PNP_ROOT || files.iter().any(|(n, _)| *n == number) {
                    trees.push((folder.to_string(), Vec::new()));
                }
            }
            PnpOutput::Folder => {
                let Some(meta) = meta else { continue };
                if !meta.file_type().is_dir() {
                    return Err(IngestError::Unsupported {
                        path: folder.to_string(),
                        what: "not a folder".to_string(),
                    });
                }
                let (entries, jobs) = walk(&path, folder, &[], limits, &mut used)?;
                trees.push((folder.to_string(), entries));
                files.extend(jobs.into_iter().map(|job| (number, job)));
            }
        }
    }
    Ok((trees, files))
}

impl Used {
    /// Counts one regular file of `len` bytes against `limits`.
    pub(super) fn add_file(&mut self, len: u64, limits: TreeLimits) -> Result<(), IngestError> {
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(IngestError::TooManyEntries {
                max: limits.max_entries,
            });
        }
        self.bytes = self.bytes.saturating_add(len);
        if self.bytes > limits.max_bytes {
            return Err(IngestError::TooLarge {
                max: limits.max_bytes,
            });
        }
        Ok(())
    }
}
