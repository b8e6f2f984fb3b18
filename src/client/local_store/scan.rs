//! Listing the store for status, prune and verify: every object's size, link
//! count and last use, and whatever in `objects/` is not an object. Folders
//! are opened relative to their parent with `O_NOFOLLOW` and entries are
//! `lstat`-ed, never followed: a link planted in the store cannot make
//! upkeep read or delete anything outside it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, openat, statat, unlinkat};
use rustix::io::Errno;
use serde::Serialize;

use super::SEALED;

/// One `objects/<bucket>/<sha256>.<mode>` file, as `lstat` saw it.
#[derive(Debug, Clone)]
pub(super) struct Object {
    pub bucket: String,
    pub name: String,
    pub sha256: String,
    pub mode: u32,
    pub size: u64,
    /// More than 1: a tree still on disk links to it ("in use").
    pub nlink: u64,
    /// Last use: every hard link a restore makes (and the rename on entry)
    /// moves it; see docs/client.md.
    pub ctime: (i64, u64),
    pub ino: u64,
    /// The sealing mtime and the mode its name says.
    pub sealed: bool,
}

impl Object {
    pub fn path(&self) -> String {
        format!("objects/{}/{}", self.bucket, self.name)
    }

    /// Still the same file, not linked or otherwise used since the scan.
    pub fn unchanged(&self, now: &Object) -> bool {
        self.ino == now.ino && self.nlink == now.nlink && self.ctime == now.ctime
    }
}

/// Something in `objects/` that is not a sealed object.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Relative to the store folder.
    pub path: String,
    pub problem: String,
}

#[derive(Debug, Default)]
pub(super) struct Scan {
    pub objects: Vec<Object>,
    pub problems: Vec<Problem>,
}

/// `DIR/objects`, never through a symlink.
pub(super) fn open_objects(dir: &Path) -> io::Result<OwnedFd> {
    open_dir(rustix::fs::CWD, dir.join("objects")).map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => io::Error::other(format!(
            "{} is not a folder (a symlink is not followed)",
            dir.join("objects").display()
        )),
        e => e.into(),
    })
}

pub(super) fn open_dir<P: rustix::path::Arg>(parent: impl AsFd, path: P) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Every object and problem under `DIR/objects`.
pub(super) fn scan(dir: &Path) -> io::Result<Scan> {
    let objects = open_objects(dir)?;
    let mut scan = Scan::default();
    for (bucket, kind) in list(objects.as_fd())? {
        let shown = format!("objects/{bucket}");
        let bucket_fd = match kind {
            FileType::Directory if is_bucket(&bucket) => {
                match open_dir(objects.as_fd(), &*bucket) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) => continue,
                    Err(Errno::LOOP | Errno::NOTDIR) => {
                        scan.problem(shown, "not a folder");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            FileType::Directory => {
                scan.problem(shown, "a folder that is no bucket");
                continue;
            }
            _ => {
                scan.problem(shown, "not a folder");
                continue;
            }
        };
        for (name, kind) in list(bucket_fd.as_fd())? {
            let shown = format!("objects/{bucket}/{name}");
            let Some((sha256, mode)) = parse_name(&name).filter(|(sha, _)| sha[..2] == bucket)
            else {
                scan.problem(shown, "not named <sha256>.<mode> in its bucket");
                continue;
            };
            if kind != FileType::RegularFile && kind != FileType::Unknown {
                scan.problem(shown, "not a regular file");
                continue;
            }
            let Some(object) = stat_object(bucket_fd.as_fd(), &bucket, &name)? else {
                continue;
            };
            if object.mode == u32::MAX {
                scan.problem(shown, "not a regular file");
                continue;
            }
            let object = Object {
                sha256,
                mode,
                sealed: object.sealed && object.mode == mode,
                ..object
            };
            if !object.sealed {
                scan.problem(
                    shown,
                    "its mode or sealing mtime changed (written through a tree?)",
                );
            }
            scan.objects.push(object);
        }
    }
    Ok(scan)
}

impl Scan {
    fn problem(&mut self, path: String, problem: &str) {
        self.problems.push(Problem {
            path,
            problem: problem.to_string(),
        });
    }
}

/// `lstat` of `name` in a bucket; `None` when it is gone. A non-regular file
/// comes back with mode `u32::MAX`. `sha256` is left empty, `mode` is the
/// file's own.
#[allow(clippy::unnecessary_cast)] // stat field types differ between targets
pub(super) fn stat_object(
    bucket_fd: BorrowedFd<'_>,
    bucket: &str,
    name: &str,
) -> io::Result<Option<Object>> {
    let st = match statat(bucket_fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let regular = FileType::from_raw_mode(st.st_mode as _) == FileType::RegularFile;
    let mode = st.st_mode as u32 & 0o777;
    Ok(Some(Object {
        bucket: bucket.to_string(),
        name: name.to_string(),
        sha256: String::new(),
        mode: if regular { mode } else { u32::MAX },
        size: st.st_size as u64,
        nlink: st.st_nlink as u64,
        ctime: (st.st_ctime as i64, st.st_ctime_nsec as u64),
        ino: st.st_ino as u64,
        sealed: regular
            && st.st_mtime as i64 == SEALED.as_secs() as i64
            && st.st_mtime_nsec as u64 == 0,
    }))
}

/// Unlinks `name` in the bucket: the name itself, never what a link names.
pub(super) fn unlink(bucket_fd: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match unlinkat(bucket_fd, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `<64 lowercase hex>.<mode in octal, as the store writes it>`.
pub(super) fn parse_name(name: &str) -> Option<(String, u32)> {
    let (sha, mode) = name.split_once('.')?;
    if sha.len() != 64 || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mode = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o777)?;
    (name == format!("{sha}.{mode:o}")).then(|| (sha.to_string(), mode))
}

fn is_bucket(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Names in `dir` with their kind (`Unknown` where the file system does not
/// say; `stat_object` decides then).
fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(String, FileType)>> {
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name: CString = entry.file_name().to_owned();
        if name.as_bytes() == b"." || name.as_bytes() == b".." {
            continue;
        }
        names.push((name.to_string_lossy().into_owned(), entry.file_type()));
    }
    names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

/// Seconds since the epoch, for reports.
pub(super) fn secs(ctime: (i64, u64)) -> u64 {
    ctime.0.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_object_names_parse() {
        let sha = "ab".repeat(32);
        assert_eq!(
            parse_name(&format!("{sha}.644")),
            Some((sha.clone(), 0o644))
        );
        assert_eq!(parse_name(&format!("{sha}.0644")), None);
        assert_eq!(parse_name(&format!("{sha}.1777")), None);
        assert_eq!(parse_name(&format!("{}.644", "AB".repeat(32))), None);
        assert_eq!(parse_name(&format!("{sha}.644.tmp")), None);
        assert_eq!(parse_name("lock"), None);
    }
}
