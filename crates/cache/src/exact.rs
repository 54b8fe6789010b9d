//! An exact-match cache for responses that only repeat verbatim: embeddings and
//! text-to-speech, keyed by [`exact_key`](crate::exact_key).

use std::sync::Arc;
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::sync::Cache;

use crate::keys::ExactKey;
use crate::metrics::{CacheMetrics, Counters};

struct Entry<V> {
    tenant: Box<str>,
    value: V,
}

/// Values by exact key, with TTL and capacity; each entry remembers its tenant
/// and is served to that tenant only.
pub struct ExactCache<V> {
    entries: Cache<ExactKey, Arc<Entry<V>>>,
    counters: Arc<Counters>,
}

impl<V: Clone + Send + Sync + 'static> ExactCache<V> {
    /// An empty cache whose entries live `ttl` and number at most `max_entries`.
    pub fn new(ttl: Duration, max_entries: u64) -> Self {
        let counters = Arc::new(Counters::default());
        let listener_counters = Arc::clone(&counters);
        let entries = Cache::builder()
            .max_capacity(max_entries)
            .time_to_live(ttl)
            .eviction_listener(move |_key, _entry, cause| match cause {
                RemovalCause::Expired => Counters::bump(&listener_counters.expired),
                RemovalCause::Size => Counters::bump(&listener_counters.evicted),
                RemovalCause::Explicit | RemovalCause::Replaced => {}
            })
            .build();
        ExactCache { entries, counters }
    }

    /// The value stored under `key` for `tenant`.
    pub fn get(&self, tenant: &str, key: &ExactKey) -> Option<V> {
        let hit = self
            .entries
            .get(key)
            .filter(|entry| &*entry.tenant == tenant)
            .map(|entry| entry.value.clone());
        Counters::bump(if hit.is_some() {
            &self.counters.exact_hits
        } else {
            &self.counters.misses
        });
        hit
    }

    /// Stores `value` under `key` for `tenant`, replacing what was there.
    pub fn insert(&self, tenant: &str, key: ExactKey, value: V) {
        self.entries.insert(
            key,
            Arc::new(Entry {
                tenant: tenant.into(),
                value,
            }),
        );
        Counters::bump(&self.counters.inserts);
    }

    /// Removes the entry under `key`.
    pub fn invalidate(&self, key: &ExactKey) {
        self.entries.invalidate(key);
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks();
    }

    /// Number of entries, after running moka's pending evictions.
    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters so far (hits are counted as `exact_hits`).
    pub fn metrics(&self) -> CacheMetrics {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::keys::exact_key;

    #[test]
    fn serves_only_the_same_tenant_and_body() {
        let cache = ExactCache::new(Duration::from_secs(60), 100);
        let body = json!({"model": "text-embedding-3-small", "input": "hello"});
        let alpha = exact_key("alpha", "/v1/embeddings", &body);
        cache.insert("alpha", alpha, vec![1u8, 2, 3]);
        assert_eq!(cache.get("alpha", &alpha), Some(vec![1, 2, 3]));
        assert_eq!(cache.get("beta", &alpha), None);
        assert_eq!(
            cache.get("beta", &exact_key("beta", "/v1/embeddings", &body)),
            None
        );
        let other = json!({"model": "text-embedding-3-small", "input": "hello!"});
        assert_eq!(
            cache.get("alpha", &exact_key("alpha", "/v1/embeddings", &other)),
            None
        );
        let m = cache.metrics();
        assert_eq!((m.exact_hits, m.misses, m.inserts), (1, 3, 1));
    }

    #[test]
    fn capacity_and_clear() {
        let cache = ExactCache::new(Duration::from_secs(60), 10);
        for i in 0..50u128 {
            cache.insert("t", ExactKey(i), i);
        }
        assert!(cache.len() <= 10);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn entries_expire() {
        let cache = ExactCache::new(Duration::from_millis(20), 10);
        cache.insert("t", ExactKey(1), 1);
        // poll rather than assert on time: the entry must go eventually
        let mut gone = false;
        for _ in 0..500 {
            if cache.get("t", &ExactKey(1)).is_none() {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.metrics().expired, 1);
    }
}
