//! The content-addressed store: blobs (one per distinct file content, kept
//! packed so bundles need no recompression) and indexes (one per key). Behind
//! the `Store` trait so a shared object store can replace the directory.

mod blob;
mod bundle_cache;
mod dir;
mod dir_maintenance;
mod ingest;
mod maintenance;
mod summary;

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

pub use blob::{
    BLOB_HEADER_LEN, BlobInfo, HashedFile, METHOD_DEFLATE, METHOD_STORED, pack_file, unpack,
};
pub use dir::DirStore;
pub use ingest::{
    IngestError, IngestStats, TreeLimits, ingest_tree, ingest_tree_counted, ingest_tree_needing,
};
pub use maintenance::{BlobMeta, IndexMeta, StoreLock, unsupported};
pub use summary::KeySummary;

use crate::protocol::Index;

/// What every backend provides. Blocking I/O: async callers use
/// `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// Packing header of a stored blob, or `None` when absent.
    fn blob_info(&self, sha256: &str) -> io::Result<Option<BlobInfo>>;

    /// Publishes a blob staged by `pack_file` in `staging_dir()`, whose data
    /// the caller has made durable with `sync`. Atomic: the blob is visible
    /// whole or not at all.
    fn put_blob(&self, info: &BlobInfo, staged: tempfile::TempPath) -> io::Result<()>;

    /// The packed data of a blob from `offset` on (past the header).
    fn open_packed(&self, sha256: &str, offset: u64) -> io::Result<Box<dyn Read + Send>>;

    fn get_index(&self, key: &str) -> io::Result<Option<Index>>;

    /// Writes the index last and atomically: its presence makes the key a hit.
    fn put_index(&self, index: &Index) -> io::Result<()>;

    /// Where blobs are staged before `put_blob`; on the same file system as the
    /// store so that storing is a rename.
    fn staging_dir(&self) -> &Path;

    fn list_keys(&self) -> io::Result<Vec<String>>;

    fn delete_index(&self, key: &str) -> io::Result<bool>;

    fn delete_blob(&self, sha256: &str) -> io::Result<bool>;

    /// Flushes everything written so far to stable storage before the index
    /// that depends on it is written. Backends whose puts are durable need not
    /// override it.
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    // Optional capabilities (house style, as in sccache: default methods, so a
    // backend that lacks one still serves). Used by `depcache admin` and by
    // the server's last-use tracking and metrics.

    /// Held by an ingestion from its first blob lookup until its index is
    /// written, in shared mode: any number of ingestions run together.
    fn ingest_lock(&self) -> io::Result<StoreLock> {
        Ok(StoreLock::none())
    }

    /// Held exclusively by gc while it computes which blobs are referenced and
    /// deletes the others, so that no ingestion can start relying on a blob
    /// (new or reused) in between.
    fn sweep_lock(&self) -> io::Result<StoreLock> {
        Ok(StoreLock::none())
    }

    /// Records that `key` was just used (a hit or a download). Must be cheap
    /// metadata, not a rewrite; callers throttle it.
    fn touch_index(&self, _key: &str) -> io::Result<()> {
        Ok(())
    }

    /// Every index, with size and last use, without parsing any.
    fn list_indexes(&self) -> io::Result<Vec<IndexMeta>> {
        Err(unsupported("listing indexes with their metadata"))
    }

    /// The index `meta` lists; `None` when it disappeared since.
    fn read_listed_index(&self, meta: &IndexMeta) -> io::Result<Option<Index>> {
        self.get_index(&meta.key)
    }

    /// Deletes the index `meta` lists unless it was used or rewritten since
    /// it was listed: gc decides on a listing and must not evict a key that
    /// became hot meanwhile.
    fn delete_listed_index(&self, meta: &IndexMeta) -> io::Result<bool> {
        self.delete_index(&meta.key)
    }

    /// Blobs whose sha256 starts with the byte `shard`: 256 independent
    /// listings that callers can run in parallel and that stay small whatever
    /// the store's size.
    fn list_blobs(&self, _shard: u8) -> io::Result<Vec<BlobMeta>> {
        Err(unsupported("listing blobs"))
    }

    /// Bytes held by kept bundles (see `keep_bundle`).
    fn bundle_bytes(&self) -> io::Result<u64> {
        Ok(0)
    }

    /// Deletes a key's cached bundle; returns the bytes freed.
    fn delete_bundle(&self, _key: &str) -> io::Result<u64> {
        Ok(0)
    }

    /// What a hit answers with, without parsing the index: `None` when the
    /// backend keeps no summary for `key` or the one it kept no longer
    /// matches the index (callers then derive it with `KeySummary::of` and
    /// `put_summary`). Never `Some` for a key whose index is gone.
    fn get_summary(&self, _key: &str) -> io::Result<Option<KeySummary>> {
        Ok(None)
    }

    /// Keeps `summary` for the key's current index; a cache, so a backend
    /// may drop it (and `get_summary` answer `None`) at any time.
    fn put_summary(&self, _summary: &KeySummary) -> io::Result<()> {
        Ok(())
    }

    /// The kept, assembled bundle of `key` laid out from index `generation`,
    /// when the backend keeps one and it is exactly `len` bytes; `None`
    /// otherwise (the bundle is then assembled from blobs).
    fn open_bundle(
        &self,
        _key: &str,
        _generation: u64,
        _len: u64,
    ) -> io::Result<Option<std::fs::File>> {
        Ok(None)
    }

    /// Keeps the bundle `fill` writes as `key`'s for index `generation`
    /// (counted by `bundle_bytes`, deleted by `delete_bundle`). A backend
    /// that keeps none ignores it.
    fn keep_bundle(
        &self,
        _key: &str,
        _generation: u64,
        _fill: &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// Which backend a cache location names. Only directories so far; an
/// `s3://` URL is where an object-store backend plugs in.
pub fn open(location: &Path) -> io::Result<Arc<dyn Store>> {
    Ok(Arc::new(DirStore::open(location)?))
}
