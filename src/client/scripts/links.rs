//! Private copies before scripts run: with `--local-store`, restored files are
//! hard links into the store, so a script writing into one in place would
//! change the store's object for every later tree. Each file that shares its
//! inode is replaced by a copy with the same mode before any script can write.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path};

use super::ScriptError;

/// `rel` under `dir` when no component on the way is a symlink: a path the
/// lockfile names must not lead us out of the tree we restored.
pub fn real_dir(dir: &Path, rel: &str) -> Option<std::path::PathBuf> {
    let mut path = dir.to_path_buf();
    for part in Path::new(rel).components() {
        let Component::Normal(part) = part else {
            return None;
        };
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            _ => return None,
        }
    }
    Some(path)
}

/// Replaces every regular file under `root` whose inode has more than one
/// link by a private copy. Follows no symlink (the walk lists them as what
/// they are and leaves them alone). Returns how many files were copied.
pub fn make_private(root: &Path) -> Result<u64, ScriptError> {
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| ScriptError::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(|e| ScriptError::Io {
            path: entry.path().to_path_buf(),
            source: e.into(),
        })?;
        if meta.nlink() > 1 {
            copy_over(entry.path(), meta.permissions().mode() & 0o7777).map_err(|source| {
                ScriptError::Io {
                    path: entry.path().to_path_buf(),
                    source,
                }
            })?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Copies `path` to a new sibling and renames it over `path`: the old inode
/// (the store's) is never opened for writing.
fn copy_over(path: &Path, mode: u32) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = parent.join(format!(".{name}.depcache-private-{}", std::process::id()));
    let result = (|| {
        let mut from = File::open(path)?;
        let mut to = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        io::copy(&mut from, &mut to)?;
        // The umask must not decide the mode: set it exactly once written.
        to.set_permissions(fs::Permissions::from_mode(mode))?;
        drop(to);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_files_get_private_copies_and_the_original_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("object");
        fs::write(&store, b"stored").unwrap();
        fs::set_permissions(&store, fs::Permissions::from_mode(0o755)).unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir_all(tree.join("pkg")).unwrap();
        fs::hard_link(&store, tree.join("pkg/bin.js")).unwrap();
        fs::write(tree.join("pkg/own.txt"), b"own").unwrap();
        std::os::unix::fs::symlink(&store, tree.join("pkg/link")).unwrap();

        assert_eq!(make_private(&tree).unwrap(), 1);
        let copy = fs::metadata(tree.join("pkg/bin.js")).unwrap();
        assert_eq!(copy.nlink(), 1);
        assert_eq!(copy.permissions().mode() & 0o777, 0o755);
        fs::write(tree.join("pkg/bin.js"), b"changed").unwrap();
        assert_eq!(fs::read(&store).unwrap(), b"stored");
        assert_eq!(fs::metadata(&store).unwrap().nlink(), 1);
        assert!(
            fs::symlink_metadata(tree.join("pkg/link"))
                .unwrap()
                .is_symlink()
        );
    }

    #[test]
    fn real_dir_refuses_symlinked_components() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("node_modules/a")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("node_modules/b")).unwrap();
        assert!(real_dir(dir.path(), "node_modules/a").is_some());
        assert!(real_dir(dir.path(), "node_modules/b").is_none());
        assert!(real_dir(dir.path(), "node_modules/../x").is_none());
        assert!(real_dir(dir.path(), "node_modules/missing").is_none());
    }
}
