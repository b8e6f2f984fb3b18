//! The content-addressed store: blobs (one per distinct file content, kept
//! packed so bundles need no recompression) and indexes (one per key). Behind
//! the `Store` trait so a shared object store can replace the directory.

mod blob;
mod bundle_cache;
mod dir;
mod dir_maintenance;
mod ingest;
mod ingest_pnp;
mod location;
mod maintenance;
mod mem;
mod open;
mod ready;
mod s3;
mod s3_config;
mod s3_maintenance;
mod s3_read;
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
pub use location::{LocationError, StoreLocation};
pub use maintenance::{
    BlobMeta, GcSafety, Generation, IndexMeta, IngestClock, ProtocolTimes, StagedBlob, StoreLock,
    unsupported,
};
pub use mem::MemStore;
pub use open::{OpenError, OpenMode, open_location};
pub use ready::{NotReady, check_ready};
pub use s3::{S3Store, S3Times};
pub use summary::KeySummary;

use crate::protocol::{Index, Key, Sha256};

/// Readers of blobs' packed data, in the order they were asked for.
pub type PackedReaders<'a> = Box<dyn Iterator<Item = io::Result<Box<dyn Read + Send>>> + 'a>;

/// What every backend provides. Blocking I/O: async callers use
/// `spawn_blocking`. The contract every backend keeps is a test suite that
/// runs on each (tests/suite/store_contract.rs).
pub trait Store: Send + Sync + 'static {
    /// Packing header of a stored blob, or `None` when absent.
    fn blob_info(&self, sha256: &Sha256) -> io::Result<Option<BlobInfo>>;

    /// The batch "which of these blobs are missing" call of an ingestion:
    /// for each hash, the stored blob's header, or `None` when the blob is
    /// missing or too old for a new index to rely on (see `GcSafety`; the
    /// ingestion then stores it again). Remote backends answer in parallel.
    fn blob_infos(&self, sha256s: &[Sha256]) -> io::Result<Vec<Option<BlobInfo>>> {
        sha256s.iter().map(|sha| self.blob_info(sha)).collect()
    }

    /// Publishes blobs packed into `staging_dir()`: when it returns, every
    /// one is durable and visible, and each was visible whole or not at all.
    fn put_blobs(&self, blobs: Vec<StagedBlob>) -> io::Result<()>;

    /// The packed data of a blob from `offset` on (past the header).
    fn open_packed(&self, sha256: &Sha256, offset: u64) -> io::Result<Box<dyn Read + Send>>;

    /// The packed data of many blobs, `(sha256, from, to)` each, as readers
    /// in the same order: one bundle's worth. Remote backends fetch ahead,
    /// a bounded number at a time, instead of a round trip per blob.
    fn read_packed_ranges(&self, ranges: Vec<(Sha256, u64, u64)>) -> PackedReaders<'_> {
        Box::new(ranges.into_iter().map(move |(sha256, from, to)| {
            let reader: Box<dyn Read + Send> =
                Box::new(self.open_packed(&sha256, from)?.take(to - from));
            Ok(reader)
        }))
    }

    fn get_index(&self, key: &Key) -> io::Result<Option<Index>>;

    /// Writes the index atomically: its presence makes the key a hit. When
    /// the key has an index already, either may remain, never a mix.
    fn put_index(&self, index: &Index) -> io::Result<()>;

    /// How an ingestion writes its index, last: `put_index` plus whatever the
    /// backend's gc protocol asks of an ingestion. An error of kind
    /// `Interrupted` means a blob vanished meanwhile (a concurrent gc): the
    /// index was not written and the ingestion should run again.
    fn publish_index(&self, index: &Index, _clock: IngestClock) -> io::Result<()> {
        self.put_index(index)
    }

    /// A local directory where new blobs are packed before `put_blobs`: on
    /// the store's own file system for a directory store (publishing is a
    /// rename), local scratch space for a remote one.
    fn staging_dir(&self) -> &Path;

    fn list_keys(&self) -> io::Result<Vec<Key>>;

    fn delete_index(&self, key: &Key) -> io::Result<bool>;

    fn delete_blob(&self, sha256: &Sha256) -> io::Result<bool>;

    // How gc stays safe beside live servers: required, so that no backend
    // inherits a lock that silently does nothing.

    /// See `GcSafety`.
    fn gc_safety(&self) -> GcSafety;

    /// Held by an ingestion from its first blob lookup until its index is
    /// written, in shared mode: any number of ingestions run together.
    fn ingest_lock(&self) -> io::Result<StoreLock>;

    /// Held exclusively by gc while it computes which blobs are referenced and
    /// deletes the others, so that no ingestion can start relying on a blob
    /// (new or reused) in between.
    fn sweep_lock(&self) -> io::Result<StoreLock>;

    /// For `GcSafety::Protocol` stores: the timing gc must respect.
    fn protocol_times(&self) -> Option<ProtocolTimes> {
        None
    }

    /// Deletes a blob a sweep found unreferenced and older than `grace`,
    /// if it still is that old now (a `Protocol` store looks again, since an
    /// ingestion may have stored it anew since the listing).
    fn delete_stale_blob(&self, sha256: &Sha256, _grace: std::time::Duration) -> io::Result<bool> {
        self.delete_blob(sha256)
    }

    // Optional capabilities (house style, as in sccache: default methods, so a
    // backend that lacks one still serves). Used by `depcache admin` and by
    // the server's last-use tracking and metrics.

    /// The read half of the readiness probe (`check_ready`): cheap, and an
    /// error when the store cannot be read. By default a blob-header lookup
    /// of a hash no blob has (a stat for a directory).
    fn check_read(&self) -> io::Result<()> {
        self.blob_info(&ready::PROBE_SHA).map(drop)
    }

    /// Records that `key` was just used (a hit or a download). Must be cheap
    /// metadata, not a rewrite; callers throttle it.
    fn touch_index(&self, _key: &Key) -> io::Result<()> {
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
    fn delete_bundle(&self, _key: &Key) -> io::Result<u64> {
        Ok(0)
    }

    /// What a hit answers with, without parsing the index: `None` when the
    /// backend keeps no summary for `key` or the one it kept no longer
    /// matches the index (callers then derive it with `KeySummary::of` and
    /// `put_summary`). Never `Some` for a key whose index is gone.
    fn get_summary(&self, _key: &Key) -> io::Result<Option<KeySummary>> {
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
        _key: &Key,
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
        _key: &Key,
        _generation: u64,
        _fill: &mut dyn FnMut(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// Opens (creating when needed) the directory store at `path`, as a server
/// does: a shorthand for `open_location` with a directory.
pub fn open(path: &Path) -> io::Result<Arc<dyn Store>> {
    Ok(Arc::new(DirStore::open(path)?))
}
