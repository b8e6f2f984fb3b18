//! `depcache admin list`: one line (or JSON object) per cached key, most
//! recently used first, which is the order gc evicts in reverse.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;

use serde::Serialize;

use super::{human_bytes, human_time, scan_indexes, unix_secs};
use crate::store::Store;

/// `format` of every `admin list --json` element. The document stays an
/// array (scripts iterate it), so each element carries it.
pub const LIST_FORMAT: u32 = 1;

/// One element of `admin list --json`. Documented in docs/admin.md.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyEntry {
    pub format: u32,
    pub key: String,
    pub manager: String,
    pub versions: BTreeMap<String, String>,
    pub platform: Option<String>,
    /// Regular files in the tree.
    pub files: u64,
    /// Sum of the files' sizes.
    pub size: u64,
    /// Unix seconds: when the tree was stored.
    pub created: u64,
    /// Unix seconds: last hit or download (the index's mtime).
    pub last_used: u64,
    /// Set when the index could not be read; the other fields are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn list(store: &dyn Store) -> io::Result<Vec<KeyEntry>> {
    let metas = store.list_indexes()?;
    let mut entries: Vec<KeyEntry> = scan_indexes(store, &metas, |meta, index| {
        let mut entry = KeyEntry {
            format: LIST_FORMAT,
            key: meta.key.to_string(),
            manager: meta.manager.clone(),
            versions: BTreeMap::new(),
            platform: None,
            files: 0,
            size: 0,
            created: 0,
            last_used: unix_secs(meta.last_used),
            error: None,
        };
        match index {
            Ok(Some(index)) => {
                entry.files = index.file_count();
                entry.size = index.logical_size();
                entry.created = index.created;
                entry.versions = index.versions;
                entry.platform = index.platform;
            }
            Ok(None) => return None,
            Err(e) => entry.error = Some(e.to_string()),
        }
        Some(entry)
    })
    .into_iter()
    .flatten()
    .collect();
    entries.sort_by(|a, b| b.last_used.cmp(&a.last_used).then(a.key.cmp(&b.key)));
    Ok(entries)
}

/// A table for people; keys shortened to 16 hex digits like git's.
pub fn render(entries: &[KeyEntry]) -> String {
    let header = [
        "KEY",
        "MANAGER",
        "VERSIONS",
        "PLATFORM",
        "FILES",
        "SIZE",
        "LAST USED",
    ];
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            let versions = e
                .versions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            [
                e.key[..16.min(e.key.len())].to_string(),
                e.manager.clone(),
                match &e.error {
                    Some(err) => format!("unreadable: {err}"),
                    None => versions,
                },
                e.platform.clone().unwrap_or_else(|| "-".to_string()),
                e.files.to_string(),
                human_bytes(e.size),
                human_time(e.last_used),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}
