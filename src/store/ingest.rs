//! Ingestion: an installed tree becomes blobs plus an index. Files are hashed
//! and packed in parallel, one at a time each, so memory stays flat whatever the
//! tree's size; the index is written last.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use super::{BlobInfo, HashedFile, IngestClock, StagedBlob, Store, pack_file};
use crate::protocol::{
    Entry, FileEntry, INDEX_FORMAT, INDEX_FORMAT_PNP, INDEX_FORMAT_WORKSPACES, Index, NestedTree,
    PNP_ROOT, Sha256, ValidRequest, check_entry_path, check_root_tree_link, check_symlink_target,
    check_workspace_link, output_root, workspace_folders,
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("could not read the installed tree at {path}: {source}")]
    Walk { path: String, source: io::Error },
    #[error("the installed tree holds {path}, which is {what}; it cannot be cached")]
    Unsupported { path: String, what: String },
    #[error("could not store {path}: {source}")]
    Store { path: String, source: io::Error },
    #[error(
        "the installed tree holds more than {max} entries (files, folders and symlinks), \
this server's --max-tree-files; nothing was stored"
    )]
    TooManyEntries { max: u64 },
    #[error(
        "the installed tree is larger than {} ({max} bytes), this server's --max-tree-size; \
nothing was stored",
        crate::units::human_bytes(*max)
    )]
    TooLarge { max: u64 },
}

/// Caps on one installed tree, checked while walking it, before anything is
/// hashed or stored: a tree over either is refused whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// Sum of the regular files' sizes, in bytes.
    pub max_bytes: u64,
    /// Files, folders and symlinks: each is an index entry and a filesystem
    /// operation on every restore.
    pub max_entries: u64,
}

impl Default for TreeLimits {
    /// `serve`'s defaults: 8 GiB, a million entries.
    fn default() -> Self {
        TreeLimits {
            max_bytes: 8 << 30,
            max_entries: 1_000_000,
        }
    }
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
///
/// Order of writes, for crash safety: new blobs are published (durably, see
/// `Store::put_blobs`) before the index that names them.
pub fn ingest_tree(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
) -> Result<Index, IngestError> {
    ingest_tree_counted(store, tree_root, request, TreeLimits::default()).map(|(index, _)| index)
}

/// `ingest_tree` within `limits`, also saying how many blobs were new. For an
/// npm workspaces request, `tree_root`'s parent is the project: every
/// `<workspace>/node_modules` the install made is stored too, as a nested
/// tree, and symlinks may point at the request's workspace folders.
pub fn ingest_tree_counted(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
    limits: TreeLimits,
) -> Result<(Index, IngestStats), IngestError> {
    ingest_tree_needing(store, tree_root, request, limits, Vec::new())
}

/// [`ingest_tree_counted`] for a tree that needed the private `registries`:
/// they are recorded in the index it writes (one write, so the index is never
/// readable without them).
pub fn ingest_tree_needing(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
    limits: TreeLimits,
    registries: Vec<String>,
) -> Result<(Index, IngestStats), IngestError> {
    // A store without a gc lock refuses an index whose blobs a concurrent gc
    // deleted meanwhile (`Interrupted`); looking the blobs up again stores
    // the vanished ones anew. Twice in a row would take two gc runs.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match ingest_once(store, tree_root, request, limits, registries.clone()) {
            Err(IngestError::Store { source, .. })
                if source.kind() == io::ErrorKind::Interrupted && attempts < 3 =>
            {
                tracing::warn!(key = %request.hash, "blobs vanished during ingestion ({source}); storing them again");
            }
            other => return other,
        }
    }
}

fn ingest_once(
    store: &dyn Store,
    tree_root: &Path,
    request: &ValidRequest,
    limits: TreeLimits,
    registries: Vec<String>,
) -> Result<(Index, IngestStats), IngestError> {
    let workspaces = workspace_folders(&request.files);
    let (mut trees, files) = walk_trees(tree_root, request, &workspaces, limits)?;
    // From the first blob lookup until the index is written, gc must not
    // sweep: a blob found present here (or just written) is referenced by no
    // index yet. Shared, so ingestions do not wait for one another.
    let _lock = store
        .ingest_lock()
        .map_err(|e| store_error("the gc lock", e))?;
    let hashed: Vec<HashedFile> = files
        .par_iter()
        .map(|(_, (rel, path, _))| HashedFile::of(path).map_err(|e| store_error(rel, e)))
        .collect::<Result<_, _>>()?;
    let Stored {
        infos,
        stats,
        clock,
    } = store_blobs(store, &files, &hashed)?;
    for ((number, (rel, _, mode)), h) in files.iter().zip(&hashed) {
        let info = &infos[&h.sha256];
        trees[*number].1.push(Entry::File(FileEntry {
            path: rel.clone(),
            sha256: info.sha256,
            size: info.size,
            mode: *mode,
            crc32: info.crc32,
            method: info.method,
            packed_size: info.packed_size,
        }));
    }
    let index = index_of(request, trees, workspaces, registries);
    store
        .publish_index(&index, clock)
        .map_err(|e| store_error("index", e))?;
    // A cache: without it the first hit derives it from the index.
    if let Err(e) = store.put_summary(&super::KeySummary::of(&index)) {
        tracing::warn!(key = %index.key, "could not write the key's summary: {e}");
    }
    Ok((index, stats))
}

/// The root tree and each workspace's nested one: their entries without the
/// files, and the files to store, numbered by tree. The caps hold for the
/// project as a whole, nested trees included.
fn walk_trees(
    tree_root: &Path,
    request: &ValidRequest,
    workspaces: &[String],
    limits: TreeLimits,
) -> Result<(Vec<Tree>, Vec<TreeFile>), IngestError> {
    let project = tree_root.parent().unwrap_or(tree_root);
    if output_root(request.manager, &request.files) == PNP_ROOT {
        for folder in workspaces {
            check_workspace_folder(project, folder)?;
        }
        super::ingest_pnp::check_nothing_else(project, &request.files)?;
        return super::ingest_pnp::walk_pnp(project, limits);
    }
    let root_name = request.manager.output_dir();
    let mut roots = vec![(root_name.to_string(), tree_root.to_path_buf())];
    for folder in workspaces {
        check_workspace_folder(project, folder)?;
        let nested = project.join(folder).join(root_name);
        if std::fs::symlink_metadata(&nested).is_ok() {
            roots.push((format!("{folder}/{root_name}"), nested));
        }
    }
    let mut trees = Vec::new();
    let mut files = Vec::new();
    let mut used = Used::default();
    for (number, (folder, path)) in roots.iter().enumerate() {
        let (entries, jobs) = walk(path, folder, workspaces, limits, &mut used)?;
        trees.push((folder.clone(), entries));
        files.extend(jobs.into_iter().map(|job| (number, job)));
    }
    Ok((trees, files))
}

/// Each distinct content once, packed only when the store lacks it; the new
/// blobs handed to the store in one batch. Returns every content's blob
/// header, what was new, and when the store was asked.
fn store_blobs(
    store: &dyn Store,
    files: &[TreeFile],
    hashed: &[HashedFile],
) -> Result<Stored, IngestError> {
    let mut first_path: BTreeMap<Sha256, usize> = BTreeMap::new();
    for (i, h) in hashed.iter().enumerate() {
        first_path.entry(h.sha256).or_insert(i);
    }
    let distinct: Vec<usize> = first_path.into_values().collect();
    let shas: Vec<Sha256> = distinct.iter().map(|&i| hashed[i].sha256).collect();
    let stored = store
        .blob_infos(&shas)
        .map_err(|e| store_error("the blob lookup", e))?;
    let clock = IngestClock {
        blobs_checked: Instant::now(),
    };
    let prepared: Vec<(BlobInfo, Option<tempfile::TempPath>)> = distinct
        .par_iter()
        .zip(stored)
        .map(|(&i, existing)| {
            let (_, (rel, path, _)) = &files[i];
            prepare_blob(store, path, &hashed[i], existing).map_err(|e| store_error(rel, e))
        })
        .collect::<Result<_, _>>()?;
    let mut stats = IngestStats::default();
    let mut infos: BTreeMap<Sha256, BlobInfo> = BTreeMap::new();
    let mut new_blobs = Vec::new();
    for (info, staged) in prepared {
        if let Some(file) = staged {
            stats.new_blobs += 1;
            stats.new_blob_bytes += super::BLOB_HEADER_LEN + info.packed_size;
            new_blobs.push(StagedBlob { info, file });
        }
        infos.insert(info.sha256, info);
    }
    store
        .put_blobs(new_blobs)
        .map_err(|e| store_error("new blobs", e))?;
    Ok(Stored {
        infos,
        stats,
        clock,
    })
}

/// What [`store_blobs`] did: every content's blob header, what was new, and
/// when the store was asked which blobs it had.
struct Stored {
    infos: BTreeMap<Sha256, BlobInfo>,
    stats: IngestStats,
    clock: IngestClock,
}

/// The index of the request's trees, every tree's entries sorted by path.
fn index_of(
    request: &ValidRequest,
    mut trees: Vec<Tree>,
    workspaces: Vec<String>,
    registries: Vec<String>,
) -> Index {
    for (_, entries) in &mut trees {
        entries.sort_by(|a, b| a.path().cmp(b.path()));
    }
    let mut trees = trees.into_iter();
    let (_, entries) = trees.next().expect("the root tree");
    let nested: Vec<NestedTree> = trees
        .map(|(root, entries)| NestedTree { root, entries })
        .collect();
    let root = output_root(request.manager, &request.files);
    Index {
        format: if root == PNP_ROOT {
            INDEX_FORMAT_PNP
        } else if workspaces.is_empty() {
            INDEX_FORMAT
        } else {
            INDEX_FORMAT_WORKSPACES
        },
        key: request.hash,
        manager: request.manager.name().to_string(),
        versions: request.versions.clone(),
        platform: request.platform.clone(),
        options: request.options.clone(),
        root: root.to_string(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        entries,
        workspaces,
        nested,
        registries,
    }
}

/// After the install a workspace folder must hold what was written into it
/// (its package.json) and at most the `node_modules` the install made:
/// anything else is something depcache would not restore.
fn check_workspace_folder(project: &Path, folder: &str) -> Result<(), IngestError> {
    let path = project.join(folder);
    let listing = std::fs::read_dir(&path).map_err(|e| IngestError::Walk {
        path: path.display().to_string(),
        source: e,
    })?;
    for item in listing {
        let item = item.map_err(|e| IngestError::Walk {
            path: path.display().to_string(),
            source: e,
        })?;
        let name = item.file_name();
        if name != "package.json" && name != "node_modules" {
            return Err(IngestError::Unsupported {
                path: format!("{folder}/{}", name.to_string_lossy()),
                what: "a file the install added to a workspace folder".to_string(),
            });
        }
    }
    Ok(())
}

fn store_error(what: &str, source: io::Error) -> IngestError {
    IngestError::Store {
        path: what.to_string(),
        source,
    }
}

pub(super) type FileJob = (String, PathBuf, u32);
/// A tree's folder in the project and its entries.
pub(super) type Tree = (String, Vec<Entry>);
/// A file to store, with the number of the tree it belongs to.
pub(super) type TreeFile = (usize, FileJob);

/// What the trees walked so far hold, against `TreeLimits`.
#[derive(Debug, Default)]
pub(super) struct Used {
    pub(super) entries: u64,
    pub(super) bytes: u64,
}

/// Dirs and symlinks become entries right away; regular files are returned as
/// jobs for the parallel pass. `folder` is the tree's place in the project,
/// for workspace links, which alone may leave the tree. Stops at the first
/// entry that takes `used` over `limits`.
pub(super) fn walk(
    tree_root: &Path,
    folder: &str,
    workspaces: &[String],
    limits: TreeLimits,
    used: &mut Used,
) -> Result<(Vec<Entry>, Vec<FileJob>), IngestError> {
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
        used.entries += 1;
        if used.entries > limits.max_entries {
            return Err(IngestError::TooManyEntries {
                max: limits.max_entries,
            });
        }
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
            let full = format!("{folder}/{rel}");
            // A nested tree's root has the root tree's name (pnpm links into it).
            let root = folder.rsplit('/').next().unwrap_or(folder);
            check_symlink_target(&rel, &target)
                .map(|_| ())
                .or_else(|e| {
                    check_workspace_link(&full, &target, workspaces)
                        .map(|_| ())
                        .or_else(|_| check_root_tree_link(&full, &target, root))
                        .map_err(|_| e)
                })
                .map_err(|e| IngestError::Unsupported {
                    path: rel.clone(),
                    what: e.to_string(),
                })?;
            entries.push(Entry::Symlink { path: rel, target });
        } else if kind.is_file() {
            used.bytes = used.bytes.saturating_add(meta.len());
            if used.bytes > limits.max_bytes {
                return Err(IngestError::TooLarge {
                    max: limits.max_bytes,
                });
            }
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

/// The stored blob's header when the store has this content already (trusted
/// by size and CRC-32; `admin verify` rehashes), otherwise a freshly packed,
/// staged blob.
fn prepare_blob(
    store: &dyn Store,
    path: &Path,
    hashed: &HashedFile,
    stored: Option<BlobInfo>,
) -> io::Result<(BlobInfo, Option<tempfile::TempPath>)> {
    let existing = stored.filter(|info| info.size == hashed.size && info.crc32 == hashed.crc32);
    match existing {
        Some(info) => Ok((info, None)),
        None => {
            let (info, staged) = pack_file(path, hashed, store.staging_dir())?;
            Ok((info, Some(staged)))
        }
    }
}
