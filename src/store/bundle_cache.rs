//! Assembled bundles of hot keys kept on disk (`bundles/aa/<key>.<generation>.zip`
//! in a directory store), so that their downloads are plain reads of one file
//! instead of opening every blob. A cache: never required for correctness,
//! written whole (fsync, rename) or not at all, valid only for the index
//! generation in its name and at the exact length the layout gives; gc
//! deletes it with its key and counts it in the store's size.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::{DirStore, Store};
use crate::protocol::Key;

impl DirStore {
    fn bundle_dir(&self, key: &str) -> PathBuf {
        self.root().join("bundles").join(&key[0..2])
    }

    /// The assembled bundle of `key` for index `generation`, when kept and
    /// exactly `len` bytes long.
    pub(super) fn open_bundle(
        &self,
        key: &Key,
        generation: u64,
        len: u64,
    ) -> io::Result<Option<File>> {
        let key = &key.to_string();
        if generation == 0 {
            return Ok(None);
        }
        let path = self.bundle_dir(key).join(format!("{key}.{generation}.zip"));
        // Only files this store renamed there; never through a symlink.
        let file = match File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() != len {
            return Ok(None);
        }
        Ok(Some(file))
    }

    /// Writes the bundle `fill` produces as the kept bundle of `key` for
    /// `generation`, replacing those of other generations.
    pub(super) fn keep_bundle(
        &self,
        key: &Key,
        generation: u64,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let key = &key.to_string();
        if generation == 0 {
            return Ok(());
        }
        let dir = self.bundle_dir(key);
        fs::create_dir_all(&dir)?;
        let mut staged = tempfile::Builder::new()
            .prefix("bundle-")
            .tempfile_in(self.staging_dir())?;
        {
            let mut out = io::BufWriter::with_capacity(1 << 20, staged.as_file_mut());
            fill(&mut out)?;
            out.flush()?;
        }
        // A torn file after a crash would be served as the bundle.
        staged.as_file().sync_all()?;
        staged
            .persist(dir.join(format!("{key}.{generation}.zip")))
            .map_err(|e| e.error)?;
        remove_other_generations(&self.bundle_dir(key), key, Some(generation))?;
        Ok(())
    }
}

/// Removes `<key>.<g>.zip` for every generation but `keep` (all of them when
/// `None`); returns the bytes freed.
pub(super) fn remove_other_generations(
    dir: &std::path::Path,
    key: &str,
    keep: Option<u64>,
) -> io::Result<u64> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let kept = keep.map(|g| format!("{key}.{g}.zip"));
    let prefix = format!("{key}.");
    let mut freed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(&prefix) || !name.ends_with(".zip") || Some(&*name) == kept.as_deref()
        {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(entry.path()) {
            Ok(()) => freed += size,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(freed)
}
