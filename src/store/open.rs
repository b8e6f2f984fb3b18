//! The one way to open a store from a `StoreLocation`, for the server and for
//! `depcache admin` alike, so a location means the same store to both.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::{DirStore, S3Store, Store, StoreLocation};

/// Who opens the store, which decides what opening may change.
#[derive(Debug, Clone)]
pub enum OpenMode {
    /// A server: the store is created when missing, and a directory store's
    /// staging area is emptied (what a crash left there was never visible).
    /// `work_dir` is the local scratch space of a remote store.
    Serve { work_dir: Option<PathBuf> },
    /// An operator's tool beside live servers: the store must exist already,
    /// and nothing in it is cleared.
    Admin,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the store at {location}: {source}")]
    Io { location: String, source: io::Error },
}

pub fn open_location(
    location: &StoreLocation,
    mode: &OpenMode,
) -> Result<Arc<dyn Store>, OpenError> {
    let io_error = |source| OpenError::Io {
        location: location.to_string(),
        source,
    };
    match location {
        StoreLocation::Dir(path) => {
            let store = match mode {
                OpenMode::Serve { .. } => DirStore::open(path),
                OpenMode::Admin => DirStore::open_existing(path),
            };
            Ok(Arc::new(store.map_err(io_error)?))
        }
        // Credentials, region and endpoint come from the AWS_* environment
        // only: a flag would show them in `ps`.
        StoreLocation::S3 { bucket, prefix } => {
            let (work_dir, create) = match mode {
                OpenMode::Serve { work_dir } => (work_dir.clone(), true),
                OpenMode::Admin => (None, false),
            };
            let store = S3Store::open(bucket, prefix, std::env::vars(), work_dir, create);
            Ok(Arc::new(store.map_err(io_error)?))
        }
    }
}
