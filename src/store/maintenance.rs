//! What operators' tools and metrics need from a store besides put/get: lists
//! with sizes and last-use times, last-use tracking, and the lock that keeps
//! garbage collection from deleting blobs an ingestion is about to reference.
//! These are optional capabilities of the `Store` trait (default methods), so
//! a backend without them still serves; only `depcache admin` needs them.

use std::any::Any;
use std::io;
use std::time::SystemTime;

/// One blob as listed for maintenance: identity, bytes on disk, age.
#[derive(Debug, Clone, Copy)]
pub struct BlobMeta {
    pub sha256: [u8; 32],
    /// The blob file's size (header plus packed data).
    pub size: u64,
    /// When the blob was written; the gc grace period is measured from it.
    pub modified: SystemTime,
}

/// One index as listed for maintenance, without parsing it.
#[derive(Debug, Clone)]
pub struct IndexMeta {
    pub key: String,
    pub manager: String,
    /// Backend-specific location (the file name in a directory store).
    pub name: String,
    /// Bytes of the index itself.
    pub size: u64,
    /// Last time the key was served (or written): see `Store::touch_index`.
    pub last_used: SystemTime,
    /// Changes whenever the index is rewritten (the inode in a directory
    /// store, since every write is a rename), but not when it is touched. Lets
    /// gc notice an index replaced while it worked.
    pub generation: u64,
}

/// A held lock; dropping it releases the lock.
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
