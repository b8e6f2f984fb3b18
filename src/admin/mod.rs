//! `depcache admin`: operators' tools on a store (stats, list, gc, verify).
//! Built on `store` and `protocol` only, never on `server`: they run as a
//! separate process beside a live server and go through the same `Store`
//! trait, opened with `DirStore::open_existing` so a live server's staging
//! area is left alone.
//!
//! This file holds what the subcommands share: parallel scans over the
//! store's 256 blob shards and over its indexes, and human formatting.

pub mod gc;
pub(crate) mod list;
pub mod stats;
pub mod verify;

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::protocol::{Index, Sha256};
use crate::store::{BlobMeta, IndexMeta, Store};

/// Runs `f` on each of the 256 blob shards in parallel. A shard's listing
/// holds ~1/256 of the blobs, so memory stays small whatever the store's size.
pub fn scan_blobs<R, F>(store: &dyn Store, f: F) -> io::Result<Vec<R>>
where
    R: Send,
    F: Fn(Vec<BlobMeta>) -> io::Result<R> + Sync + Send,
{
    (0..=255u8)
        .into_par_iter()
        .map(|shard| f(store.list_blobs(shard)?))
        .collect()
}

/// Reads and hands every listed index to `f` in parallel, one at a time per
/// thread. `None` when the index vanished since the listing (gc, repair).
pub fn scan_indexes<R, F>(store: &dyn Store, metas: &[IndexMeta], f: F) -> Vec<R>
where
    R: Send,
    F: Fn(&IndexMeta, io::Result<Option<Index>>) -> R + Sync + Send,
{
    metas
        .par_iter()
        .map(|meta| f(meta, store.read_listed_index(meta)))
        .collect()
}

/// The first 16 bytes of a sha256, as the key of the big in-memory sets
/// (half the memory of the full hash). A collision could only make gc keep
/// a blob it might have deleted, never the reverse.
pub fn short_hash(sha256: &Sha256) -> u128 {
    u128::from_be_bytes(sha256.as_bytes()[..16].try_into().unwrap())
}

pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub use crate::units::{human_bytes, human_time};
