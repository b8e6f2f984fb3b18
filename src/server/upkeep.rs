//! Store upkeep the server does on the side: last-use tracking for gc, and
//! the store-size gauges of /metrics.
//!
//! Last use is the index file's mtime (see docs/admin.md): set on a hit or a
//! download, but at most once per `TOUCH_INTERVAL` per key, remembered in
//! memory, so a hot key costs one metadata update an hour, not a write per
//! request. gc only needs last use to a resolution far coarser than that.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::metrics::Metrics;
use crate::protocol::Key;
use crate::store::Store;

pub const TOUCH_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the store-size gauges are recounted from the store, to catch
/// what gc or repair (another process) removed.
const RESCAN_INTERVAL: Duration = Duration::from_secs(3600);

pub struct LastUse {
    touched: Mutex<HashMap<Key, Instant>>,
}

impl LastUse {
    pub fn new() -> Self {
        LastUse {
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Records a use of `key`, touching its index when the last touch by this
    /// process is older than the interval. Never blocks the request.
    pub fn used(&self, store: &Arc<dyn Store>, key: &Key) {
        let now = Instant::now();
        {
            let mut map = self.touched.lock().unwrap();
            if map
                .get(key)
                .is_some_and(|t| now.duration_since(*t) < TOUCH_INTERVAL)
            {
                return;
            }
            // Forget stale entries now and then so the map stays bounded by
            // the keys used within one interval.
            if map.len() >= 100_000 {
                map.retain(|_, t| now.duration_since(*t) < TOUCH_INTERVAL);
            }
            map.insert(*key, now);
        }
        let store = store.clone();
        let key = *key;
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.touch_index(&key) {
                tracing::warn!(%key, "could not record last use: {e}");
            }
        });
    }
}

/// Counts the store's blobs, and the bytes of its trees, in the background
/// now and every hour after. Backends that cannot list blobs leave the
/// gauges at what ingestions add.
pub fn spawn_store_scan(store: Arc<dyn Store>, metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        loop {
            let store2 = store.clone();
            // One shard at a time on one blocking thread: slow and gentle
            // beats competing with installs for the disk.
            let counted = tokio::task::spawn_blocking(move || {
                let (mut blobs, mut bytes) = (0u64, 0u64);
                for shard in 0..=255u8 {
                    for blob in store2.list_blobs(shard)? {
                        blobs += 1;
                        bytes += blob.size;
                    }
                }
                let trees = tree_bytes(&*store2)?;
                Ok::<_, std::io::Error>((blobs, bytes, trees))
            })
            .await;
            match counted {
                Ok(Ok((blobs, bytes, trees))) => {
                    metrics.store_blobs.store(blobs, Ordering::Relaxed);
                    metrics.store_blob_bytes.store(bytes, Ordering::Relaxed);
                    if let Some(trees) = trees {
                        metrics.store_tree_bytes.store(trees, Ordering::Relaxed);
                    }
                    metrics.store_scanned.store(1, Ordering::Relaxed);
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::Unsupported => return,
                Ok(Err(e)) => tracing::warn!("could not count the store's blobs: {e}"),
                Err(e) => tracing::warn!("store scan panicked: {e}"),
            }
            tokio::time::sleep(RESCAN_INTERVAL).await;
        }
    });
}

/// Sum of every key's tree size: from its summary (one small read) where the
/// backend keeps one, from the index otherwise. Keys that vanish meanwhile
/// (gc) are skipped; `None` when the backend cannot list indexes.
fn tree_bytes(store: &dyn Store) -> std::io::Result<Option<u64>> {
    let listed = match store.list_indexes() {
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => return Ok(None),
        listed => listed?,
    };
    let mut total = 0;
    for meta in listed {
        if let Some(summary) = store.get_summary(&meta.key)? {
            total += summary.size;
        } else if let Some(index) = store.read_listed_index(&meta)? {
            total += index.logical_size();
        }
    }
    Ok(Some(total))
}
