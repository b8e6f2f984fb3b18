//! `depcache admin stats`: what the store holds and how well it deduplicates.
//! One listing of the blob shards (stat only, no reads) and one parse of every
//! index (for the logical size, which only the indexes know).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;

use serde::Serialize;

use super::{human_bytes, human_time, scan_blobs, scan_indexes, unix_secs};
use crate::store::Store;

/// Version of the `--json` document; bumped on incompatible changes.
pub const STATS_FORMAT: u32 = 1;

/// `admin stats --json`. Documented in docs/admin.md.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    pub format: u32,
    /// Indexes, i.e. cached keys.
    pub keys: u64,
    pub blobs: u64,
    /// Sizes of the blob files (header plus packed data).
    pub blob_bytes: u64,
    pub index_bytes: u64,
    pub bundle_bytes: u64,
    /// Sum over all indexes of their files' sizes: what the trees weigh
    /// unpacked and undeduplicated.
    pub logical_bytes: u64,
    /// `logical_bytes / blob_bytes`; 0 when there are no blobs.
    pub dedup_ratio: f64,
    /// Keys per manager.
    pub managers: BTreeMap<String, u64>,
    /// Indexes that could not be read or parsed (run `admin verify`).
    pub unreadable_indexes: u64,
    pub oldest: Option<KeyTime>,
    pub newest: Option<KeyTime>,
    pub least_recently_used: Option<KeyTime>,
    pub most_recently_used: Option<KeyTime>,
}

/// A key with a time in Unix seconds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyTime {
    pub key: String,
    pub time: u64,
}

pub fn stats(store: &dyn Store) -> io::Result<Stats> {
    let shards = scan_blobs(store, |blobs| {
        Ok((
            blobs.len() as u64,
            blobs.iter().map(|b| b.size).sum::<u64>(),
        ))
    })?;
    let metas = store.list_indexes()?;
    let parsed = scan_indexes(store, &metas, |meta, index| match index {
        Ok(Some(index)) => Some((index.logical_size(), index.created, meta.key.to_string())),
        // Vanished since the listing: counted as listed, adds nothing.
        Ok(None) => Some((0, u64::MAX, String::new())),
        Err(_) => None,
    });
    let mut managers = BTreeMap::new();
    for meta in &metas {
        *managers.entry(meta.manager.clone()).or_insert(0) += 1;
    }
    let pick = |better: fn(u64, u64) -> bool, items: &mut dyn Iterator<Item = (u64, &str)>| {
        let mut best: Option<KeyTime> = None;
        for (time, key) in items {
            if best.as_ref().is_none_or(|b| better(time, b.time)) {
                best = Some(KeyTime {
                    key: key.to_string(),
                    time,
                });
            }
        }
        best
    };
    let created = || {
        parsed
            .iter()
            .flatten()
            .filter(|(_, c, _)| *c != u64::MAX)
            .map(|(_, c, k)| (*c, k.as_str()))
    };
    let hex: Vec<String> = metas.iter().map(|m| m.key.to_string()).collect();
    let used = || {
        metas
            .iter()
            .zip(&hex)
            .map(|(m, k)| (unix_secs(m.last_used), k.as_str()))
    };
    let blobs = shards.iter().map(|s| s.0).sum();
    let blob_bytes = shards.iter().map(|s| s.1).sum();
    let logical_bytes = parsed.iter().flatten().map(|p| p.0).sum();
    Ok(Stats {
        format: STATS_FORMAT,
        keys: metas.len() as u64,
        blobs,
        blob_bytes,
        index_bytes: metas.iter().map(|m| m.size).sum(),
        bundle_bytes: store.bundle_bytes()?,
        logical_bytes,
        dedup_ratio: if blob_bytes == 0 {
            0.0
        } else {
            // Two decimals keep the JSON stable and readable.
            (logical_bytes as f64 / blob_bytes as f64 * 100.0).round() / 100.0
        },
        managers,
        unreadable_indexes: parsed.iter().filter(|p| p.is_none()).count() as u64,
        oldest: pick(|a, b| a < b, &mut created()),
        newest: pick(|a, b| a > b, &mut created()),
        least_recently_used: pick(|a, b| a < b, &mut used()),
        most_recently_used: pick(|a, b| a > b, &mut used()),
    })
}

impl Stats {
    /// Aligned `label  value` lines for people.
    pub fn render(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("keys".into(), self.keys.to_string()),
            ("blobs".into(), self.blobs.to_string()),
            ("blob bytes".into(), bytes(self.blob_bytes)),
            ("index bytes".into(), bytes(self.index_bytes)),
            ("kept bundles".into(), kept_bundles(self.bundle_bytes)),
            ("logical bytes".into(), bytes(self.logical_bytes)),
            ("dedup ratio".into(), format!("{:.2}x", self.dedup_ratio)),
        ];
        for (manager, n) in &self.managers {
            rows.push((format!("keys ({manager})"), n.to_string()));
        }
        if self.unreadable_indexes > 0 {
            rows.push((
                "unreadable indexes".into(),
                format!("{} (run `depcache admin verify`)", self.unreadable_indexes),
            ));
        }
        let when = |kt: &Option<KeyTime>| match kt {
            Some(kt) => format!("{}  {}", human_time(kt.time), kt.key),
            None => "-".to_string(),
        };
        rows.push(("oldest entry".into(), when(&self.oldest)));
        rows.push(("newest entry".into(), when(&self.newest)));
        rows.push((
            "least recently used".into(),
            when(&self.least_recently_used),
        ));
        rows.push(("most recently used".into(), when(&self.most_recently_used)));
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let mut out = String::new();
        for (label, value) in rows {
            let _ = writeln!(out, "{label:<width$}  {value}");
        }
        out
    }
}

fn bytes(n: u64) -> String {
    format!("{n} ({})", human_bytes(n))
}

/// Kept bundles are a cache `serve` fills from a key's second download, so 0
/// is the usual figure for a young or lightly used store: said, so that it
/// does not read as a broken counter.
fn kept_bundles(n: u64) -> String {
    if n == 0 {
        return "0 (none yet: serve keeps a key's assembled bundle from its second download, \
up to --bundle-cache-size)"
            .into();
    }
    bytes(n)
}
