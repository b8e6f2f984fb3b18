//! `depcache admin gc`: evicts keys unused for too long or, least recently
//! used first, until the store fits a size budget; then sweeps blobs that no
//! index references.
//!
//! Safe beside a live server (see docs/admin.md): the sweep runs under the
//! store's exclusive sweep lock, which every ingestion holds shared from its
//! first blob lookup until its index is written, so a blob an ingestion has
//! found or written is always either in an index the sweep reads or in an
//! ingestion that waits for the sweep to end. Blobs younger than the grace
//! period are never deleted either, as a second line of defence.
//!
//! A store whose servers share no lock (S3) says `GcSafety::Protocol`: there
//! the grace period is the defence, with the store's minimum, a bounded sweep
//! window, and a fresh look at each blob before it goes (docs/scale-out.md
//! has the argument). A store with neither is not swept at all.
//!
//! Memory is one small entry per distinct referenced blob (a reference count
//! keyed by 16 bytes of its hash), never per index entry: indexes are
//! streamed, one per thread at a time.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::{human_bytes, human_time, scan_blobs, scan_indexes, short_hash, unix_secs};
use crate::protocol::{Index, Key, Sha256};
use crate::store::{
    BLOB_HEADER_LEN, GcSafety, Generation, IndexMeta, ProtocolTimes, Store, StoreLock,
};

pub const GC_FORMAT: u32 = 1;

#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Evict keys not used for this long.
    pub older_than: Option<Duration>,
    /// Evict least recently used keys until blobs, indexes and bundles fit.
    pub max_size: Option<u64>,
    /// Unreferenced blobs younger than this are kept.
    pub grace: Duration,
    pub dry_run: bool,
}

/// `admin gc --json`. Documented in docs/admin.md.
#[derive(Debug, Clone, Serialize, Default)]
pub struct GcReport {
    pub format: u32,
    pub dry_run: bool,
    pub keys_before: u64,
    pub evicted: Vec<Evicted>,
    /// Chosen for eviction but used or rewritten while gc ran: kept.
    pub kept_in_use: u64,
    pub index_bytes_freed: u64,
    pub bundle_bytes_freed: u64,
    pub blobs_removed: u64,
    pub blob_bytes_freed: u64,
    /// Unreferenced but younger than the grace period: kept this time.
    pub blobs_in_grace: u64,
    /// The grace period applied, in seconds: `--grace`, or the store's
    /// minimum when that is longer.
    pub grace_secs: u64,
    pub bytes_freed: u64,
    /// Blobs, indexes and bundles on disk before and after.
    pub size_before: u64,
    pub size_after: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evicted {
    pub key: String,
    pub manager: String,
    /// Unix seconds.
    pub last_used: u64,
    /// `older_than` or `max_size`.
    pub reason: &'static str,
}

/// Reference counts of blobs, in 256 locked shards so indexes can be counted
/// in parallel. The value keeps the blob's file size for the budget.
struct RefCounts {
    shards: Vec<Mutex<HashMap<u128, (u32, u64)>>>,
}

impl RefCounts {
    fn new() -> Self {
        RefCounts {
            shards: (0..256).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn add(&self, index: &Index) {
        for file in index.files() {
            let sha = &file.sha256;
            let mut shard = self.shards[sha.as_bytes()[0] as usize].lock().unwrap();
            let slot = shard
                .entry(short_hash(sha))
                .or_insert((0, BLOB_HEADER_LEN + file.packed_size));
            slot.0 = slot.0.saturating_add(1);
        }
    }

    /// Drops the index's references; returns the bytes of blobs no longer
    /// referenced by anything.
    fn remove(&self, index: &Index) -> u64 {
        let mut freed = 0;
        for file in index.files() {
            let sha = &file.sha256;
            let mut shard = self.shards[sha.as_bytes()[0] as usize].lock().unwrap();
            if let Some(slot) = shard.get_mut(&short_hash(sha))
                && slot.0 > 0
            {
                slot.0 -= 1;
                if slot.0 == 0 {
                    freed += slot.1;
                }
            }
        }
        freed
    }

    fn referenced_bytes(&self) -> u64 {
        self.shards
            .iter()
            .flat_map(|s| {
                let s = s.lock().unwrap();
                s.values()
                    .filter(|v| v.0 > 0)
                    .map(|v| v.1)
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    fn is_referenced(&self, sha: &Sha256) -> bool {
        let shard = self.shards[sha.as_bytes()[0] as usize].lock().unwrap();
        shard.get(&short_hash(sha)).is_some_and(|v| v.0 > 0)
    }
}

/// Reads every index in `metas` into `refs`; fails if one cannot be read,
/// because its blobs would then look unreferenced.
fn count_refs(store: &dyn Store, metas: &[IndexMeta], refs: &RefCounts) -> io::Result<()> {
    let failures: Vec<String> = scan_indexes(store, metas, |meta, index| match index {
        Ok(Some(index)) => {
            refs.add(&index);
            None
        }
        Ok(None) => None,
        Err(e) => Some(format!("{}: {e}", meta.key)),
    })
    .into_iter()
    .flatten()
    .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} index(es) cannot be read, so gc cannot tell which blobs they use; run \
`depcache admin verify --repair` first. First: {}",
            failures.len(),
            failures[0]
        ),
    ))
}

pub fn gc(store: &dyn Store, options: &GcOptions) -> io::Result<GcReport> {
    let safety = store.gc_safety();
    if safety == GcSafety::Unsupported && !options.dry_run {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this store cannot keep gc from deleting blobs that a live server's ingestion \
relies on (no gc lock, no gc protocol), so gc refuses to run on it",
        ));
    }
    let times = store
        .protocol_times()
        .filter(|_| safety == GcSafety::Protocol);
    let started = SystemTime::now();
    let metas = store.list_indexes()?;
    let refs = RefCounts::new();
    count_refs(store, &metas, &refs)?;
    let index_bytes: u64 = metas.iter().map(|m| m.size).sum();
    let bundle_bytes = store.bundle_bytes()?;
    let mut report = GcReport {
        format: GC_FORMAT,
        dry_run: options.dry_run,
        keys_before: metas.len() as u64,
        ..GcReport::default()
    };

    let chosen = choose(
        store,
        &metas,
        &refs,
        options,
        started,
        index_bytes + bundle_bytes,
    )?;
    let gone = evict(store, chosen, options, &mut report)?;
    let blob_bytes = sweep(store, &metas, &gone, &refs, options, times, &mut report)?;
    report.bytes_freed =
        report.blob_bytes_freed + report.index_bytes_freed + report.bundle_bytes_freed;
    report.size_before = blob_bytes + index_bytes + bundle_bytes;
    if !options.dry_run {
        // The blob listing ran after eviction; add back what eviction freed.
        report.size_before += report.index_bytes_freed + report.bundle_bytes_freed;
    }
    report.size_after = report.size_before.saturating_sub(report.bytes_freed);
    Ok(report)
}

/// Choose: oldest last use first. Past the first key that neither rule
/// evicts, none will be (the list is sorted), so stop there. `other_bytes`
/// is what indexes and bundles take besides the referenced blobs.
fn choose<'m>(
    store: &dyn Store,
    metas: &'m [IndexMeta],
    refs: &RefCounts,
    options: &GcOptions,
    started: SystemTime,
    other_bytes: u64,
) -> io::Result<Vec<(&'m IndexMeta, &'static str)>> {
    let mut order: Vec<&IndexMeta> = metas.iter().collect();
    order.sort_by_key(|m| m.last_used);
    let cutoff = options.older_than.and_then(|d| started.checked_sub(d));
    let mut projected = refs.referenced_bytes() + other_bytes;
    let mut chosen = Vec::new();
    for meta in order {
        let reason = if cutoff.is_some_and(|c| meta.last_used < c) {
            "older_than"
        } else if options.max_size.is_some_and(|max| projected > max) {
            "max_size"
        } else {
            break;
        };
        if let Some(index) = store.read_listed_index(meta)? {
            projected = projected.saturating_sub(refs.remove(&index));
        }
        projected = projected.saturating_sub(meta.size);
        chosen.push((meta, reason));
    }
    Ok(chosen)
}

/// Evict. The store refuses to delete an index used since the listing.
/// Returns the evicted keys with the generation that was deleted.
fn evict<'m>(
    store: &dyn Store,
    chosen: Vec<(&'m IndexMeta, &'static str)>,
    options: &GcOptions,
    report: &mut GcReport,
) -> io::Result<HashMap<&'m Key, &'m Generation>> {
    let mut gone = HashMap::new();
    for (meta, reason) in chosen {
        let deleted = options.dry_run || store.delete_listed_index(meta)?;
        if !deleted {
            report.kept_in_use += 1;
            continue;
        }
        if !options.dry_run {
            report.bundle_bytes_freed += store.delete_bundle(&meta.key)?;
        }
        report.index_bytes_freed += meta.size;
        gone.insert(&meta.key, &meta.generation);
        report.evicted.push(Evicted {
            key: meta.key.to_string(),
            manager: meta.manager.clone(),
            last_used: unix_secs(meta.last_used),
            reason,
        });
    }
    Ok(gone)
}

/// Sweep, under the exclusive lock: no ingestion is between its first blob
/// lookup and its index now, so the indexes on disk name every blob in use.
/// Returns the bytes all blobs took before the sweep.
fn sweep(
    store: &dyn Store,
    metas: &[IndexMeta],
    gone: &HashMap<&Key, &Generation>,
    refs: &RefCounts,
    options: &GcOptions,
    times: Option<ProtocolTimes>,
    report: &mut GcReport,
) -> io::Result<u64> {
    let grace = times.map_or(options.grace, |t| options.grace.max(t.min_grace));
    let _lock = if options.dry_run {
        StoreLock::none()
    } else {
        store.sweep_lock()?
    };
    let survivors: HashSet<(&Key, &Generation)> = metas
        .iter()
        .filter(|m| !gone.contains_key(&m.key))
        .map(|m| (&m.key, &m.generation))
        .collect();
    // Every index published before this instant is in the listing below.
    let listed_at = Instant::now();
    // Indexes written (or kept in use) since the first listing still need
    // counting; the survivors already are.
    let relisted: Vec<IndexMeta> = store
        .list_indexes()?
        .into_iter()
        .filter(|m| !survivors.contains(&(&m.key, &m.generation)))
        .filter(|m| !(options.dry_run && gone.get(&m.key) == Some(&&m.generation)))
        .collect();
    count_refs(store, &relisted, refs)?;
    let grace_cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    // Past the window, an ingestion that started after our listing may rely
    // on a blob we would delete: keep the rest for the next gc.
    let window_open = || times.is_none_or(|t| listed_at.elapsed() < t.window);
    let shards = scan_blobs(store, |blobs| {
        let (mut total, mut removed, mut freed, mut young) = (0u64, 0u64, 0u64, 0u64);
        for blob in blobs {
            total += blob.size;
            if refs.is_referenced(&blob.sha256) {
                continue;
            }
            if blob.modified > grace_cutoff || !window_open() {
                young += 1;
                continue;
            }
            if options.dry_run || store.delete_stale_blob(&blob.sha256, grace)? {
                removed += 1;
                freed += blob.size;
            }
        }
        Ok((total, removed, freed, young))
    })?;
    report.blobs_removed = shards.iter().map(|s| s.1).sum();
    report.blob_bytes_freed = shards.iter().map(|s| s.2).sum();
    report.blobs_in_grace = shards.iter().map(|s| s.3).sum();
    report.grace_secs = grace.as_secs();
    Ok(shards.iter().map(|s| s.0).sum())
}

impl GcReport {
    /// The count, and when it is not 0 why those blobs stay and how to change
    /// that: without it "13296 in grace" after "1 key evicted" reads as a bug.
    fn in_grace(&self) -> String {
        if self.blobs_in_grace == 0 {
            return "0".into();
        }
        format!(
            "{} (unreferenced but written less than {} ago, so kept: ingestions in progress may need them; \
--grace sets the period, e.g. --grace 0s when no server writes to this store)",
            self.blobs_in_grace,
            human_duration(self.grace_secs)
        )
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for e in &self.evicted {
            let _ = writeln!(
                out,
                "{verb} key {} ({}, last used {}, {})",
                e.key,
                e.manager,
                human_time(e.last_used),
                e.reason.replace('_', "-")
            );
        }
        let rows = [
            (
                "keys evicted",
                format!("{} of {}", self.evicted.len(), self.keys_before),
            ),
            ("kept (in use)", self.kept_in_use.to_string()),
            ("blobs removed", self.blobs_removed.to_string()),
            ("blobs in grace", self.in_grace()),
            (
                "bytes freed",
                format!("{} ({})", self.bytes_freed, human_bytes(self.bytes_freed)),
            ),
            ("size before", human_bytes(self.size_before)),
            ("size after", human_bytes(self.size_after)),
        ];
        for (label, value) in rows {
            let _ = writeln!(out, "{label:<14}  {value}");
        }
        if self.dry_run {
            out.push_str("dry run: nothing was deleted\n");
        }
        out
    }
}

/// `10m`, `90m`, `45s`: one unit, the largest that divides it, as `--grace`
/// takes it.
fn human_duration(secs: u64) -> String {
    let (size, unit) = [(86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|(size, _)| secs > 0 && secs.is_multiple_of(*size))
        .unwrap_or((1, "s"));
    format!("{}{unit}", secs / size)
}
