//! Seal records (`DIR/seals`): for each object, the stat (device, inode,
//! size, ctime) it had when this client last knew its bytes were right, so a
//! warm restore links an object after one `lstat` instead of hashing it.
//!
//! Why ctime: no one can set it. Every write, truncate, chmod or `utimensat`
//! (what `cp -p` and `touch -r` use to put the sealed mtime back) moves it to
//! the current time; so does every link and unlink, which is why a record is
//! taken right after this client's own link, and why an object another
//! project linked or unlinked (an `rm -rf node_modules`) since is hashed once
//! more. A record whose stat differs in any field is no seal: the object is
//! hashed, exactly as without records. A missing, short, foreign or
//! corrupt file (checked by its own sha256) is an empty table.
//!
//! Two records come from this run: `verified` (hashed now, and its ctime was
//! older than the hash by more than the clock's granularity, so a write
//! during or after the hash cannot have kept the same ctime) and `linked`
//! (the stat right after this run linked an object it trusted an `lstat`
//! earlier, when the link changed exactly what a link changes). docs/
//! decisions.md has the argument and the window it leaves.

use std::collections::{HashMap, HashSet};
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"depcache seals 1\n";
/// sha256, mode, device, inode, size, ctime seconds, ctime nanoseconds.
const RECORD: usize = 32 + 2 + 8 + 8 + 8 + 8 + 4;
const CHECKSUM: usize = 32;

/// File timestamps come from a clock that advances in ticks (a jiffy, at
/// most 10 ms) and may lag the clock `SystemTime` reads by one: a ctime this
/// much older than the start of a hash cannot be what a write made after it
/// started.
pub(super) const GRANULARITY: Duration = Duration::from_millis(50);

/// An object by content and mode, as its name says.
pub(super) type Key = ([u8; 32], u16);

/// What a record compares: any change to the inode moves `ctime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    ctime: i64,
    ctime_nsec: u32,
}

impl Stat {
    pub fn of(meta: &Metadata) -> Self {
        Stat {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec().clamp(0, 999_999_999) as u32,
        }
    }

    fn ctime(&self) -> SystemTime {
        let nanos = Duration::new(self.ctime.unsigned_abs(), self.ctime_nsec);
        if self.ctime >= 0 {
            SystemTime::UNIX_EPOCH + nanos
        } else {
            SystemTime::UNIX_EPOCH
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Seals {
    file: PathBuf,
    /// As loaded when the store was opened.
    known: HashMap<Key, Stat>,
    /// Found or made by this run; written by `save`.
    fresh: Mutex<HashMap<Key, Stat>>,
    /// Records that did not match: dropped by `save`.
    stale: Mutex<HashSet<Key>>,
    /// For the log: objects linked on their record, objects hashed.
    sealed_links: AtomicU64,
    hashes: AtomicU64,
}

impl Seals {
    pub fn load(dir: &Path) -> Self {
        let file = dir.join("seals");
        let known = match read_table(&file) {
            Ok(known) => known,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::debug!("seal records ignored (every object is hashed): {e}");
                }
                HashMap::new()
            }
        };
        Seals {
            file,
            known,
            ..Seals::default()
        }
    }

    /// `meta` (an `lstat` of the object) is exactly what a record of this
    /// run or of the table says.
    pub fn trusts(&self, key: &Key, meta: &Metadata) -> bool {
        let now = Stat::of(meta);
        if let Some(fresh) = lock(&self.fresh).get(key) {
            return *fresh == now;
        }
        match self.known.get(key) {
            Some(known) if *known == now => true,
            Some(_) => {
                lock(&self.stale).insert(*key);
                false
            }
            None => false,
        }
    }

    /// The object was hashed and found right, with `before` its stat when
    /// the hash began at `started` and `after` its stat once done. Recorded
    /// only when the ctime was already old then (see `GRANULARITY`).
    pub fn hashed(&self, key: Key, before: &Metadata, after: &Metadata, started: SystemTime) {
        let (before, after) = (Stat::of(before), Stat::of(after));
        if before == after && before.ctime() + GRANULARITY < started {
            lock(&self.fresh).insert(key, before);
        }
    }

    /// This run linked a trusted object (`pre`, an `lstat` just before) and
    /// `post` is its stat just after: recorded when the link changed only
    /// what a link changes (one more link, a new ctime).
    pub fn linked(&self, key: Key, pre: &Metadata, post: &Metadata) -> bool {
        let same = post.file_type().is_file()
            && post.dev() == pre.dev()
            && post.ino() == pre.ino()
            && post.len() == pre.len()
            && post.mode() == pre.mode()
            && post.mtime() == pre.mtime()
            && post.mtime_nsec() == pre.mtime_nsec()
            && post.nlink() == pre.nlink() + 1;
        if same {
            lock(&self.fresh).insert(key, Stat::of(post));
            self.sealed_links.fetch_add(1, Ordering::Relaxed);
        }
        same
    }

    /// One more object hashed (for the log line `save` writes).
    pub fn count_hash(&self) {
        self.hashes.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the table: what it holds on disk now (another run may have
    /// saved since this one loaded it), less the records found stale, plus
    /// this run's. Best effort: a table not written costs hashes, never a
    /// wrong link.
    pub fn save(&self, tmp_dir: &Path) {
        tracing::debug!(
            "local store: {} objects linked on their seal record, {} hashed",
            self.sealed_links.load(Ordering::Relaxed),
            self.hashes.load(Ordering::Relaxed)
        );
        let fresh = lock(&self.fresh);
        let stale = lock(&self.stale);
        if fresh.is_empty() && stale.is_empty() {
            return;
        }
        let mut table = read_table(&self.file).unwrap_or_default();
        for key in stale.iter() {
            table.remove(key);
        }
        table.extend(fresh.iter().map(|(k, v)| (*k, *v)));
        if let Err(e) = write_table(&self.file, tmp_dir, &table) {
            tracing::warn!("could not save the local store's seal records: {e}");
        }
    }
}

/// Drops the records of objects that are gone or are another inode now (a
/// prune removed them, a verify replaced them): the table would otherwise
/// grow with every object this store ever held. Run under the exclusive
/// store lock (no fetch is saving meanwhile). Best effort, like `save`.
pub(super) fn forget_missing(store: &Path) {
    let file = store.join("seals");
    let Ok(mut table) = read_table(&file) else {
        return;
    };
    let before = table.len();
    table.retain(|(sha, mode), stat| {
        let sha = crate::protocol::Sha256::from_bytes(*sha);
        let object = super::object_path(store, &sha, u32::from(*mode));
        fs::symlink_metadata(object).is_ok_and(|m| m.dev() == stat.dev && m.ino() == stat.ino)
    });
    if table.len() == before {
        return;
    }
    if let Err(e) = write_table(&file, &store.join("tmp"), &table) {
        tracing::warn!("could not trim the local store's seal records: {e}");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The table in `file`; an error for anything but a whole, intact table.
fn read_table(file: &Path) -> io::Result<HashMap<Key, Stat>> {
    let mut bytes = Vec::new();
    fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file)?
        .read_to_end(&mut bytes)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if bytes.len() < MAGIC.len() + CHECKSUM || !bytes.starts_with(MAGIC) {
        return Err(bad("not a seal table"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    if Sha256::digest(body).as_slice() != sum {
        return Err(bad("its checksum does not match (damaged)"));
    }
    let records = &body[MAGIC.len()..];
    if records.len() % RECORD != 0 {
        return Err(bad("its length is not a whole number of records"));
    }
    let mut table = HashMap::with_capacity(records.len() / RECORD);
    for r in records.chunks_exact(RECORD) {
        let u64_at = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().expect("8 bytes"));
        let sha: [u8; 32] = r[..32].try_into().expect("32 bytes");
        let mode = u16::from_le_bytes([r[32], r[33]]);
        let stat = Stat {
            dev: u64_at(34),
            ino: u64_at(42),
            size: u64_at(50),
            ctime: u64_at(58) as i64,
            ctime_nsec: u32::from_le_bytes(r[66..70].try_into().expect("4 bytes")),
        };
        table.insert((sha, mode), stat);
    }
    Ok(table)
}

fn write_table(file: &Path, tmp_dir: &Path, table: &HashMap<Key, Stat>) -> io::Result<()> {
    let mut body = Vec::with_capacity(MAGIC.len() + table.len() * RECORD + CHECKSUM);
    body.extend_from_slice(MAGIC);
    for ((sha, mode), s) in table {
        body.extend_from_slice(sha);
        body.extend_from_slice(&mode.to_le_bytes());
        for n in [s.dev, s.ino, s.size, s.ctime as u64] {
            body.extend_from_slice(&n.to_le_bytes());
        }
        body.extend_from_slice(&s.ctime_nsec.to_le_bytes());
    }
    let sum = Sha256::digest(&body);
    body.extend_from_slice(&sum);
    let mut tmp = tempfile::NamedTempFile::new_in(tmp_dir)?;
    tmp.write_all(&body)?;
    // Renamed over the name: a link planted there is replaced, not followed.
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// The key of an object name's parts.
pub(super) fn key(sha256: &crate::protocol::Sha256, mode: u32) -> Key {
    (*sha256.as_bytes(), (mode & 0o777) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_objects_gone_or_replaced_are_forgotten() {
        let store = tempfile::tempdir().unwrap();
        let dir = store.path();
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let write = |hex: &str| {
            let object = dir
                .join("objects")
                .join(&hex[..2])
                .join(format!("{hex}.644"));
            fs::create_dir_all(object.parent().unwrap()).unwrap();
            fs::write(&object, hex).unwrap();
            object
        };
        let (kept, gone, replaced) = ("aa".repeat(32), "bb".repeat(32), "cc".repeat(32));
        let mut table = HashMap::new();
        for hex in [&kept, &gone, &replaced] {
            let object = write(hex);
            let sha: [u8; 32] =
                std::array::from_fn(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap());
            table.insert(
                (sha, 0o644),
                Stat::of(&fs::symlink_metadata(&object).unwrap()),
            );
        }
        write_table(&dir.join("seals"), &dir.join("tmp"), &table).unwrap();
        fs::remove_file(dir.join(format!("objects/bb/{gone}.644"))).unwrap();
        // Another inode under the same name: its record is no seal for it.
        let path = dir.join(format!("objects/cc/{replaced}.644"));
        fs::write(dir.join("tmp/new"), "x").unwrap();
        fs::rename(dir.join("tmp/new"), &path).unwrap();

        forget_missing(dir);
        let left: Vec<u8> = read_table(&dir.join("seals"))
            .unwrap()
            .keys()
            .map(|(sha, _)| sha[0])
            .collect();
        assert_eq!(left, [0xaa]);
    }

    #[test]
    fn a_damaged_or_foreign_table_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("o");
        fs::write(&object, b"x").unwrap();
        let meta = fs::metadata(&object).unwrap();
        let k = key(&crate::protocol::Sha256::from_bytes([0xab; 32]), 0o644);
        let mut table = HashMap::new();
        table.insert(k, Stat::of(&meta));
        write_table(&dir.path().join("seals"), dir.path(), &table).unwrap();
        assert!(Seals::load(dir.path()).trusts(&k, &meta));

        // One byte changed anywhere: nothing is trusted.
        let file = dir.path().join("seals");
        let good = fs::read(&file).unwrap();
        for at in [0, MAGIC.len() + 40, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            fs::write(&file, &bad).unwrap();
            assert!(!Seals::load(dir.path()).trusts(&k, &meta), "byte {at}");
        }
        fs::write(&file, &good[..good.len() - 5]).unwrap();
        assert!(!Seals::load(dir.path()).trusts(&k, &meta));
    }

    #[test]
    fn only_an_old_ctime_or_a_plain_link_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("o");
        fs::write(&object, b"x").unwrap();
        let k = key(&crate::protocol::Sha256::from_bytes([0xcd; 32]), 0o644);
        let seals = Seals::load(dir.path());
        let meta = fs::metadata(&object).unwrap();
        // Hashed the moment it changed: a write in the same tick could hide.
        seals.hashed(k, &meta, &meta, SystemTime::now());
        assert!(!seals.trusts(&k, &meta));
        seals.hashed(k, &meta, &meta, SystemTime::now() + GRANULARITY * 2);
        assert!(seals.trusts(&k, &meta));

        // One link, nothing else: recorded.
        let pre = fs::symlink_metadata(&object).unwrap();
        fs::hard_link(&object, dir.path().join("tree1")).unwrap();
        let post = fs::symlink_metadata(&object).unwrap();
        assert!(seals.linked(k, &pre, &post));
        assert!(seals.trusts(&k, &post));
        // Two links (another run linked it too): not.
        let pre = post;
        fs::hard_link(&object, dir.path().join("tree2")).unwrap();
        fs::hard_link(&object, dir.path().join("tree3")).unwrap();
        let post = fs::symlink_metadata(&object).unwrap();
        assert!(!seals.linked(k, &pre, &post));
        assert!(!seals.trusts(&k, &post), "the record is the older stat");

        // Saved and loaded: the same trust; a chmod since is a stale record.
        seals.save(dir.path());
        let loaded = Seals::load(dir.path());
        assert!(loaded.trusts(&k, &pre));
        fs::set_permissions(&object, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        assert!(!loaded.trusts(&k, &fs::symlink_metadata(&object).unwrap()));
    }
}
