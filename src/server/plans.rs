//! A small in-memory cache of bundle layouts for hot keys: laying out a
//! large tree's bundle means reading and parsing its whole index (megabytes
//! of JSON) first, which would otherwise happen on every download. Entries are
//! keyed by the index's generation (its inode in a directory store), so a
//! rewritten index is never served with an old layout; keys whose backend
//! reports no generation are not cached. Bounded by total segments, least
//! recently used first out; never required for correctness.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::bundle::BundlePlan;
use crate::protocol::Key;

/// About 10 MB of layouts: a 16,000-file tree has some 32,000 segments.
const MAX_SEGMENTS: usize = 400_000;

#[derive(Default)]
pub struct PlanCache {
    /// Most recently used last.
    entries: Mutex<VecDeque<(Key, u64, Arc<BundlePlan>)>>,
}

impl PlanCache {
    pub fn get(&self, key: &Key, generation: u64) -> Option<Arc<BundlePlan>> {
        if generation == 0 {
            return None;
        }
        let mut entries = self.entries.lock().unwrap();
        let at = entries
            .iter()
            .position(|(k, g, _)| k == key && *g == generation)?;
        let entry = entries.remove(at)?;
        let plan = entry.2.clone();
        entries.push_back(entry);
        Some(plan)
    }

    pub fn put(&self, key: &Key, generation: u64, plan: Arc<BundlePlan>) {
        if generation == 0 || plan.segment_count() > MAX_SEGMENTS {
            return;
        }
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|(k, _, _)| k != key);
        entries.push_back((*key, generation, plan));
        let mut total: usize = entries.iter().map(|(_, _, p)| p.segment_count()).sum();
        while total > MAX_SEGMENTS {
            let Some((_, _, old)) = entries.pop_front() else {
                break;
            };
            total -= old.segment_count();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_zero_is_never_cached_and_a_new_generation_misses() {
        let cache = PlanCache::default();
        let plan = Arc::new(BundlePlan::default());
        let k = &Key::from_bytes([7; 32]);
        cache.put(k, 0, plan.clone());
        assert!(cache.get(k, 0).is_none());
        cache.put(k, 7, plan);
        assert!(cache.get(k, 7).is_some());
        assert!(cache.get(k, 8).is_none());
    }
}
