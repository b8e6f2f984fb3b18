//! What operators' tools and metrics need from a store besides put/get: lists
//! with sizes and last-use times, last-use tracking, and the lock that keeps
//! garbage collection from deleting blobs an ingestion is about to reference.
//! Listing is optional (a backend without it still serves; only `depcache
//! admin` needs it); how gc stays safe beside live servers is not: every
//! backend states it (`GcSafety`), so none inherits a lock that does nothing.

use std::any::Any;
use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

use crate::protocol::{Key, Sha256};

/// One blob as listed for maintenance: identity, bytes on disk, age.
#[derive(Debug, Clone, Copy)]
pub struct BlobMeta {
    pub sha256: Sha256,
    /// The blob file's size (header plus packed data).
    pub size: u64,
    /// When the blob was written; the gc grace period is measured from it.
    pub modified: SystemTime,
}

/// One index as listed for maintenance, without parsing it.
#[derive(Debug, Clone)]
pub struct IndexMeta {
    pub key: Key,
    pub manager: String,
    /// Backend-specific location (the file name in a directory store).
    pub name: String,
    /// Bytes of the index itself.
    pub size: u64,
    /// Last time the key was served (or written): see `Store::touch_index`.
    pub last_used: SystemTime,
    /// Changes whenever the index is rewritten, but not when it is touched.
    /// Lets gc notice an index replaced while it worked.
    pub generation: Generation,
}

/// Which write of an index a listing saw: opaque, only compared for
/// equality (an inode number in a directory store, an ETag in S3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Generation(String);

impl Generation {
    pub fn new(id: impl fmt::Display) -> Generation {
        Generation(id.to_string())
    }
}

/// How `depcache admin gc` may delete blobs while servers ingest into the
/// same store: the property that no index ever names a blob gc deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcSafety {
    /// `sweep_lock` excludes every `ingest_lock` holder, in any process that
    /// shares the store: the sweep sees every blob an ingestion relies on.
    Locked,
    /// No lock spans the servers; the backend's own protocol (a grace period
    /// on object age, a re-check before the index is published, a bounded
    /// delay between gc's last look at a blob and its delete) keeps it safe.
    /// gc honours `min_gc_grace`, `sweep_window` and `delete_stale_blob`.
    Protocol,
    /// Nothing: gc would race live ingestions, so it refuses to sweep.
    Unsupported,
}

/// A blob packed by `pack_file` into the store's staging directory, waiting
/// for `Store::put_blobs`. Dropping it deletes the local file.
pub struct StagedBlob {
    pub info: super::BlobInfo,
    pub file: tempfile::TempPath,
}

/// The ingestion that a `Store::publish_index` finishes: when its blobs were
/// last looked up, which a backend without locks needs for its gc protocol.
#[derive(Debug, Clone, Copy)]
pub struct IngestClock {
    pub blobs_checked: std::time::Instant,
}

/// What a gc needs to honour on a `GcSafety::Protocol` store.
#[derive(Debug, Clone, Copy)]
pub struct ProtocolTimes {
    /// gc never deletes a blob younger than this, whatever `--grace` says.
    pub min_grace: Duration,
    /// From the start of the index listing that a sweep trusts to its last
    /// delete: past it, the sweep stops (the rest waits for the next gc).
    pub window: Duration,
}

/// A held lock; dropping it releases the lock. Backends whose gc safety is
/// not `Locked` hand out `StoreLock::none()`.
pub struct StoreLock {
    _held: Option<Box<dyn Any + Send>>,
}

impl StoreLock {
    /// For backends that need no lock.
    pub fn none() -> StoreLock {
        StoreLock { _held: None }
    }

    pub fn holding(token: impl Any + Send) -> StoreLock {
        StoreLock {
            _held: Some(Box::new(token)),
        }
    }
}

pub fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this store backend does not support {what}"),
    )
}
