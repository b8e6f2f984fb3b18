//! The S3 store's maintenance side: listings for `depcache admin`, last use
//! as a tiny marker object per key (an index is never rewritten to record a
//! use), eviction that leaves a key used since the listing alone, and gc's
//! half of the protocol in docs/scale-out.md: a fresh look at a blob's age
//! right before deleting it, and no delete later than the re-check delay
//! after that look.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::s3::{S3Store, io_err, not_found};
use super::{BlobMeta, Generation, IndexMeta};
use crate::protocol::{Index, Key, Sha256};

/// One listed index object: key, manager, file name, the object's meta.
pub(super) type IndexObject = (Key, String, String, object_store::ObjectMeta);

impl S3Store {
    pub(super) fn delete(&self, path: Path) -> io::Result<()> {
        let client = self.client.clone();
        match self.block_on(async move { client.delete(&path).await }) {
            Err(e) if !not_found(&e) => Err(io_err(e)),
            _ => Ok(()),
        }
    }

    /// `indexes/aa/<key>.<manager>.index` objects; other names are skipped.
    pub(super) fn list_index_objects(&self) -> io::Result<Vec<IndexObject>> {
        let mut out = Vec::new();
        for meta in self.list("indexes")? {
            let Some(name) = meta.location.filename().map(str::to_string) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".index") else {
                continue;
            };
            let Some((key, manager)) = stem.split_once('.') else {
                continue;
            };
            let Ok(key) = Key::parse(key) else {
                continue;
            };
            if !matches!(manager, "npm" | "composer") {
                continue;
            }
            out.push((key, manager.to_string(), name.clone(), meta));
        }
        Ok(out)
    }

    /// Last-use markers by key.
    fn used_times(&self, rest: &str) -> io::Result<HashMap<String, SystemTime>> {
        Ok(self
            .list(rest)?
            .into_iter()
            .filter_map(|m| {
                let key = m.location.filename()?.to_string();
                Some((key, SystemTime::from(m.last_modified)))
            })
            .collect())
    }

    fn meta_of(object: IndexObject, used: &HashMap<String, SystemTime>) -> IndexMeta {
        let (key, manager, name, meta) = object;
        let written = SystemTime::from(meta.last_modified);
        let last_used = used
            .get(&key.to_string())
            .map_or(written, |u| (*u).max(written));
        IndexMeta {
            generation: Generation::new(
                meta.e_tag
                    .clone()
                    .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
            ),
            key,
            manager,
            name,
            size: meta.size,
            last_used,
        }
    }

    pub(super) fn index_metas(&self) -> io::Result<Vec<IndexMeta>> {
        let used = self.used_times("used")?;
        let mut out: Vec<IndexMeta> = self
            .list_index_objects()?
            .into_iter()
            .map(|o| Self::meta_of(o, &used))
            .collect();
        out.sort_by_key(|m| m.key);
        Ok(out)
    }

    pub(super) fn read_listed(&self, meta: &IndexMeta) -> io::Result<Option<Index>> {
        let key = meta.key.to_string();
        let path = self.index_path(&key, &meta.manager);
        let client = self.client.clone();
        let got = self.block_on(async move {
            match client.get(&path).await {
                Ok(got) => got.bytes().await.map(Some),
                Err(e) if not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        });
        match got.map_err(io_err)? {
            Some(bytes) => Self::parse_index(&meta.key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Lists the key's index and marker again (listings, not HEADs, so the
    /// times compare at the same resolution) and deletes only when both are
    /// as gc saw them. A use racing the delete at worst costs a reinstall.
    pub(super) fn delete_listed(&self, meta: &IndexMeta) -> io::Result<bool> {
        let key = meta.key.to_string();
        // A listing's prefix is a folder: list the key's shard, then pick.
        let shard = &key[..2];
        let used = self.used_times(&format!("used/{shard}"))?;
        let current = self
            .list(&format!("indexes/{shard}"))?
            .into_iter()
            .filter(|m| m.location.filename() == Some(meta.name.as_str()))
            .map(|m| {
                let object = (meta.key, meta.manager.clone(), meta.name.clone(), m);
                Self::meta_of(object, &used)
            })
            .next();
        let Some(current) = current else {
            return Ok(false);
        };
        if current.generation != meta.generation || current.last_used != meta.last_used {
            return Ok(false);
        }
        self.delete(self.index_path(&key, &meta.manager))?;
        self.delete(self.used_path(&key))?;
        Ok(true)
    }

    pub(super) fn blob_metas(&self, shard: u8) -> io::Result<Vec<BlobMeta>> {
        let first = format!("{shard:02x}");
        Ok(self
            .list(&format!("objects/{first}"))?
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?;
                let sha256 = Sha256::parse(name).ok()?;
                name.starts_with(&first).then_some(BlobMeta {
                    sha256,
                    size: m.size,
                    modified: SystemTime::from(m.last_modified),
                })
            })
            .collect())
    }

    /// An empty marker object: a use costs one small PUT, never a rewrite.
    /// `key` is the hex of a `Key`, so already checked.
    pub(super) fn touch(&self, key: &str) -> io::Result<()> {
        let path = self.used_path(key);
        let client = self.client.clone();
        self.block_on(async move { client.put(&path, PutPayload::new()).await })
            .map(|_| ())
            .map_err(io_err)
    }

    /// gc's delete: a HEAD right before, and the DELETE only if the blob is
    /// still older than the grace period and the HEAD is recent enough that
    /// any ingestion relying on the blob re-checks after the delete lands.
    pub(super) fn delete_if_stale(&self, sha256: &Sha256, grace: Duration) -> io::Result<bool> {
        let path = self.blob_path(sha256);
        let looked = Instant::now();
        let client = self.client.clone();
        let head_path = path.clone();
        let meta = match self.block_on(async move { client.head(&head_path).await }) {
            Ok(meta) => meta,
            Err(e) if not_found(&e) => return Ok(false),
            Err(e) => return Err(io_err(e)),
        };
        let age = SystemTime::now()
            .duration_since(SystemTime::from(meta.last_modified))
            .unwrap_or_default();
        if age <= grace.max(self.times.grace) {
            return Ok(false);
        }
        let client = self.client.clone();
        let budget = self.times.recheck_delay / 2;
        let deleted = self.block_on(async move {
            let left = budget.checked_sub(looked.elapsed())?;
            Some(tokio::time::timeout(left, client.delete(&path)).await)
        });
        match deleted {
            Some(Ok(Ok(()))) => Ok(true),
            Some(Ok(Err(e))) if not_found(&e) => Ok(false),
            Some(Ok(Err(e))) => Err(io_err(e)),
            // Too slow to be safe: keep the blob for the next gc.
            None | Some(Err(_)) => Ok(false),
        }
    }
}
