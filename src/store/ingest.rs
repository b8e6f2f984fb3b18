//! Ingestion: an installed tree becomes blobs plus an index. Files are hashed
//! and packed in parallel, one at a time each, so memory stays flat whatever the
//! tree's size; the index is written last.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use super::{HashedFile, Store, pack_file};
use crate::protocol::{
    Entry, FileEntry, INDEX_FORMAT, Index, ValidRequest, check_entry_path, check_symlink_target,
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("could not read the installed tree at {path}: {source}")]
    Walk { path: String, source: io::Error },
    #[error("the installed tree holds {path}, which is {what}; it cannot be cached")]
    Unsupported { path: String, what: String },
    #[error("could not store {path}: {source}")]
    Store { path: String, source: io::Error },
}

/// What an ingestion added to the store (for the server's store-size gauge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub new_blobs: u64,
    /// Bytes of the new blob files (header plus packed data).
    pub new_blob_bytes: u64,
}

/// Stores the tree under `tree_root` (the `node_modules`/`vendor` folder,
/// which may be missing for a project without dependencies) and writes the
/// index for `request`. Returns the index as written.
pub fn ingest_tree(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
) -> Result<Index, IngestError> {
    ingest_tree_counted(store, tree_root, request).map(|(index, _)| index)
}

/// `ingest_tree`, also saying how many blobs were new.
pub fn ingest_tree_counted(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
) -> Result<(Index, IngestStats), IngestError> {
    let store_err = |source| IngestError::Store {
        path: "index".to_string(),
        source,
    };
    let (mut entries, files) = walk(tree_root)?;
    // From the first blob lookup until the index is written, gc must not
    // sweep: a blob found present here (or just written) is referenced by no
    // index yet. Shared, so ingestions do not wait for one another.
    let _lock = store.ingest_lock().map_err(store_err)?;
    let new_blobs = AtomicU64::new(0);
    let new_bytes = AtomicU64::new(0);
    let stored: Vec<FileEntry> = files
        .par_iter()
        .map(|(rel, path, mode)| {
            let (entry, fresh) =
                store_file(store, path, rel, *mode).map_err(|source| IngestError::Store {
                    path: rel.clone(),
                    source,
                })?;
            if fresh {
                new_blobs.fetch_add(1, Ordering::Relaxed);
                new_bytes.fetch_add(
                    super::BLOB_HEADER_LEN + entry.packed_size,
                    Ordering::Relaxed,
                );
            }
            Ok(entry)
        })
        .collect::<Result<_, _>>()?;
    entries.extend(stored.into_iter().map(Entry::File));
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    let index = Index {
        format: INDEX_FORMAT,
        key: request.hash.clone(),
        manager: request.manager.name().to_string(),
        versions: request.versions.clone(),
        platform: request.platform.clone(),
        options: request.options.clone(),
        root: request.manager.output_dir().to_string(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        entries,
    };
    store.sync().map_err(store_err)?;
    store.put_index(&index).map_err(store_err)?;
    let stats = IngestStats {
        new_blobs: new_blobs.into_inner(),
        new_blob_bytes: new_bytes.into_inner(),
    };
    Ok((index, stats))
}

type FileJob = (String, PathBuf, u32);

/// Dirs and symlinks become entries right away; regular files are returned as
/// jobs for the parallel pass.
fn walk(tree_root: &Path) -> Result<(Vec<Entry>, Vec<FileJob>), IngestError> {
    let mut entries = Vec::new();
    let mut files = Vec::new();
    if !tree_root.exists() {
        return Ok((entries, files));
    }
    let walk_err = |path: &Path, source: io::Error| IngestError::Walk {
        path: path.display().to_string(),
        source,
    };
    for item in walkdir::WalkDir::new(tree_root)
        .min_depth(1)
        .follow_links(false)
    {
        let item = item.map_err(|e| {
            let path = e.path().unwrap_or(tree_root).to_path_buf();
            walk_err(&path, e.into())
        })?;
        let rel = item
            .path()
            .strip_prefix(tree_root)
            .expect("walkdir stays under its root");
        let rel = rel
            .to_str()
            .ok_or_else(|| IngestError::Unsupported {
                path: rel.display().to_string(),
                what: "not valid UTF-8".to_string(),
            })?
            .to_string();
        check_entry_path(&rel).map_err(|e| IngestError::Unsupported {
            path: rel.clone(),
            what: e.to_string(),
        })?;
        let meta = item
            .metadata()
            .map_err(|e| walk_err(item.path(), e.into()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let kind = item.file_type();
        if kind.is_dir() {
            entries.push(Entry::Dir { path: rel, mode });
        } else if kind.is_symlink() {
            let target = std::fs::read_link(item.path()).map_err(|e| walk_err(item.path(), e))?;
            let target = target
                .to_str()
                .ok_or_else(|| IngestError::Unsupported {
                    path: rel.clone(),
                    what: "a symlink whose target is not UTF-8".to_string(),
                })?
                .to_string();
            check_symlink_target(&rel, &target).map_err(|e| IngestError::Unsupported {
                path: rel.clone(),
                what: e.to_string(),
            })?;
            entries.push(Entry::Symlink { path: rel, target });
        } else if kind.is_file() {
            files.push((rel, item.path().to_path_buf(), mode));
        } else {
            return Err(IngestError::Unsupported {
                path: rel,
                what: "neither a file, a folder nor a symlink".to_string(),
            });
        }
    }
    Ok((entries, files))
}

/// Hashes the file; packs and stores it only when the store lacks the blob
/// (then the flag is true).
fn store_file(
    store: &dyn Store,
    path: &Path,
    rel: &str,
    mode: u32,
) -> io::Result<(FileEntry, bool)> {
    let hashed = HashedFile::of(path)?;
    let sha = hex::encode(hashed.sha256);
    let existing = store
        .blob_info(&sha)
        .ok()
        .flatten()
        .filter(|info| info.size == hashed.size && info.crc32 == hashed.crc32);
    let (info, fresh) = match existing {
        Some(info) => (info, false),
        None => {
            let (info, staged) = pack_file(path, &hashed, store.staging_dir())?;
            store.put_blob(&info, staged)?;
            (info, true)
        }
    };
    let entry = FileEntry {
        path: rel.to_string(),
        sha256: sha,
        size: info.size,
        mode,
        crc32: info.crc32,
        method: info.method,
        packed_size: info.packed_size,
    };
    Ok((entry, fresh))
}
