//! The index: what a key's tree holds, path by path. It is what makes a key a
//! hit, what bundles are assembled from and what clients verify against.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{InstallOptions, Key, Sha256};

/// Bumped on any incompatible change to the index JSON.
pub const INDEX_FORMAT: u32 = 1;

/// The format of an index with npm workspaces (`workspaces`, `nested`): a
/// format-1 index plus two fields. Plain trees keep format 1, so indexes and
/// clients from before workspaces read them unchanged; an older client given
/// a format-2 index ignores the new fields and then refuses the workspace
/// links, which leave `root`: loudly, never a partial tree.
pub const INDEX_FORMAT_WORKSPACES: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub format: u32,
    pub key: Key,
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
    /// npm workspaces: the workspace folders of the request, relative to the
    /// project (`packages/a`). Symlinks may point at exactly these folders
    /// and nowhere else outside their own tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
    /// Further trees the install made inside workspace folders
    /// (`packages/b/node_modules`), sorted by folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<NestedTree>,
    /// The credentialed private registries (`HOST[:PORT]`) the install
    /// fetched from: only API keys allowed all of them may receive the tree
    /// (index and bundle). Absent for public trees, so older readers and
    /// indexes are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<String>,
}

/// One more output folder beside `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedTree {
    /// Relative to the project: `<workspace>/node_modules`.
    pub root: String,
    /// Sorted by path; paths are relative to this tree's `root`.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    File(FileEntry),
    Symlink { path: String, target: String },
    Dir { path: String, mode: u32 },
}

/// A blob packed as is (the ZIP method number, so a bundle entry copies it).
pub const METHOD_STORED: u16 = 0;
/// A blob packed as raw deflate (ZIP method 8).
pub const METHOD_DEFLATE: u16 = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
    /// Permission bits (`0o644`, `0o755`).
    pub mode: u32,
    /// CRC-32 of the content, as ZIP needs it.
    pub crc32: u32,
    /// How the blob is packed: [`METHOD_STORED`] or [`METHOD_DEFLATE`].
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
    /// Every tree: `root` first, then the nested ones; each as its folder
    /// (relative to the project) and entries. Bundles follow this order.
    pub fn trees(&self) -> impl Iterator<Item = (&str, &[Entry])> {
        std::iter::once((self.root.as_str(), self.entries.as_slice())).chain(
            self.nested
                .iter()
                .map(|t| (t.root.as_str(), t.entries.as_slice())),
        )
    }

    /// The regular files of every tree, in bundle order.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.trees()
            .flat_map(|(_, entries)| entries.iter())
            .filter_map(|e| match e {
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00ff0123456789abcdef00000000000000000000000000000000000000000001";
    const SHA: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn json(key: &str, sha: &str) -> String {
        format!(
            r#"{{"format":1,"key":"{key}","manager":"npm","versions":{{}},"root":"node_modules","created":1,"entries":[{{"type":"file","path":"a.js","sha256":"{sha}","size":3,"mode":420,"crc32":1,"method":0,"packed_size":3}}]}}"#
        )
    }

    /// The identities are typed, the JSON is not changed: what was stored
    /// reads back and writes out byte for byte.
    #[test]
    fn an_index_round_trips_with_its_hex_spelled_as_before() {
        let text = json(KEY, SHA);
        let index: Index = serde_json::from_str(&text).unwrap();
        assert_eq!(index.key.to_string(), KEY);
        assert_eq!(index.files().next().unwrap().sha256.to_string(), SHA);
        assert_eq!(serde_json::to_string(&index).unwrap(), text);
    }

    /// Parsed once where the index enters: a name that is no identity never
    /// reaches a path or a store.
    #[test]
    fn an_index_naming_a_malformed_key_or_sha256_does_not_parse() {
        for (key, sha) in [
            ("../../etc/passwd", SHA),
            (&KEY.to_uppercase(), SHA),
            (KEY, "../x"),
            (KEY, &SHA.to_uppercase()),
        ] {
            assert!(
                serde_json::from_str::<Index>(&json(key, sha)).is_err(),
                "{key} {sha}"
            );
        }
    }
}
