//! Putting a finished tree in place of the old one so that, whenever the
//! process dies, the project holds either the old tree or the new one whole;
//! and tidying what a killed run left beside it.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

use crate::client::ClientError;

/// `.node_modules.depcache-tmp-XXXX`: the tree being extracted.
pub fn staging_prefix(root: &str) -> String {
    format!(".{root}.depcache-tmp-")
}

/// `.node_modules.depcache-dl-XXXX.zip`: the bundle being downloaded.
pub fn download_prefix(root: &str) -> String {
    format!(".{root}.depcache-dl-")
}

/// `.node_modules.depcache-old-XXXX`: the old tree, between two renames where
/// the atomic exchange is not available.
fn aside_prefix(root: &str) -> String {
    format!(".{root}.depcache-old-")
}

/// Replaces `target` with the staged tree. On Linux one `renameat2` exchange
/// does it atomically; elsewhere (or on file systems without it) the old tree
/// is renamed aside first and put back if the second rename fails.
pub fn swap_in(staging: TempDir, target: &Path) -> Result<(), ClientError> {
    let fail = |source: std::io::Error| ClientError::SwapIn {
        target: target.to_path_buf(),
        source,
    };
    let existing = fs::symlink_metadata(target).ok();
    if existing
        .as_ref()
        .is_some_and(|m| m.file_type().is_symlink())
    {
        warn_replacing_link(target);
    }
    if existing.is_none() {
        let staged = staging.keep();
        return fs::rename(&staged, target).map_err(|e| {
            let _ = fs::remove_dir_all(&staged);
            fail(e)
        });
    }
    match exchange(staging.path(), target) {
        // The staging path now holds the old tree.
        Ok(()) => {
            remove_tree(&staging.keep());
            Ok(())
        }
        Err(e) if unsupported(&e) => swap_by_renames(staging, target).map_err(fail),
        Err(e) => Err(fail(e)),
    }
}

/// A symlinked `node_modules`/`vendor` is replaced by the restored folder,
/// and only the link goes (its target is never read or written); said on
/// stderr, since the tree no longer lands where the link pointed.
pub(super) fn warn_replacing_link(target: &Path) {
    let to = fs::read_link(target)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into());
    tracing::warn!(
        "{} is a symlink (to {to}); replacing the link with a real folder and leaving {to} untouched",
        target.display()
    );
}

fn swap_by_renames(staging: TempDir, target: &Path) -> std::io::Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    let root = file_name(target);
    let aside = tempfile::Builder::new()
        .prefix(&aside_prefix(&root))
        .tempdir_in(parent)?;
    let aside_path = aside.keep();
    fs::rename(target, &aside_path)?;
    if let Err(e) = fs::rename(staging.path(), target) {
        let _ = fs::rename(&aside_path, target);
        return Err(e);
    }
    drop(staging);
    remove_tree(&aside_path);
    Ok(())
}

/// Deletes an old tree (or whatever stands at `path`, a symlink only as a
/// link: see `remove`). A failure only costs disk space, so it is a warning.
pub(super) fn remove_tree(path: &Path) {
    if let Err(e) = super::remove::remove_tree(path) {
        tracing::warn!("could not delete the old tree {}: {e}", path.display());
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

fn unsupported(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Unsupported
        || matches!(
            e.raw_os_error(),
            Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
        )
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An exclusive `flock` on the project folder itself (no lock file left in
/// the user's tree), released when the returned handle drops. Waits for a
/// concurrent fetch in the same project to finish.
pub fn lock_project(project: &Path) -> Result<std::fs::File, ClientError> {
    let dir = std::fs::File::open(project).map_err(|source| ClientError::OpenProject {
        project: project.to_path_buf(),
        source,
    })?;
    loop {
        match dir.lock() {
            Ok(()) => return Ok(dir),
            // std does not retry a wait a signal cut short; we do.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ClientError::LockProject {
                    project: project.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Removes what a killed run left in `project`: staging trees and partial
/// downloads. An old tree set aside is put back if the target is missing
/// (the run died between the two renames), deleted otherwise.
/// A checkout may hold any of these names as a symlink: only the link goes.
pub fn clean_leftovers(project: &Path, root: &str) {
    let Ok(entries) = fs::read_dir(project) else {
        return;
    };
    let target = project.join(root);
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with(&staging_prefix(root)) {
            remove_tree(&path);
        } else if name.starts_with(&download_prefix(root)) {
            let _ = fs::remove_file(&path);
        } else if name.starts_with(&aside_prefix(root)) {
            // Only a real folder is put back: a symlink by that name was
            // never set aside by us, and in place it would be written through.
            let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir
                && fs::symlink_metadata(&target).is_err()
                && fs::rename(&path, &target).is_ok()
            {
                continue;
            }
            remove_tree(&path);
        } else {
            continue;
        }
        tracing::info!("removed {} left by an interrupted run", path.display());
    }
}
