//! The directory store's maintenance capabilities: listings from `readdir`
//! plus one `stat` per entry, last use as the index file's mtime, and the
//! ingestion/sweep lock as `flock` on `<cache-dir>/gc.lock` (which works
//! between the server and an `admin gc` process, and between threads, since
//! every acquisition opens the file anew).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use super::{BlobMeta, DirStore, Generation, IndexMeta, StoreLock};
use crate::protocol::{Key, Sha256};

pub const LOCK_FILE: &str = "gc.lock";

/// How an acquisition holds the lock file.
#[derive(Clone, Copy)]
enum Mode {
    Shared,
    Exclusive,
}

/// Blocks until the `flock` (std's `File::lock*`, which is `flock` on Linux)
/// is granted on a fresh descriptor of the lock file.
fn lock(root: &Path, mode: Mode) -> io::Result<StoreLock> {
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join(LOCK_FILE))?;
    loop {
        let granted = match mode {
            Mode::Shared => file.lock_shared(),
            Mode::Exclusive => file.lock(),
        };
        match granted {
            Ok(()) => return Ok(StoreLock::holding(file)),
            // std does not retry a wait a signal cut short; we do.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub fn lock_shared(root: &Path) -> io::Result<StoreLock> {
    lock(root, Mode::Shared)
}

pub fn lock_exclusive(root: &Path) -> io::Result<StoreLock> {
    lock(root, Mode::Exclusive)
}

/// Sets the index's mtime to now. Opening for writing without truncating and
/// `futimens` change metadata only: no data block is rewritten.
pub fn touch(path: &Path) -> io::Result<()> {
    File::options()
        .write(true)
        .open(path)?
        .set_modified(SystemTime::now())
}

fn read_dir_or_empty(dir: &Path) -> io::Result<Option<fs::ReadDir>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `indexes/aa/<key>.<manager>.<versions>.index`, stat'ed but not read.
pub fn list_indexes(root: &Path) -> io::Result<Vec<IndexMeta>> {
    let mut out = Vec::new();
    let Some(shards) = read_dir_or_empty(&root.join("indexes"))? else {
        return Ok(out);
    };
    for shard in shards {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        let Some(entries) = read_dir_or_empty(&shard.path())? else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".index") else {
                continue;
            };
            let mut parts = stem.splitn(3, '.');
            let (Some(key), Some(manager)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(key) = Key::parse(key) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                // Deleted since readdir (gc, repair): not an index any more.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(IndexMeta {
                key,
                manager: manager.to_string(),
                name: name.clone(),
                size: meta.len(),
                last_used: meta.modified()?,
                generation: Generation::new(meta.ino()),
            });
        }
    }
    out.sort_by_key(|m| m.key);
    Ok(out)
}

/// `objects/<shard>/*/<sha256>`; names that are not a sha256 in the right
/// place are skipped (nothing else is ever renamed into `objects/`).
pub fn list_blobs(root: &Path, shard: u8) -> io::Result<Vec<BlobMeta>> {
    let mut out = Vec::new();
    let first = format!("{shard:02x}");
    let Some(subdirs) = read_dir_or_empty(&root.join("objects").join(&first))? else {
        return Ok(out);
    };
    for sub in subdirs {
        let sub = sub?;
        let Some(entries) = read_dir_or_empty(&sub.path())? else {
            continue;
        };
        let second = sub.file_name().to_string_lossy().into_owned();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(sha256) = Sha256::parse(&name) else {
                continue;
            };
            if !name.starts_with(&first) || name[2..4] != second {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(BlobMeta {
                sha256,
                size: meta.len(),
                modified: meta.modified()?,
            });
        }
    }
    Ok(out)
}

/// Deletes the listed index only if it is still the same file (same inode)
/// with the same mtime: a key served or reinstalled since the listing stays.
pub fn delete_listed_index(store: &DirStore, meta: &IndexMeta) -> io::Result<bool> {
    let path = store
        .root()
        .join("indexes")
        .join(&meta.key.to_string()[0..2])
        .join(&meta.name);
    let current = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if Generation::new(current.ino()) != meta.generation || current.modified()? != meta.last_used {
        return Ok(false);
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Cached bundles under `bundles/`: none are written by this version, but a
/// store may hold some (older versions, operators).
pub fn bundle_bytes(root: &Path) -> io::Result<u64> {
    let dir = root.join("bundles");
    if !dir.exists() {
        return Ok(0);
    }
    let mut total = 0;
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(io::Error::from)?;
        if entry.file_type().is_file() {
            total += entry.metadata().map_err(io::Error::from)?.len();
        }
    }
    Ok(total)
}

pub fn delete_bundle(root: &Path, key: &Key) -> io::Result<u64> {
    let key = &key.to_string();
    let path = root
        .join("bundles")
        .join(&key[0..2])
        .join(format!("{key}.zip"));
    let size = match fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    let freed = match fs::remove_file(&path) {
        Ok(()) => size,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e),
    };
    // And the server's kept bundles, one per index generation.
    let dir = root.join("bundles").join(&key[0..2]);
    Ok(freed + super::bundle_cache::remove_other_generations(&dir, key, None)?)
}

#[cfg(test)]
mod tests {
    use std::fs::{File, TryLockError};

    use super::{LOCK_FILE, lock_exclusive, lock_shared};

    fn probe(root: &std::path::Path) -> File {
        File::options()
            .write(true)
            .open(root.join(LOCK_FILE))
            .unwrap()
    }

    /// Ingestions share the lock, gc takes it alone: the kinds must not swap.
    #[test]
    fn shared_admits_shared_and_exclusive_admits_none() {
        let root = tempfile::tempdir().unwrap();
        let shared = lock_shared(root.path()).unwrap();
        assert!(probe(root.path()).try_lock_shared().is_ok());
        assert!(matches!(
            probe(root.path()).try_lock(),
            Err(TryLockError::WouldBlock)
        ));
        drop(shared);
        let exclusive = lock_exclusive(root.path()).unwrap();
        assert!(matches!(
            probe(root.path()).try_lock_shared(),
            Err(TryLockError::WouldBlock)
        ));
        drop(exclusive);
        assert!(probe(root.path()).try_lock().is_ok());
    }
}
