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
use crate::protocol::Key;
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
    seen: Mutex<HashMap<Key, u32>>,
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
        key: &Key,
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
            let count = seen.entry(*key).or_insert(0);
            if *count == u32::MAX {
                return;
            }
            *count += 1;
            if *count < 2 {
                return;
            }
            *count = u32::MAX;
        }
        let (store, key, plan, limit) = (store.clone(), *key, plan.clone(), self.limit);
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

/// `range` of a kept bundle as one buffer mapped from the file: hyper writes
/// it to the socket straight from the page cache, with no read into a
/// buffer of ours (one copy per byte, as `sendfile` makes). Files in
/// `bundles/` are only ever renamed in or unlinked, never truncated (an
/// unlinked file stays mapped whole), so the mapping cannot shrink under us.
pub fn map_file(file: &File, range: Range<u64>) -> io::Result<Bytes> {
    if range.is_empty() {
        return Ok(Bytes::new());
    }
    let page = 4096u64;
    let start = range.start - range.start % page;
    let len = usize::try_from(range.end - start).map_err(io::Error::other)?;
    let map = Mapped::new(file, start, len)?;
    let skip = (range.start - start) as usize;
    Ok(Bytes::from_owner(map).slice(skip..))
}

/// A read-only shared mapping, unmapped when the last `Bytes` of it drops.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    fn new(file: &File, offset: u64, len: usize) -> io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        let offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
        // SAFETY: a fresh read-only mapping of an open descriptor; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                file.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }
}

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
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
