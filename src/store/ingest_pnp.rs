//! Ingesting a Yarn Plug'n'Play install: its outputs (`protocol::pnp`) are
//! a few named files and two folders beside the project's own files, walked
//! here into the trees of a format-3 index; the rest is `ingest`'s.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::ingest::{IngestError, Tree, TreeFile, TreeLimits, Used, walk};
use crate::protocol::{PNP_OUTPUTS, PNP_ROOT, PnpOutput};

/// What the install folder holds besides the request's files and Yarn's
/// outputs: the install's private home and temp folders.
const PRIVATE: &[&str] = &[".home", ".tmp"];

/// A PnP install that wrote anywhere but its known outputs (an older Yarn's
/// `.pnp.js`, a build state file, a later Yarn's new output) made a project
/// depcache would restore only in part: refused, loudly, never a partial
/// tree. `files` are the request's (their first folders are the project's).
pub(super) fn check_nothing_else(
    project: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), IngestError> {
    let mut known: Vec<String> = files
        .keys()
        .map(|name| name.split('/').next().unwrap_or(name).to_string())
        .chain(PRIVATE.iter().map(|p| p.to_string()))
        .collect();
    for (folder, kind) in PNP_OUTPUTS {
        match (kind, folder.split_once('/')) {
            (PnpOutput::Files(names), _) if *folder == PNP_ROOT => {
                known.extend(names.iter().map(|n| n.to_string()))
            }
            (PnpOutput::Files(names), _) => {
                known.push(folder.to_string());
                known.extend(names.iter().map(|n| format!("{folder}/{n}")));
            }
            (PnpOutput::Folder, Some((parent, _))) => {
                known.push(parent.to_string());
                known.push(folder.to_string());
            }
            (PnpOutput::Folder, None) => known.push(folder.to_string()),
        }
    }
    for folder in ["", ".yarn"] {
        let dir = project.join(folder);
        let Ok(listing) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in listing {
            let item = item.map_err(|e| IngestError::Walk {
                path: dir.display().to_string(),
                source: e,
            })?;
            let name = item.file_name().to_string_lossy().into_owned();
            let path = match folder {
                "" => name,
                _ => format!("{folder}/{name}"),
            };
            if !known.contains(&path) {
                return Err(IngestError::Unsupported {
                    path,
                    what: "something the Plug'n'Play install wrote that depcache does not \
restore"
                        .to_string(),
                });
            }
        }
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_beyond_the_known_outputs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path();
        let files: BTreeMap<String, Vec<u8>> =
            ["package.json", "yarn.lock", "packages/a/package.json"]
                .iter()
                .map(|n| (n.to_string(), Vec::new()))
                .collect();
        for made in [
            "package.json",
            "yarn.lock",
            "packages/a/package.json",
            ".home/x",
            ".pnp.cjs",
            ".yarn/install-state.gz",
            ".yarn/cache/a.zip",
            ".yarn/unplugged/a/x",
        ] {
            let path = project.join(made);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        check_nothing_else(project, &files).unwrap();
        for stray in [".pnp.js", ".yarn/build-state.yml"] {
            std::fs::write(project.join(stray), b"x").unwrap();
            let err = check_nothing_else(project, &files).unwrap_err();
            assert!(err.to_string().contains(stray), "{err}");
            std::fs::remove_file(project.join(stray)).unwrap();
        }
    }
}
