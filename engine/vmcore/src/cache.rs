//! A small sharded LRU cache of decompressed pages.

use std::sync::{Arc, Mutex, MutexGuard};

const SHARDS: usize = 16;
const PER_SHARD: usize = 32;

struct Entry {
    pfn: u64,
    last_use: u64,
    data: Arc<[u8]>,
}

#[derive(Default)]
struct Shard {
    entries: Vec<Entry>,
    tick: u64,
}

/// Holds up to `SHARDS * PER_SHARD` (512) pages; each shard has its own lock
/// so that threads reading different pages rarely contend.
pub(crate) struct PageCache {
    shards: Vec<Mutex<Shard>>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

impl PageCache {
    fn shard(&self, pfn: u64) -> MutexGuard<'_, Shard> {
        let m = &self.shards[(pfn % SHARDS as u64) as usize];
        // A panic while holding the lock cannot leave a shard inconsistent
        // in a way that matters to a cache: ignore poisoning.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, pfn: u64) -> Option<Arc<[u8]>> {
        let mut s = self.shard(pfn);
        s.tick += 1;
        let tick = s.tick;
        let e = s.entries.iter_mut().find(|e| e.pfn == pfn)?;
        e.last_use = tick;
        Some(e.data.clone())
    }

    pub(crate) fn insert(&self, pfn: u64, data: Arc<[u8]>) {
        let mut s = self.shard(pfn);
        s.tick += 1;
        let tick = s.tick;
        if let Some(e) = s.entries.iter_mut().find(|e| e.pfn == pfn) {
            e.data = data;
            e.last_use = tick;
            return;
        }
        let entry = Entry {
            pfn,
            last_use: tick,
            data,
        };
        if s.entries.len() < PER_SHARD {
            s.entries.push(entry);
        } else if let Some(old) = s.entries.iter_mut().min_by_key(|e| e.last_use) {
            *old = entry;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let c = PageCache::default();
        let page = |b: u8| -> Arc<[u8]> { Arc::from(vec![b; 4]) };
        // All of these land in shard 0.
        for i in 0..PER_SHARD as u64 {
            c.insert(i * SHARDS as u64, page(i as u8));
        }
        assert!(c.get(0).is_some()); // 0 is now the most recent
        c.insert(9999 * SHARDS as u64, page(1));
        assert!(c.get(0).is_some());
        assert!(c.get(SHARDS as u64).is_none()); // the oldest went
        assert_eq!(c.get(2 * SHARDS as u64).unwrap()[0], 2);
    }
}
