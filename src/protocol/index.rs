//! The index: what a key's tree holds, path by path. It is what makes a key a
//! hit, what bundles are assembled from and what clients verify against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::InstallOptions;

/// Bumped on any incompatible change to the index JSON.
pub const INDEX_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub format: u32,
    pub key: String,
    pub manager: String,
    pub versions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<InstallOptions>,
    /// The folder the entries live in (`node_modules`, `vendor`).
    pub root: String,
    /// Seconds since the Unix epoch when the tree was stored.
    pub created: u64,
    /// Sorted by path; paths are relative to `root`, `/`-separated.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    File(FileEntry),
    Symlink { path: String, target: String },
    Dir { path: String, mode: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Permission bits (`0o644`, `0o755`).
    pub mode: u32,
    /// CRC-32 of the content, as ZIP needs it.
    pub crc32: u32,
    /// How the blob is packed: 0 stored, 8 raw deflate (ZIP method numbers).
    pub method: u16,
    /// Size of the packed data.
    pub packed_size: u64,
}

impl Entry {
    pub fn path(&self) -> &str {
        match self {
            Entry::File(f) => &f.path,
            Entry::Symlink { path, .. } | Entry::Dir { path, .. } => path,
        }
    }
}

impl Index {
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.entries.iter().filter_map(|e| match e {
            Entry::File(f) => Some(f),
            _ => None,
        })
    }

    pub fn file_count(&self) -> u64 {
        self.files().count() as u64
    }

    /// Sum of regular file sizes: the tree's logical size.
    pub fn logical_size(&self) -> u64 {
        self.files().map(|f| f.size).sum()
    }
}
