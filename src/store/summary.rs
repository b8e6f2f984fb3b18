//! Per-key summaries: the few numbers a cache hit answers with (files, size,
//! bundle size), kept beside the index so that a hit never parses the whole
//! index (megabytes of JSON for a large tree). A summary is a derived cache:
//! written after the index at ingestion, derived again from the index when
//! absent (keys stored before summaries existed) or stale, and never trusted
//! without its index: a summary whose index is gone or was rewritten is
//! ignored, so it cannot turn a deleted key into a hit.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DirStore, Store};
use crate::protocol::{Index, Key};

/// What a hit answers with, besides URLs built from the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub key: Key,
    /// Regular files in the tree.
    pub files: u64,
    /// Sum of the regular files' sizes.
    pub size: u64,
    /// Exact size of the ZIP bundle (the layout is deterministic, so this
    /// also stands for the layout; the `ETag` is the key itself).
    pub bundle_size: u64,
    /// Changes whenever the key's index is rewritten (its inode in a
    /// directory store); 0 when unknown. Lets callers cache what they derive
    /// from the index.
    pub generation: u64,
    /// The index's private registries: an API key must be allowed all of
    /// them to be told about the key or given its tree.
    pub registries: Vec<String>,
}

impl KeySummary {
    /// Computed from the whole index: the one expensive step, done once per
    /// key at ingestion (or at the first hit of an older key).
    pub fn of(index: &Index) -> KeySummary {
        KeySummary {
            key: index.key,
            files: index.file_count(),
            size: index.logical_size(),
            bundle_size: crate::bundle::plan(index).len(),
            generation: 0,
            registries: index.registries.clone(),
        }
    }
}

/// Bumped on an incompatible change; other formats are ignored (re-derived).
/// 2 added `registries`: a format-1 summary cannot say whether a key is
/// private, so it is never trusted.
const SUMMARY_FORMAT: u32 = 2;

/// `summaries/aa/<key>.json` in a directory store.
#[derive(Debug, Serialize, Deserialize)]
struct SummaryFile {
    format: u32,
    key: String,
    /// The index file this was derived from and its inode: every index write
    /// is a rename (a new inode), so a rewritten index invalidates the summary.
    index: String,
    index_generation: u64,
    files: u64,
    size: u64,
    bundle_size: u64,
    registries: Vec<String>,
}

impl DirStore {
    fn summary_path(&self, key: &str) -> PathBuf {
        self.root()
            .join("summaries")
            .join(&key[0..2])
            .join(format!("{key}.json"))
    }

    /// The summary of `key` when one is kept and its index is still the one it
    /// was derived from; `None` otherwise (callers derive it again).
    pub(super) fn read_summary(&self, wanted: &Key) -> io::Result<Option<KeySummary>> {
        let key = &wanted.to_string();
        let path = self.summary_path(key);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // Written without fsync: a torn or foreign file is re-derived, not an error.
        let Ok(file) = serde_json::from_slice::<SummaryFile>(&bytes) else {
            tracing::debug!(key, "unreadable summary; deriving it again");
            return Ok(None);
        };
        if file.format != SUMMARY_FORMAT
            || file.key != *key
            || !file.index.starts_with(&format!("{key}."))
            || !file.index.ends_with(".index")
            || file.index.contains('/')
        {
            return Ok(None);
        }
        let index_path = self
            .root()
            .join("indexes")
            .join(&key[0..2])
            .join(&file.index);
        match fs::symlink_metadata(&index_path) {
            Ok(meta) if meta.is_file() && meta.ino() == file.index_generation => {
                Ok(Some(KeySummary {
                    key: *wanted,
                    files: file.files,
                    size: file.size,
                    bundle_size: file.bundle_size,
                    generation: file.index_generation,
                    registries: file.registries,
                }))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The index was deleted (gc): drop the orphan while we are here.
                let _ = fs::remove_file(&path);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Records `summary` against the index of its key as it is now; nothing
    /// when the index is gone.
    pub(super) fn write_summary(&self, summary: &KeySummary) -> io::Result<()> {
        let Some(index_path) = self.index_path(&summary.key)? else {
            return Ok(());
        };
        let meta = fs::symlink_metadata(&index_path)?;
        let name = index_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = SummaryFile {
            format: SUMMARY_FORMAT,
            key: summary.key.to_string(),
            index: name,
            index_generation: meta.ino(),
            files: summary.files,
            size: summary.size,
            bundle_size: summary.bundle_size,
            registries: summary.registries.clone(),
        };
        let path = self.summary_path(&summary.key.to_string());
        fs::create_dir_all(path.parent().expect("summary paths have parents"))?;
        let mut staged = tempfile::Builder::new()
            .prefix("summary-")
            .tempfile_in(self.staging_dir())?;
        serde_json::to_writer(&mut staged, &file)?;
        staged.flush()?;
        staged.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}
