//! The in-memory backend: the `Store` contract with nothing but maps behind
//! it. For tests and for trying a change to the contract without a disk or a
//! bucket; everything is gone when the process ends.

use std::collections::HashMap;
use std::io::{self, Cursor, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

use super::{
    BLOB_HEADER_LEN, BlobInfo, BlobMeta, GcSafety, Generation, IndexMeta, StagedBlob, Store,
    StoreLock,
};
use crate::protocol::{Index, Key, Sha256};

struct StoredIndex {
    json: Arc<Vec<u8>>,
    manager: String,
    generation: u64,
    last_used: SystemTime,
}

#[derive(Default)]
struct Maps {
    blobs: HashMap<Sha256, (Arc<Vec<u8>>, SystemTime)>,
    indexes: HashMap<Key, StoredIndex>,
    next_generation: u64,
}

pub struct MemStore {
    maps: Mutex<Maps>,
    /// Ingestions holding the lock shared (> 0), or gc exclusive (-1).
    lock: Arc<(Mutex<i64>, Condvar)>,
    guarded: bool,
    staging: tempfile::TempDir,
}

impl MemStore {
    /// An empty store whose gc lock works between threads of this process.
    pub fn new() -> io::Result<MemStore> {
        Self::build(true)
    }

    /// An empty store without a gc lock: `GcSafety::Unsupported`, so gc
    /// refuses to sweep it. Shows what a backend without the capability gets.
    pub fn unguarded() -> io::Result<MemStore> {
        Self::build(false)
    }

    fn build(guarded: bool) -> io::Result<MemStore> {
        Ok(MemStore {
            maps: Mutex::new(Maps::default()),
            lock: Arc::new((Mutex::new(0), Condvar::new())),
            guarded,
            staging: tempfile::Builder::new().prefix("depcache-mem-").tempdir()?,
        })
    }

    fn lock(&self, exclusive: bool) -> StoreLock {
        if !self.guarded {
            return StoreLock::none();
        }
        let (state, changed) = &*self.lock;
        let mut holders = state.lock().unwrap();
        while if exclusive {
            *holders != 0
        } else {
            *holders < 0
        } {
            holders = changed.wait(holders).unwrap();
        }
        *holders = if exclusive { -1 } else { *holders + 1 };
        StoreLock::holding(Release {
            lock: self.lock.clone(),
            exclusive,
        })
    }

    fn blob(&self, sha256: &Sha256) -> Option<Arc<Vec<u8>>> {
        self.maps
            .lock()
            .unwrap()
            .blobs
            .get(sha256)
            .map(|b| b.0.clone())
    }
}

struct Release {
    lock: Arc<(Mutex<i64>, Condvar)>,
    exclusive: bool,
}

impl Drop for Release {
    fn drop(&mut self) {
        let (state, changed) = &*self.lock;
        let mut holders = state.lock().unwrap();
        *holders = if self.exclusive { 0 } else { *holders - 1 };
        changed.notify_all();
    }
}

fn parse_index(key: &Key, json: &[u8]) -> io::Result<Index> {
    serde_json::from_slice(json).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("index {key} is corrupt: {e}"),
        )
    })
}

impl Store for MemStore {
    fn blob_info(&self, sha256: &Sha256) -> io::Result<Option<BlobInfo>> {
        match self.blob(sha256) {
            Some(data) => BlobInfo::decode_header(*sha256, &data).map(Some),
            None => Ok(None),
        }
    }

    fn put_blobs(&self, blobs: Vec<StagedBlob>) -> io::Result<()> {
        for blob in blobs {
            let data = std::fs::read(&blob.file)?;
            let now = SystemTime::now();
            self.maps
                .lock()
                .unwrap()
                .blobs
                .insert(blob.info.sha256, (Arc::new(data), now));
        }
        Ok(())
    }

    fn open_packed(&self, sha256: &Sha256, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let data = self.blob(sha256).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("blob {sha256} is missing"))
        })?;
        let mut cursor = Cursor::new(ArcBytes(data));
        cursor.set_position(BLOB_HEADER_LEN + offset);
        Ok(Box::new(cursor))
    }

    fn get_index(&self, key: &Key) -> io::Result<Option<Index>> {
        let json = self
            .maps
            .lock()
            .unwrap()
            .indexes
            .get(key)
            .map(|i| i.json.clone());
        json.map(|json| parse_index(key, &json)).transpose()
    }

    fn put_index(&self, index: &Index) -> io::Result<()> {
        let json = Arc::new(serde_json::to_vec(index)?);
        let mut maps = self.maps.lock().unwrap();
        maps.next_generation += 1;
        let generation = maps.next_generation;
        maps.indexes.insert(
            index.key,
            StoredIndex {
                json,
                manager: index.manager.clone(),
                generation,
                last_used: SystemTime::now(),
            },
        );
        Ok(())
    }

    fn staging_dir(&self) -> &Path {
        self.staging.path()
    }

    fn list_keys(&self) -> io::Result<Vec<Key>> {
        let mut keys: Vec<Key> = self.maps.lock().unwrap().indexes.keys().copied().collect();
        keys.sort();
        Ok(keys)
    }

    fn delete_index(&self, key: &Key) -> io::Result<bool> {
        Ok(self.maps.lock().unwrap().indexes.remove(key).is_some())
    }

    fn delete_blob(&self, sha256: &Sha256) -> io::Result<bool> {
        Ok(self.maps.lock().unwrap().blobs.remove(sha256).is_some())
    }

    fn gc_safety(&self) -> GcSafety {
        if self.guarded {
            GcSafety::Locked
        } else {
            GcSafety::Unsupported
        }
    }

    fn ingest_lock(&self) -> io::Result<StoreLock> {
        Ok(self.lock(false))
    }

    fn sweep_lock(&self) -> io::Result<StoreLock> {
        Ok(self.lock(true))
    }

    fn touch_index(&self, key: &Key) -> io::Result<()> {
        if let Some(index) = self.maps.lock().unwrap().indexes.get_mut(key) {
            index.last_used = SystemTime::now();
        }
        Ok(())
    }

    fn list_indexes(&self) -> io::Result<Vec<IndexMeta>> {
        let maps = self.maps.lock().unwrap();
        let mut out: Vec<IndexMeta> = maps
            .indexes
            .iter()
            .map(|(key, index)| IndexMeta {
                key: *key,
                manager: index.manager.clone(),
                name: key.to_string(),
                size: index.json.len() as u64,
                last_used: index.last_used,
                generation: Generation::new(index.generation),
            })
            .collect();
        out.sort_by_key(|m| m.key);
        Ok(out)
    }

    fn delete_listed_index(&self, meta: &IndexMeta) -> io::Result<bool> {
        let mut maps = self.maps.lock().unwrap();
        let key = meta.key;
        let unchanged = maps.indexes.get(&key).is_some_and(|index| {
            Generation::new(index.generation) == meta.generation
                && index.last_used == meta.last_used
        });
        Ok(unchanged && maps.indexes.remove(&key).is_some())
    }

    fn list_blobs(&self, shard: u8) -> io::Result<Vec<BlobMeta>> {
        let maps = self.maps.lock().unwrap();
        Ok(maps
            .blobs
            .iter()
            .filter(|(sha, _)| sha.as_bytes()[0] == shard)
            .map(|(sha, (data, modified))| BlobMeta {
                sha256: *sha,
                size: data.len() as u64,
                modified: *modified,
            })
            .collect())
    }
}

/// Lets a reader share a blob's bytes without copying them.
struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
