//! The client's local content store (`fetch --local-store DIR`): verified file
//! contents by sha256, one file per permission mode, which restored trees
//! hard-link to so that a fetch downloads only contents it has never seen.
//!
//! Layout: `DIR/objects/<sha[..2]>/<sha256>.<mode>` (mode in octal, `644`):
//! a hard link shares its inode's mode, so each mode needs its own copy.
//! `DIR/tmp/` holds files being written; they enter `objects/` by rename only,
//! after their sha256 and size matched the index. `DIR/seals` holds the seal
//! records (`seal`).
//!
//! A tree file is the store file (same inode), so an in-place write in
//! `node_modules` changes the store too, and `cp -p` of a same-size file puts
//! back size, mode and even the sealed mtime. Metadata a user can set cannot
//! tell such a write apart, so the seal is the content: an object is hashed
//! before it counts as present, unless its seal record (`seal`: the inode's
//! ctime, which no one can set back, when this client last knew the bytes)
//! still matches; and a link is checked right after it is made, by that
//! record or by hashing it where it now lies. A mismatch makes it missing:
//! fetched again and replaced, never linked. The fixed mtime ([`SEALED`])
//! stays as a cheap first filter for plain writes.

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::tree::{local, verify};
use crate::client::ClientError;
use crate::protocol::FileEntry;

mod lock;
pub mod prune;
pub mod scan;
mod seal;
pub mod status;
pub mod verify;

pub use lock::StoreLock;

/// Modes a content of another mode is looked for under (see `provide`):
/// those package trees hold (umask 022 or 002), probed by name rather than
/// by listing a bucket that may hold thousands of objects. Every content a
/// cold store lacks costs these failed lookups, so the list stays short.
const OTHER_MODES: [u32; 4] = [0o644, 0o755, 0o664, 0o775];

/// 2000-01-01T00:00:00Z: the mtime every store file gets on entry. Any write
/// through a hard link sets the mtime to now, which no longer matches.
const SEALED: Duration = Duration::from_secs(946_684_800);

#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
    seals: Arc<seal::Seals>,
}

impl LocalStore {
    /// Opens (creating) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Self, ClientError> {
        for sub in ["objects", "tmp"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|e| {
                ClientError::Failure(format!(
                    "cannot create the local store {}: {e}",
                    path.display()
                ))
            })?;
            // The store writes, links and deletes under these: a link planted
            // in their place would aim all of that at another folder.
            if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                return Err(ClientError::BadFolder(format!(
                    "the local store's {} is not a real folder (a symlink?); remove it or choose another --local-store",
                    path.display()
                )));
            }
        }
        let store = LocalStore {
            dir: dir.to_path_buf(),
            seals: Arc::new(seal::Seals::load(dir)),
        };
        store.clean_tmp();
        Ok(store)
    }

    /// The store lock, shared: held by a fetch from its first look into the
    /// store until its tree is linked and the store filled, so no prune or
    /// verify removes a content it counted on (see `lock`).
    pub fn lock_shared(&self) -> Result<StoreLock, ClientError> {
        StoreLock::shared(&self.dir)
    }

    /// Removes temp files a killed run left. By ctime, which linking, chmod
    /// and sealing all refresh: a file another run is writing right now is
    /// minutes old at most, never an hour.
    fn clean_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        let hour_ago = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs().saturating_sub(3600));
        for entry in entries.flatten() {
            if entry
                .metadata()
                .is_ok_and(|m| (m.ctime().max(0) as u64) < hour_ago)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Where the content of `f` with its mode lives. The sha256 comes from
    /// the server, but as a `Sha256` it is 64 hex digits, safe in a path.
    fn object(&self, f: &FileEntry) -> PathBuf {
        object_path(&self.dir, &f.sha256, f.mode)
    }

    /// The store holds `f`'s content with `f`'s mode: its seal record still
    /// matches, or else hashing it now says so (a write through any tree
    /// linked to it may have changed it).
    pub fn has(&self, f: &FileEntry) -> bool {
        self.check(&self.object(f), f).unwrap_or(false)
    }

    fn check(&self, object: &Path, f: &FileEntry) -> io::Result<bool> {
        let key = seal::key(&f.sha256, f.mode);
        // One lstat, no open: what makes a warm restore cost about a link.
        if let Ok(meta) = fs::symlink_metadata(object)
            && sealed(&meta, f)
            && self.seals.trusts(&key, &meta)
        {
            return Ok(true);
        }
        let Some(file) = open_object(object)? else {
            return Ok(false);
        };
        let before = file.metadata()?;
        if !sealed(&before, f) {
            return Ok(false);
        }
        let started = SystemTime::now();
        self.seals.count_hash();
        let right = hashes_to(&file, f)?;
        if right {
            self.seals.hashed(key, &before, &file.metadata()?, started);
        }
        Ok(right)
    }

    /// Writes this run's seal records (see `seal`) for the next run. Called
    /// once a restore from the store is done; best effort.
    pub fn save_seals(&self) {
        self.seals.save(&self.dir.join("tmp"));
    }

    /// `has`, or else makes it so from the same content stored under another
    /// mode: copied (and hashed on the way) into a file of `f`'s mode, since
    /// a hard link would share the other file's mode. A mode change in a
    /// lockfile then downloads nothing.
    pub fn provide(&self, f: &FileEntry) -> bool {
        if self.has(f) {
            return true;
        }
        let object = self.object(f);
        OTHER_MODES
            .iter()
            .filter(|&&mode| mode != f.mode & 0o777)
            .any(|mode| {
                let sibling = object.with_extension(format!("{mode:o}"));
                open_nofollow(&sibling).is_ok_and(|mut source| {
                    source
                        .metadata()
                        .is_ok_and(|m| m.is_file() && m.len() == f.size)
                        && self.ingest(f, &mut source).is_ok()
                })
            })
    }

    /// Reads `content`, checks its size and sha256 against `f`, and only then
    /// moves it into the store (replacing a damaged copy, if any).
    pub fn ingest(&self, f: &FileEntry, content: &mut dyn Read) -> Result<(), ClientError> {
        let object = self.object(f);
        let tmp_dir = self.dir.join("tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| local(&tmp_dir, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        // One byte past the index size is enough to know the content is too long.
        let mut content = content.take(f.size + 1);
        loop {
            let n = content
                .read(&mut buf)
                .map_err(|e| verify(format!("the content of {:?} is damaged: {e}", f.path)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            written += n as u64;
            tmp.write_all(&buf[..n]).map_err(|e| local(tmp.path(), e))?;
        }
        if written != f.size {
            return Err(verify(format!(
                "{:?} has {written} bytes in the bundle, the index says {}",
                f.path, f.size
            )));
        }
        let actual: [u8; 32] = hasher.finalize().into();
        if actual != *f.sha256.as_bytes() {
            let actual = hex::encode(actual);
            return Err(verify(format!(
                "{:?} does not match its index hash (sha256 {actual}, expected {})",
                f.path, f.sha256
            )));
        }
        seal(tmp.as_file(), f).map_err(|e| local(tmp.path(), e))?;
        self.enter(tmp.into_temp_path(), &object)
    }

    /// Adds a tree file that was verified a moment ago (extracted and hashed
    /// from a bundle): hard-linked into the store when it can be (no copy),
    /// else copied with its hash checked again. Best effort: the caller only
    /// warns on failure.
    pub fn adopt(&self, f: &FileEntry, file: &Path) -> Result<(), ClientError> {
        if self.has(f) {
            // This restore wanted it though it extracted its own copy: a use,
            // for prune's least-recently-used order (ctime, see `place`).
            if let Ok(handle) = open_nofollow(&self.object(f)) {
                let _ = handle.set_permissions(Permissions::from_mode(f.mode & 0o777));
            }
            return Ok(());
        }
        let object = self.object(f);
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("adopt-{}-{}", std::process::id(), unique()));
        if fs::hard_link(file, &tmp).is_ok() {
            // A tree file swapped for a symlink since the restore must not
            // have its target chmod-ed and re-timed by `seal`.
            let checked = open_nofollow(&tmp).and_then(|h| {
                let meta = h.metadata()?;
                if meta.len() != f.size || meta.mode() & 0o777 != f.mode & 0o777 {
                    return Err(io::Error::other("changed since it was extracted"));
                }
                seal(&h, f)
            });
            return match checked {
                Ok(()) => {
                    // Owned from here: dropped on error, it removes the link.
                    let owned = tempfile::TempPath::try_from_path(&tmp).map_err(|e| {
                        let _ = fs::remove_file(&tmp);
                        local(&tmp, e)
                    })?;
                    self.enter(owned, &object)
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    Err(local(file, e))
                }
            };
        }
        let mut source = open_nofollow(file).map_err(|e| local(file, e))?;
        self.ingest(f, &mut source)
    }

    /// Puts `f`'s content at `dest`: a hard link to the store file, or a
    /// reflink or copy where linking fails (another file system, too many
    /// links). Returns the bytes placed.
    pub fn place(&self, f: &FileEntry, dest: &Path) -> Result<u64, ClientError> {
        let object = self.object(f);
        let gone = || {
            verify(format!(
                "the local store's copy of {:?} changed while it was used",
                f.path
            ))
        };
        // Trusted on its seal the instant before linking: then a link that
        // changed only what a link changes needs no hash (see `seal`).
        let key = seal::key(&f.sha256, f.mode);
        let trusted = fs::symlink_metadata(&object)
            .ok()
            .filter(|m| sealed(m, f) && self.seals.trusts(&key, m));
        if fs::hard_link(&object, dest).is_ok() {
            if let Some(pre) = &trusted
                && let Ok(post) = fs::symlink_metadata(dest)
                && self.seals.linked(key, pre, &post)
            {
                return Ok(f.size);
            }
            // The same inode, hashed where it now lies: a write between
            // `has` and this link would otherwise reach the tree unseen.
            self.seals.count_hash();
            return if holds(dest, f).map_err(|e| local(dest, e))? {
                Ok(f.size)
            } else {
                Err(gone())
            };
        }
        let source = open_nofollow(&object).map_err(|e| local(&object, e))?;
        if !source.metadata().is_ok_and(|m| sealed(&m, f)) {
            return Err(gone());
        }
        // A copy makes no link, and a link's ctime is how prune tells last
        // use: the same mode set again moves the ctime just the same.
        let _ = source.set_permissions(Permissions::from_mode(f.mode & 0o777));
        let out = File::options()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(|e| local(dest, e))?;
        if !reflink(&source, &out) {
            drop(out);
            fs::copy(&object, dest).map_err(|e| local(dest, e))?;
        }
        fs::set_permissions(dest, Permissions::from_mode(f.mode & 0o777))
            .map_err(|e| local(dest, e))?;
        // The copy keeps the store's mtime, so it passes `holds` exactly when
        // its bytes are right.
        if !holds(dest, f).map_err(|e| local(dest, e))? {
            return Err(gone());
        }
        Ok(f.size)
    }

    /// Renames a verified, sealed temp file to its object path.
    fn enter(&self, tmp: tempfile::TempPath, object: &Path) -> Result<(), ClientError> {
        if let Some(parent) = object.parent() {
            fs::create_dir_all(parent).map_err(|e| local(parent, e))?;
        }
        tmp.persist(object).map_err(|e| local(object, e.error))
    }
}

/// `dir` holds a local store (upkeep never creates one).
fn check_exists(dir: &Path) -> Result<(), ClientError> {
    match fs::symlink_metadata(dir.join("objects")) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(ClientError::BadFolder(format!(
            "{} holds no local store (no objects folder)",
            dir.display()
        ))),
    }
}

fn upkeep_failed(what: &str, dir: &Path, e: io::Error) -> ClientError {
    ClientError::Failure(format!("store {what} of {} failed: {e}", dir.display()))
}

/// A regular file, `f`'s size and mode, and the mtime set on entry.
fn sealed(meta: &fs::Metadata, f: &FileEntry) -> bool {
    meta.file_type().is_file()
        && meta.len() == f.size
        && meta.mode() & 0o777 == f.mode & 0o777
        && meta.modified().ok() == Some(SystemTime::UNIX_EPOCH + SEALED)
}

/// Where the store in `dir` keeps `sha256`'s content with `mode`:
/// `objects/<first two hex digits>/<sha256>.<mode in octal>`.
fn object_path(dir: &Path, sha256: &crate::protocol::Sha256, mode: u32) -> PathBuf {
    let sha = sha256.to_string();
    dir.join("objects")
        .join(&sha[..2])
        .join(format!("{sha}.{:o}", mode & 0o777))
}

/// `path` is a regular file (not followed if a symlink) with `f`'s size,
/// mode and sealing mtime, and its bytes hash to `f.sha256`.
fn holds(path: &Path, f: &FileEntry) -> io::Result<bool> {
    let Some(file) = open_object(path)? else {
        return Ok(false);
    };
    if !sealed(&file.metadata()?, f) {
        return Ok(false);
    }
    hashes_to(&file, f)
}

/// `path` opened for reading; `None` when it is missing or a symlink (a
/// symlink where an object belongs is no object).
fn open_object(path: &Path) -> io::Result<Option<File>> {
    match open_nofollow(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The bytes of `file` are `f.size` long and hash to `f.sha256`.
fn hashes_to(file: &File, f: &FileEntry) -> io::Result<bool> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read: u64 = 0;
    let mut content = file.take(f.size + 1);
    loop {
        let n = content.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read += n as u64;
    }
    Ok(read == f.size && hasher.finalize()[..] == f.sha256.as_bytes()[..])
}

/// For reading a file that should be regular: never through a symlink, and
/// never blocking on a FIFO put in its place (no effect on regular files).
fn open_nofollow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Sets the mode and the sealing mtime (setting times needs ownership, not a
/// writable handle, so this works on read-only files too).
fn seal(file: &File, f: &FileEntry) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(f.mode & 0o777))?;
    file.set_modified(SystemTime::UNIX_EPOCH + SEALED)
}

/// A process-wide counter for temp names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Shares the blocks of `source` (btrfs, XFS): as cheap as a link, but a
/// separate inode. False where the file system cannot.
#[cfg(target_os = "linux")]
fn reflink(source: &File, out: &File) -> bool {
    rustix::fs::ioctl_ficlone(out, source).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn reflink(_: &File, _: &File) -> bool {
    false
}

#[cfg(test)]
mod tests;
