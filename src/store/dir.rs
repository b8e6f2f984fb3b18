//! The embedded default backend: a directory laid out as DESIGN.md says.
//!
//! ```text
//! objects/aa/bb/<sha256>                       blobs
//! indexes/aa/<key>.<manager>.<versions>.index  indexes (JSON)
//! summaries/aa/<key>.json                     hit answers (see summary.rs)
//! bundles/aa/<key>.<generation>.zip            kept bundles of hot keys (bundle_cache.rs)
//! tmp/                                         staging, emptied at open
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::dir_maintenance as maint;
use super::{
    BLOB_HEADER_LEN, BlobInfo, BlobMeta, GcSafety, IndexMeta, StagedBlob, Store, StoreLock,
};
use crate::protocol::{Index, Key, Sha256};

pub struct DirStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl DirStore {
    /// Opens (creating when needed) a store and empties its staging area: what
    /// a crash left there was never visible and never will be.
    pub fn open(root: &Path) -> io::Result<DirStore> {
        fs::create_dir_all(root.join("objects"))?;
        fs::create_dir_all(root.join("indexes"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(DirStore {
            root: root.to_path_buf(),
            tmp,
        })
    }

    /// Opens an existing store without touching its staging area, for tools
    /// that may run beside a live server.
    pub fn open_existing(root: &Path) -> io::Result<DirStore> {
        if !root.join("objects").is_dir() || !root.join("indexes").is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a depcache store (no objects/ and indexes/)",
                    root.display()
                ),
            ));
        }
        Ok(DirStore {
            root: root.to_path_buf(),
            tmp: root.join("tmp"),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, sha256: &Sha256) -> PathBuf {
        let sha256 = sha256.to_string();
        self.root
            .join("objects")
            .join(&sha256[0..2])
            .join(&sha256[2..4])
            .join(&sha256)
    }

    fn index_dir(&self, key: &str) -> PathBuf {
        self.root.join("indexes").join(&key[0..2])
    }

    /// The index file of `key`, whatever manager and versions its name carries.
    pub fn index_path(&self, key: &Key) -> io::Result<Option<PathBuf>> {
        let key = key.to_string();
        let dir = self.index_dir(&key);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let prefix = format!("{key}.");
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".index") {
                return Ok(Some(dir.join(&*name)));
            }
        }
        Ok(None)
    }

    /// `<key>.<manager>.<name>-<version>_...index`: readable by operators who
    /// `ls` the store, as in the seed.
    fn index_file_name(index: &Index) -> String {
        let versions: Vec<String> = index
            .versions
            .iter()
            .map(|(name, value)| format!("{name}-{value}"))
            .collect();
        format!(
            "{}.{}.{}.index",
            index.key,
            index.manager,
            versions.join("_")
        )
    }
}

impl DirStore {
    /// Flushes the whole file system the store is on.
    fn syncfs(&self) -> io::Result<()> {
        let dir = File::open(&self.root)?;
        rustix::fs::syncfs(&dir).map_err(io::Error::from)
    }

    fn read_index_file(&self, path: &Path) -> io::Result<Option<Index>> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            // Deleted between listing and reading (gc): a miss, not an error.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index {} is corrupt: {e}", path.display()),
            )
        })
    }
}

/// Makes a rename durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Store for DirStore {
    fn blob_info(&self, sha256: &Sha256) -> io::Result<Option<BlobInfo>> {
        let mut file = match File::open(self.blob_path(sha256)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut header = [0u8; BLOB_HEADER_LEN as usize];
        file.read_exact(&mut header)?;
        BlobInfo::decode_header(*sha256, &header).map(Some)
    }

    fn blob_infos(&self, sha256s: &[Sha256]) -> io::Result<Vec<Option<BlobInfo>>> {
        sha256s
            .par_iter()
            // An unreadable header counts as missing: storing the blob again
            // repairs it.
            .map(|sha| Ok(self.blob_info(sha).ok().flatten()))
            .collect()
    }

    /// Staged data is synced, renamed into `objects/`, and the renames synced,
    /// with one `syncfs` each time rather than an fsync per blob (which cost
    /// ~2.5 ms a blob, most of a 16k-file ingestion).
    fn put_blobs(&self, blobs: Vec<StagedBlob>) -> io::Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        self.syncfs()?;
        for blob in blobs {
            let path = self.blob_path(&blob.info.sha256);
            let parent = path.parent().expect("blob paths have parents");
            fs::create_dir_all(parent)?;
            blob.file.persist(&path).map_err(|e| e.error)?;
        }
        self.syncfs()
    }

    fn open_packed(&self, sha256: &Sha256, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut file = File::open(self.blob_path(sha256))?;
        file.seek(SeekFrom::Start(BLOB_HEADER_LEN + offset))?;
        Ok(Box::new(file))
    }

    fn get_index(&self, key: &Key) -> io::Result<Option<Index>> {
        let Some(path) = self.index_path(key)? else {
            return Ok(None);
        };
        self.read_index_file(&path)
    }

    fn put_index(&self, index: &Index) -> io::Result<()> {
        let dir = self.index_dir(&index.key.to_string());
        fs::create_dir_all(&dir)?;
        let mut staged = tempfile::Builder::new()
            .prefix("index-")
            .tempfile_in(&self.tmp)?;
        serde_json::to_writer(io::BufWriter::new(staged.as_file_mut()), index)?;
        staged.as_file_mut().flush()?;
        staged.as_file().sync_all()?;
        staged
            .persist(dir.join(Self::index_file_name(index)))
            .map_err(|e| e.error)?;
        sync_dir(&dir)
    }

    fn staging_dir(&self) -> &Path {
        &self.tmp
    }

    fn list_keys(&self) -> io::Result<Vec<Key>> {
        let mut keys = Vec::new();
        for shard in fs::read_dir(self.root.join("indexes"))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                let key = name.split_once('.').map(|(key, _)| Key::parse(key));
                if let Some(Ok(key)) = key.filter(|_| name.ends_with(".index")) {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn delete_index(&self, key: &Key) -> io::Result<bool> {
        match self.index_path(key)? {
            Some(path) => match fs::remove_file(path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
            None => Ok(false),
        }
    }

    fn delete_blob(&self, sha256: &Sha256) -> io::Result<bool> {
        match fs::remove_file(self.blob_path(sha256)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn gc_safety(&self) -> GcSafety {
        GcSafety::Locked
    }

    fn ingest_lock(&self) -> io::Result<StoreLock> {
        maint::lock_shared(&self.root)
    }

    fn sweep_lock(&self) -> io::Result<StoreLock> {
        maint::lock_exclusive(&self.root)
    }

    fn touch_index(&self, key: &Key) -> io::Result<()> {
        match self.index_path(key)? {
            Some(path) => match maint::touch(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
            None => Ok(()),
        }
    }

    fn list_indexes(&self) -> io::Result<Vec<IndexMeta>> {
        maint::list_indexes(&self.root)
    }

    fn read_listed_index(&self, meta: &IndexMeta) -> io::Result<Option<Index>> {
        self.read_index_file(&self.index_dir(&meta.key.to_string()).join(&meta.name))
    }

    fn delete_listed_index(&self, meta: &IndexMeta) -> io::Result<bool> {
        maint::delete_listed_index(self, meta)
    }

    fn list_blobs(&self, shard: u8) -> io::Result<Vec<BlobMeta>> {
        maint::list_blobs(&self.root, shard)
    }

    fn bundle_bytes(&self) -> io::Result<u64> {
        maint::bundle_bytes(&self.root)
    }

    fn delete_bundle(&self, key: &Key) -> io::Result<u64> {
        maint::delete_bundle(&self.root, key)
    }

    fn get_summary(&self, key: &Key) -> io::Result<Option<super::KeySummary>> {
        self.read_summary(key)
    }

    fn put_summary(&self, summary: &super::KeySummary) -> io::Result<()> {
        self.write_summary(summary)
    }

    fn open_bundle(&self, key: &Key, generation: u64, len: u64) -> io::Result<Option<File>> {
        DirStore::open_bundle(self, key, generation, len)
    }

    fn keep_bundle(
        &self,
        key: &Key,
        generation: u64,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        DirStore::keep_bundle(self, key, generation, fill)
    }
}
