//! Deleting a tree without ever following a symlink, even one swapped in
//! while the delete runs. A project checkout is untrusted: any name the
//! client deletes (`node_modules`, a leftover `.node_modules.depcache-*`, an
//! entry deep inside an old tree) may be a link to `$HOME`.
//!
//! The top name is checked with `lstat`; a symlink or file there is unlinked
//! as such. Folders are opened relative to their parent's descriptor with
//! `O_DIRECTORY | O_NOFOLLOW` and their entries unlinked relative to that
//! descriptor, so no path is resolved twice: a folder replaced by a link after
//! it was listed fails to open (`ELOOP`/`ENOTDIR`) and is unlinked as a link.
//! The same guarantee std's `remove_dir_all` gives on Linux ("does not follow
//! symbolic links", TOCTOU-safe since 1.58.1,
//! <https://doc.rust-lang.org/std/fs/fn.remove_dir_all.html>), kept here
//! because the two top levels are deleted in parallel (see `tree::io_pool`).

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, openat, statat, unlinkat};
use rustix::io::Errno;

use super::tree::io_pool;

/// Removes whatever `path` names: a folder with everything in it, or the
/// file or symlink itself. Never reads or writes through a symlink.
/// Nothing at `path` is not an error.
pub(super) fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    let top = match open_dir(rustix::fs::CWD, path) {
        Ok(fd) => fd,
        // Replaced by a link or a file since the check: unlink that.
        Err(Errno::LOOP | Errno::NOTDIR) => return fs::remove_file(path),
        Err(e) => return Err(e.into()),
    };
    // Two levels listed up front, so the pool gets many small jobs (scopes
    // like `@babel` hold hundreds of packages).
    let mut top_files: Vec<CString> = Vec::new();
    let mut subdirs: Vec<(CString, OwnedFd)> = Vec::new();
    for (name, is_dir) in list(top.as_fd())? {
        if !is_dir {
            top_files.push(name);
            continue;
        }
        match open_dir(top.as_fd(), &name) {
            Ok(fd) => subdirs.push((name, fd)),
            Err(Errno::LOOP | Errno::NOTDIR) => top_files.push(name),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut jobs: Vec<(BorrowedFd<'_>, CString, bool)> = top_files
        .into_iter()
        .map(|name| (top.as_fd(), name, false))
        .collect();
    for (_, fd) in &subdirs {
        for (name, is_dir) in list(fd.as_fd())? {
            jobs.push((fd.as_fd(), name, is_dir));
        }
    }
    io_pool().install(|| {
        jobs.par_iter()
            .try_for_each(|(parent, name, is_dir)| remove_at(*parent, name, *is_dir))?;
        subdirs
            .par_iter()
            .try_for_each(|(name, _)| gone_ok(unlinkat(top.as_fd(), name, AtFlags::REMOVEDIR)))
    })?;
    drop(subdirs);
    drop(top);
    // rmdir never follows its last component: a link put there now fails.
    match fs::remove_dir(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Removes `name` in the folder `parent`: a folder recursively, anything
/// else (symlinks included) by unlinking the name.
fn remove_at(parent: BorrowedFd<'_>, name: &CStr, is_dir: bool) -> io::Result<()> {
    if !is_dir {
        return match unlinkat(parent, name, AtFlags::empty()) {
            // A folder put there since it was listed (Linux says EISDIR,
            // POSIX allows EPERM): delete it as one, still without following.
            Err(Errno::ISDIR | Errno::PERM) => remove_at(parent, name, true),
            other => gone_ok(other),
        };
    }
    let dir = match open_dir(parent, name) {
        Ok(fd) => fd,
        Err(Errno::LOOP | Errno::NOTDIR) => {
            return gone_ok(unlinkat(parent, name, AtFlags::empty()));
        }
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // Listed whole first so that each level holds one descriptor, not two.
    for (child, child_is_dir) in list(dir.as_fd())? {
        remove_at(dir.as_fd(), &child, child_is_dir)?;
    }
    drop(dir);
    gone_ok(unlinkat(parent, name, AtFlags::REMOVEDIR))
}

/// A folder, never through a symlink.
fn open_dir<P: rustix::path::Arg>(parent: impl AsFd, path: P) -> Result<OwnedFd, Errno> {
    openat(
        parent,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Names in the folder `dir` and whether each is a folder (itself, not a
/// link to one).
fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(CString, bool)>> {
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        let kind = match entry.file_type() {
            // Some file systems leave d_type empty; lstat-like then.
            FileType::Unknown => match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => FileType::from_raw_mode(stat.st_mode),
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(e.into()),
            },
            kind => kind,
        };
        names.push((name.to_owned(), kind == FileType::Directory));
    }
    Ok(names)
}

/// Someone else removing an entry first is as good as removing it.
fn gone_ok(result: Result<(), Errno>) -> io::Result<()> {
    match result {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A victim folder outside the tree, with a file two levels down.
    fn victim(dir: &Path) -> std::path::PathBuf {
        let victim = dir.join("victim");
        fs::create_dir_all(victim.join("sub/deeper")).unwrap();
        fs::write(victim.join("keep.txt"), "keep").unwrap();
        fs::write(victim.join("sub/deeper/keep.txt"), "keep").unwrap();
        victim
    }

    fn assert_whole(victim: &Path) {
        assert_eq!(fs::read(victim.join("keep.txt")).unwrap(), b"keep");
        assert_eq!(
            fs::read(victim.join("sub/deeper/keep.txt")).unwrap(),
            b"keep"
        );
    }

    #[test]
    fn a_symlink_at_the_top_is_unlinked_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let link = dir.path().join("node_modules");
        symlink(&victim, &link).unwrap();
        remove_tree(&link).unwrap();
        assert!(fs::symlink_metadata(&link).is_err());
        assert_whole(&victim);
    }

    #[test]
    fn symlinks_at_every_level_are_unlinked_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = victim(dir.path());
        let tree = dir.path().join("tree");
        fs::create_dir_all(tree.join("@scope/pkg/lib/deep")).unwrap();
        fs::write(tree.join("@scope/pkg/lib/deep/index.js"), "x").unwrap();
        symlink(&victim, tree.join("top-link")).unwrap();
        symlink(&victim, tree.join("@scope/second-link")).unwrap();
        symlink(&victim, tree.join("@scope/pkg/lib/deep/link")).unwrap();
        symlink(victim.join("keep.txt"), tree.join("@scope/pkg/file-link")).unwrap();
        remove_tree(&tree).unwrap();
        assert!(fs::symlink_metadata(&tree).is_err());
        assert_whole(&victim);
    }

    #[test]
    fn nothing_there_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove_tree(&dir.path().join("absent")).unwrap();
    }
}
