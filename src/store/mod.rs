//! The content-addressed store: blobs (one per distinct file content, kept
//! packed so bundles need no recompression) and indexes (one per key). Behind
//! the `Store` trait so a shared object store can replace the directory.

mod blob;
mod dir;
mod ingest;

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

pub use blob::{
    BLOB_HEADER_LEN, BlobInfo, HashedFile, METHOD_DEFLATE, METHOD_STORED, pack_file, unpack,
};
pub use dir::DirStore;
pub use ingest::{IngestError, ingest_tree};

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
}

/// Which backend a cache location names. Only directories so far; an
/// `s3://` URL is where an object-store backend plugs in.
pub fn open(location: &Path) -> io::Result<Arc<dyn Store>> {
    Ok(Arc::new(DirStore::open(location)?))
}
