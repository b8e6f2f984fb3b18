//! `depcache admin verify` (fsck): rehashes every blob in parallel, checks its
//! header against its content and its name, checks every index's references
//! against the blobs' headers, and with `--repair` removes what is broken so
//! the next request for an affected key installs it afresh.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::io;

use serde::Serialize;

use super::{scan_blobs, scan_indexes};
use crate::digest::{Hashing, copy_hashing};
use crate::protocol::{Index, Key, Sha256};
use crate::store::{BLOB_HEADER_LEN, BlobInfo, BlobMeta, Generation, IndexMeta, Store, unpack};

pub const VERIFY_FORMAT: u32 = 1;

/// `admin verify --json`. Documented in docs/admin.md.
#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    pub format: u32,
    pub blobs_checked: u64,
    pub indexes_checked: u64,
    pub corrupt_blobs: Vec<CorruptBlob>,
    pub bad_indexes: Vec<BadIndex>,
    pub repaired: bool,
    pub blobs_removed: u64,
    pub indexes_removed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorruptBlob {
    pub sha256: Sha256,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BadIndex {
    pub key: String,
    /// At most a few problems per index, then a count.
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.corrupt_blobs.is_empty() && self.bad_indexes.is_empty()
    }
}

/// Rehashes one blob; `Err` says what is wrong with it.
fn check_blob(store: &dyn Store, meta: &BlobMeta) -> Result<BlobInfo, String> {
    let sha = &meta.sha256;
    let info = match store.blob_info(sha) {
        Ok(Some(info)) => info,
        Ok(None) => return Err("vanished while being checked".to_string()),
        Err(e) => return Err(format!("unreadable header: {e}")),
    };
    if meta.size != BLOB_HEADER_LEN + info.packed_size {
        return Err(format!(
            "file is {} bytes, its header says {}",
            meta.size,
            BLOB_HEADER_LEN + info.packed_size
        ));
    }
    let packed = store
        .open_packed(sha, 0)
        .map_err(|e| format!("unreadable: {e}"))?;
    let mut reader = unpack(&info, packed);
    let mut buf = vec![0u8; 64 * 1024];
    let options = Hashing {
        crc32: true,
        cap: None,
    };
    let hashed = copy_hashing(&mut reader, &mut buf, options, &mut |_| Ok(()))
        .map_err(|e| format!("packed data does not unpack: {e}"))?;
    if hashed.sha256 != *sha.as_bytes() {
        return Err(format!("content hashes to {}", hex::encode(hashed.sha256)));
    }
    if hashed.size != info.size || hashed.crc32 != Some(info.crc32) {
        return Err("content does not match the header's size or CRC-32".to_string());
    }
    Ok(info)
}

/// Problems of one index's references, given the good blobs' headers.
fn check_index(
    store: &dyn Store,
    index: &Index,
    good: &HashMap<Sha256, BlobInfo>,
    corrupt: &HashSet<Sha256>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for file in index.files() {
        let sha = file.sha256;
        let info = if corrupt.contains(&sha) {
            problems.push(format!("{}: blob {} is corrupt", file.path, file.sha256));
            continue;
        } else if let Some(info) = good.get(&sha) {
            *info
        } else {
            // Not in the listing: maybe written since by an ingestion.
            match store.blob_info(&file.sha256) {
                Ok(Some(info)) => info,
                _ => {
                    problems.push(format!("{}: blob {} is missing", file.path, file.sha256));
                    continue;
                }
            }
        };
        if (info.size, info.crc32, info.method, info.packed_size)
            != (file.size, file.crc32, file.method, file.packed_size)
        {
            problems.push(format!(
                "{}: blob {} header disagrees with the index (size/crc/method/packed size)",
                file.path, file.sha256
            ));
        }
    }
    problems
}

pub fn verify(store: &dyn Store, repair: bool) -> io::Result<VerifyReport> {
    let shards = scan_blobs(store, |blobs| {
        Ok(blobs
            .iter()
            .map(|b| (b.sha256, check_blob(store, b)))
            .collect::<Vec<_>>())
    })?;
    let mut report = VerifyReport {
        format: VERIFY_FORMAT,
        ..VerifyReport::default()
    };
    let mut good = HashMap::new();
    let mut corrupt = HashSet::new();
    for (sha, result) in shards.into_iter().flatten() {
        report.blobs_checked += 1;
        match result {
            Ok(info) => {
                good.insert(sha, info);
            }
            Err(problem) => {
                corrupt.insert(sha);
                report.corrupt_blobs.push(CorruptBlob {
                    sha256: sha,
                    problem,
                });
            }
        }
    }
    report.corrupt_blobs.sort_by_key(|b| b.sha256);
    let metas = store.list_indexes()?;
    report.indexes_checked = metas.len() as u64;
    let bad: Vec<(IndexMeta, Vec<String>)> = scan_indexes(store, &metas, |meta, index| {
        let problems = match index {
            Ok(Some(index)) => check_index(store, &index, &good, &corrupt),
            Ok(None) => Vec::new(),
            Err(e) => vec![format!("unreadable: {e}")],
        };
        (!problems.is_empty()).then(|| (meta.clone(), problems))
    })
    .into_iter()
    .flatten()
    .collect();
    for (meta, problems) in &bad {
        let mut shown: Vec<String> = problems.iter().take(5).cloned().collect();
        if problems.len() > 5 {
            shown.push(format!("... and {} more", problems.len() - 5));
        }
        report.bad_indexes.push(BadIndex {
            key: meta.key.to_string(),
            problems: shown,
        });
    }
    if repair && !report.is_clean() {
        repair_store(store, &mut report, &corrupt, &bad, &metas)?;
    }
    Ok(report)
}

/// Removes corrupt blobs and the indexes that need them, under the sweep lock
/// so no ingestion starts trusting a corrupt blob's header meanwhile; then
/// checks indexes written since the scan against what was removed.
fn repair_store(
    store: &dyn Store,
    report: &mut VerifyReport,
    corrupt: &HashSet<Sha256>,
    bad: &[(IndexMeta, Vec<String>)],
    scanned: &[IndexMeta],
) -> io::Result<()> {
    let _lock = store.sweep_lock()?;
    for sha in corrupt {
        if store.delete_blob(sha)? {
            report.blobs_removed += 1;
        }
    }
    let seen: HashSet<(&Key, &Generation)> =
        scanned.iter().map(|m| (&m.key, &m.generation)).collect();
    let bad_set: HashSet<(&Key, &Generation)> =
        bad.iter().map(|(m, _)| (&m.key, &m.generation)).collect();
    let current = store.list_indexes()?;
    for meta in &current {
        let id = (&meta.key, &meta.generation);
        let remove = if bad_set.contains(&id) {
            true
        } else if seen.contains(&id) {
            false
        } else {
            // Written since the scan: it may reuse a blob just removed.
            match store.read_listed_index(meta) {
                Ok(Some(index)) => index.files().any(|f| {
                    corrupt.contains(&f.sha256)
                        || store.blob_info(&f.sha256).ok().flatten().is_none()
                }),
                Ok(None) => false,
                Err(_) => true,
            }
        };
        if remove && store.delete_index(&meta.key)? {
            report.indexes_removed += 1;
        }
    }
    report.repaired = true;
    Ok(())
}

impl VerifyReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for blob in &self.corrupt_blobs {
            let _ = writeln!(out, "corrupt blob {}: {}", blob.sha256, blob.problem);
        }
        for index in &self.bad_indexes {
            let _ = writeln!(out, "bad index {}:", index.key);
            for p in &index.problems {
                let _ = writeln!(out, "  {p}");
            }
        }
        let _ = writeln!(
            out,
            "checked {} and {}: {}, {}",
            counted(self.blobs_checked, "blob", "blobs"),
            counted(self.indexes_checked, "index", "indexes"),
            counted(
                self.corrupt_blobs.len() as u64,
                "corrupt blob",
                "corrupt blobs"
            ),
            counted(self.bad_indexes.len() as u64, "bad index", "bad indexes")
        );
        if self.repaired {
            let _ = writeln!(
                out,
                "repaired: removed {} and {}; affected keys install afresh on \
their next request",
                counted(self.blobs_removed, "blob", "blobs"),
                counted(self.indexes_removed, "index", "indexes")
            );
        }
        out
    }
}

/// `1 index`, `2 indexes`: "1 indexes" reads as a bug.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
