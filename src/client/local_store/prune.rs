//! `depcache store prune` and the budget `fetch --local-store-max-size`
//! keeps: which contents go (those no tree links to first, then the least
//! recently used) and removing them beside running fetches.
//!
//! The listing is taken without the lock. Each batch of removals then holds
//! the store lock exclusive and `lstat`s every candidate again: one linked,
//! entered or replaced since the listing (link count, ctime or inode moved)
//! is skipped, so a content a fetch counted on is never taken from under it.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::lock::StoreLock;
use super::scan::{self, Object};
use crate::client::ClientError;
use crate::units::human_bytes;

/// Removals per hold of the exclusive lock: a fetch waiting for its shared
/// lock waits for one batch at most (a few milliseconds of unlinks).
const BATCH: usize = 256;

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Only contents no tree links to and unused this long go (instead of
    /// every unused one).
    pub older_than: Option<Duration>,
    /// Then the least recently used go (unused ones first) until the store
    /// is this small.
    pub max_size: Option<u64>,
    pub dry_run: bool,
}

/// The `--json` schema (docs/client.md).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PruneReport {
    pub dry_run: bool,
    pub removed: u64,
    pub removed_bytes: u64,
    /// Of the removed, how many a tree still linked to (their disk space is
    /// freed only once those trees are deleted too).
    pub removed_in_use: u64,
    pub kept: u64,
    pub kept_bytes: u64,
    /// Candidates a fetch used while the prune ran: kept.
    pub skipped: u64,
    pub max_size: Option<u64>,
}

impl PruneReport {
    pub fn render(&self) -> String {
        let verb = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let mut out = format!(
            "{verb} {} contents ({}), {} of them linked by trees on disk\n\
             kept {} contents ({})\n",
            self.removed,
            human_bytes(self.removed_bytes),
            self.removed_in_use,
            self.kept,
            human_bytes(self.kept_bytes),
        );
        if self.skipped > 0 {
            out.push_str(&format!(
                "kept {} that a fetch used meanwhile\n",
                self.skipped
            ));
        }
        if let Some(max) = self.max_size
            && self.kept_bytes > max
        {
            out.push_str(&format!("still over the budget of {}\n", human_bytes(max)));
        }
        out
    }
}

pub fn prune(dir: &Path, options: &PruneOptions) -> Result<PruneReport, ClientError> {
    super::check_exists(dir)?;
    let scan = scan::scan(dir).map_err(|e| super::upkeep_failed("prune", dir, e))?;
    prune_listed(dir, scan.objects, options, SystemTime::now())
        .map_err(|e| super::upkeep_failed("prune", dir, e))
}

/// The contents that go first (no tree links them: all, or those unused
/// for `older_than`), then the rest in the order a budget takes them:
/// unlinked before linked, each least recently used first.
fn order(
    mut objects: Vec<Object>,
    options: &PruneOptions,
    now: SystemTime,
) -> (Vec<Object>, Vec<Object>) {
    objects.sort_by_key(|o| (o.nlink > 1, o.ctime));
    let cutoff = options.older_than.map(|age| {
        now.checked_sub(age)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64)
    });
    let first_goes = |o: &Object| {
        o.nlink <= 1
            && match (cutoff, options.max_size) {
                (Some(cutoff), _) => o.ctime.0 < cutoff,
                // A budget alone takes only what it needs.
                (None, Some(_)) => false,
                (None, None) => true,
            }
    };
    objects.into_iter().partition(first_goes)
}

fn prune_listed(
    dir: &Path,
    objects: Vec<Object>,
    options: &PruneOptions,
    now: SystemTime,
) -> io::Result<PruneReport> {
    let total: u64 = objects.iter().map(|o| o.size).sum();
    let count = objects.len() as u64;
    let (first, rest) = order(objects, options, now);
    let mut report = PruneReport {
        dry_run: options.dry_run,
        max_size: options.max_size,
        ..PruneReport::default()
    };
    let mut remover = Remover::new(dir, options.dry_run)?;
    let mut left = total;
    for o in &first {
        remover.remove(o, &mut report, &mut left)?;
    }
    if let Some(max) = options.max_size {
        for o in &rest {
            if left <= max {
                break;
            }
            remover.remove(o, &mut report, &mut left)?;
        }
    }
    // Its batch lock released first: taken again below, it would wait on itself.
    drop(remover);
    report.kept = count - report.removed;
    report.kept_bytes = left;
    if report.removed > 0 && !options.dry_run {
        // Under the lock: no fetch saves its records while they are trimmed.
        let _lock = StoreLock::exclusive(dir).map_err(|e| io::Error::other(e.to_string()))?;
        super::seal::forget_missing(dir);
    }
    Ok(report)
}

/// Unlinks objects in batches, each under the exclusive store lock.
struct Remover {
    dir: PathBuf,
    objects: OwnedFd,
    dry_run: bool,
    lock: Option<StoreLock>,
    buckets: HashMap<String, OwnedFd>,
    in_batch: usize,
}

impl Remover {
    fn new(dir: &Path, dry_run: bool) -> io::Result<Self> {
        Ok(Remover {
            dir: dir.to_path_buf(),
            objects: scan::open_objects(dir)?,
            dry_run,
            lock: None,
            buckets: HashMap::new(),
            in_batch: 0,
        })
    }

    /// Removes `o` unless a fetch used it since it was listed.
    fn remove(&mut self, o: &Object, report: &mut PruneReport, left: &mut u64) -> io::Result<()> {
        if self.dry_run {
            count(o, report, left);
            return Ok(());
        }
        if self.lock.is_none() {
            let lock =
                StoreLock::exclusive(&self.dir).map_err(|e| io::Error::other(e.to_string()))?;
            self.lock = Some(lock);
        }
        if !self.buckets.contains_key(&o.bucket) {
            match scan::open_dir(self.objects.as_fd(), o.bucket.as_str()) {
                Ok(fd) => {
                    self.buckets.insert(o.bucket.clone(), fd);
                }
                Err(rustix::io::Errno::NOENT) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        let bucket = self.buckets[&o.bucket].as_fd();
        match scan::stat_object(bucket, &o.bucket, &o.name)? {
            Some(now) if o.unchanged(&now) => {
                scan::unlink(bucket, &o.name)?;
                count(o, report, left);
            }
            // Gone already: someone else's removal.
            None => *left -= o.size,
            Some(_) => report.skipped += 1,
        }
        self.in_batch += 1;
        if self.in_batch >= BATCH {
            self.in_batch = 0;
            self.buckets.clear();
            self.lock = None;
        }
        Ok(())
    }
}

fn count(o: &Object, report: &mut PruneReport, left: &mut u64) {
    report.removed += 1;
    report.removed_bytes += o.size;
    if o.nlink > 1 {
        report.removed_in_use += 1;
    }
    *left -= o.size;
}

/// A prune down to `max_size` on its own thread (`--local-store-max-size`),
/// started once the fetch's tree is swapped in and the store filled: the
/// restore is never slower, and the listing sees what the fetch added.
pub struct BackgroundPrune {
    handle: std::thread::JoinHandle<()>,
}

impl BackgroundPrune {
    pub fn start(dir: PathBuf, max_size: u64) -> Self {
        let handle = std::thread::spawn(move || {
            let t = std::time::Instant::now();
            let listed = match scan::scan(&dir) {
                Ok(scan) => scan.objects,
                Err(e) => {
                    tracing::warn!("local store budget not checked: {e}");
                    return;
                }
            };
            let size: u64 = listed.iter().map(|o| o.size).sum();
            if size <= max_size {
                tracing::info!(size, max_size, elapsed = ?t.elapsed(), "local store within budget");
                return;
            }
            let options = PruneOptions {
                max_size: Some(max_size),
                ..PruneOptions::default()
            };
            match prune_listed(&dir, listed, &options, SystemTime::now()) {
                Ok(r) => tracing::info!(
                    removed = r.removed,
                    bytes = r.removed_bytes,
                    kept_bytes = r.kept_bytes,
                    elapsed = ?t.elapsed(),
                    "local store pruned to its budget"
                ),
                Err(e) => tracing::warn!("local store budget not kept: {e}"),
            }
        });
        BackgroundPrune { handle }
    }

    /// Waits for the prune to end (a killed one leaves whole objects only).
    pub fn finish(self) {
        if self.handle.join().is_err() {
            tracing::warn!("the local store prune panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str, nlink: u64, used: i64) -> Object {
        Object {
            bucket: "ab".into(),
            name: name.into(),
            sha256: String::new(),
            mode: 0o644,
            size: 10,
            nlink,
            ctime: (used, 0),
            ino: 0,
            sealed: true,
        }
    }

    fn names(objects: &[Object]) -> Vec<&str> {
        objects.iter().map(|o| o.name.as_str()).collect()
    }

    #[test]
    fn unlinked_go_first_then_least_recently_used() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86400);
        let day = |d: i64| d * 86400;
        let all = vec![
            object("linked-old", 2, day(10)),
            object("free-new", 1, day(99)),
            object("free-old", 1, day(20)),
            object("linked-new", 3, day(98)),
        ];
        let plain = PruneOptions::default();
        let (first, rest) = order(all.clone(), &plain, now);
        assert_eq!(names(&first), ["free-old", "free-new"]);
        assert_eq!(names(&rest), ["linked-old", "linked-new"]);

        let aged = PruneOptions {
            older_than: Some(Duration::from_secs(30 * 86400)),
            ..plain.clone()
        };
        let (first, rest) = order(all.clone(), &aged, now);
        assert_eq!(names(&first), ["free-old"]);
        assert_eq!(names(&rest), ["free-new", "linked-old", "linked-new"]);

        let budget = PruneOptions {
            max_size: Some(15),
            ..plain
        };
        let (first, rest) = order(all, &budget, now);
        assert!(first.is_empty());
        assert_eq!(
            names(&rest),
            ["free-old", "free-new", "linked-old", "linked-new"]
        );
    }
}
