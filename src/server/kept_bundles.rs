//! Downloads of hot keys as plain file reads: the second download of a key
//! (since this server started) has its bundle assembled once in the
//! background and kept by the store (`Store::keep_bundle`), within
//! `--bundle-cache-size` of kept bundles in all; later downloads read that
//! one file in large chunks instead of opening every blob. Never required for
//! correctness: a kept bundle is used only for the index generation it was
//! laid out from and at the exact length of its layout.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::bundle::BundlePlan;
use crate::store::Store;

/// Large reads: few syscalls per megabyte, few chunks for hyper to write.
const CHUNK: usize = 1 << 20;
/// Keys whose downloads are counted at once; the map is cleared past it.
const MAX_TRACKED: usize = 10_000;

pub struct KeptBundles {
    /// Bytes of kept bundles allowed in the store; 0 keeps none.
    limit: u64,
    /// Downloads per key since start; `u32::MAX` while being assembled or
    /// once kept (or refused), so each key is assembled at most once.
    seen: Mutex<HashMap<String, u32>>,
}

impl KeptBundles {
    pub fn new(limit: u64) -> Self {
        KeptBundles {
            limit,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a download served from blobs; from the second one on, keeps
    /// the assembled bundle in the background.
    pub fn downloaded(
        &self,
        store: &Arc<dyn Store>,
        key: &str,
        generation: u64,
        plan: &Arc<BundlePlan>,
    ) {
        if self.limit == 0 || generation == 0 || plan.len() > self.limit {
            return;
        }
        {
            let mut seen = self.seen.lock().unwrap();
            if seen.len() >= MAX_TRACKED && !seen.contains_key(key) {
                seen.clear();
            }
            let count = seen.entry(key.to_string()).or_insert(0);
            if *count == u32::MAX {
                return;
            }
            *count += 1;
            if *count < 2 {
                return;
            }
            *count = u32::MAX;
        }
        let (store, key, plan, limit) = (store.clone(), key.to_string(), plan.clone(), self.limit);
        tokio::task::spawn_blocking(move || {
            match store.bundle_bytes() {
                Ok(kept) if kept.saturating_add(plan.len()) <= limit => {}
                Ok(_) => {
                    tracing::info!(%key, "not keeping the bundle: --bundle-cache-size reached");
                    return;
                }
                Err(e) => {
                    tracing::warn!(%key, "not keeping the bundle: {e}");
                    return;
                }
            }
            let result = store.keep_bundle(&key, generation, &mut |out| {
                plan.write_range(&*store, 0..plan.len(), &mut |b| out.write_all(b))
            });
            match result {
                Ok(()) => {
                    tracing::info!(%key, bytes = plan.len(), "bundle kept for later downloads")
                }
                Err(e) => tracing::warn!(%key, "could not keep the bundle: {e}"),
            }
        });
    }
}

/// Streams `range` of a kept bundle from a blocking thread in 1 MiB reads.
pub fn stream_file(file: File, range: Range<u64>) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut at = range.start;
        while at < range.end {
            let want = CHUNK.min((range.end - at) as usize);
            let mut buf = vec![0u8; want];
            let result = file.read_exact_at(&mut buf, at).map(|()| Bytes::from(buf));
            let failed = result.is_err();
            if let Err(e) = &result {
                tracing::error!("kept bundle read failed: {e}");
            }
            if tx.blocking_send(result).is_err() || failed {
                return;
            }
            at += want as u64;
        }
    });
    rx
}
