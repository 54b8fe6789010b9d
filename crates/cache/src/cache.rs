//! The semantic cache of chat completions.
//!
//! Entries live in a moka cache keyed by [`ExactKey`], which gives TTL, capacity
//! and the exact-match fast path; each entry's vector also lives in its
//! partition's [`VectorIndex`](crate::VectorIndex). moka's eviction listener
//! removes the vector whenever an entry leaves (expired, evicted, replaced,
//! invalidated), so the index never serves an entry the cache no longer holds.
//!
//! Every entry records its tenant and partition, and every hit checks both against
//! the caller's, on top of the keys already hashing the tenant in. A semantic hit
//! also checks that the entry's query and the request's agree in negation
//! ([`Polarity`]) and name the same numbers ([`Figures`]), which similarity
//! alone cannot see.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gatebench_embed::{Figures, Polarity};
use moka::notification::RemovalCause;
use moka::sync::Cache;

use crate::index::{EntryId, IndexConfig};
use crate::keys::{ChatKeys, ExactKey, PartitionKey};
use crate::metrics::{CacheMetrics, Counters};
use crate::partitions::{PartitionError, Partitions};

/// Settings of a [`SemanticCache`].
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// Least cosine similarity for a semantic hit.
    pub threshold: f32,
    /// How long an entry lives after it is stored.
    pub ttl: Duration,
    /// Most entries kept across all tenants; beyond it moka evicts the entries
    /// least likely to be used again.
    pub max_entries: u64,
    /// Tuning of the per-partition vector index.
    pub index: IndexConfig,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            threshold: 0.90,
            ttl: Duration::from_secs(3600),
            max_entries: 100_000,
            index: IndexConfig::default(),
        }
    }
}

/// Which stage answered a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// Same partition and same normalised query.
    Exact,
    /// Same partition, query similar enough.
    Semantic,
}

/// A cached value served for a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit<V> {
    /// The cached value.
    pub value: V,
    /// Cosine similarity of the request's query to the entry's (1.0 on exact hits).
    pub similarity: f32,
    /// The served entry's key; its `Display` is stable across lookups, so a caller
    /// can tell which stored answer it got.
    pub key: ExactKey,
    /// Which stage found it.
    pub kind: HitKind,
}

/// Nothing cached for a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Miss {
    /// The key an [`insert`](SemanticCache::insert) of this request's answer gets.
    pub key: ExactKey,
    /// The query's embedding, computed for the search, to insert without
    /// embedding twice.
    pub vector: Vec<f32>,
}

/// The outcome of [`SemanticCache::lookup`].
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup<V> {
    /// A cached value.
    Hit(Hit<V>),
    /// Nothing; the caller fetches the answer and may insert it.
    Miss(Miss),
}

/// Why an entry could not be stored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// The vector or partition refused it.
    #[error(transparent)]
    Partition(#[from] PartitionError),
}

struct Entry<V> {
    tenant: Box<str>,
    partition: PartitionKey,
    id: EntryId,
    /// Whether the entry's query is negated, to refuse it to the other polarity.
    polarity: Polarity,
    /// The numbers the entry's query names, to refuse it to a query of others.
    figures: Figures,
    value: V,
}

/// A per-tenant, per-partition semantic cache of values `V` (for the gateway, a
/// recorded response). Cheap to share behind an `Arc`; every method takes `&self`.
pub struct SemanticCache<V> {
    config: CacheConfig,
    entries: Cache<ExactKey, Arc<Entry<V>>>,
    partitions: Arc<Partitions>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
}

impl<V: Clone + Send + Sync + 'static> SemanticCache<V> {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        let partitions = Arc::new(Partitions::new(config.index.clone()));
        let counters = Arc::new(Counters::default());
        let listener_partitions = Arc::clone(&partitions);
        let listener_counters = Arc::clone(&counters);
        let entries = Cache::builder()
            .max_capacity(config.max_entries)
            .time_to_live(config.ttl)
            .eviction_listener(move |_key, entry: Arc<Entry<V>>, cause| {
                match cause {
                    RemovalCause::Expired => Counters::bump(&listener_counters.expired),
                    RemovalCause::Size => Counters::bump(&listener_counters.evicted),
                    RemovalCause::Explicit | RemovalCause::Replaced => {}
                }
                listener_partitions.remove(entry.partition, entry.id);
            })
            .build();
        SemanticCache {
            config,
            entries,
            partitions,
            counters,
            next_id: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Looks `keys` up for `tenant`: the exact key first, then, only if that
    /// misses, the query's embedding (computed by `embed`) against the partition.
    pub fn lookup(
        &self,
        tenant: &str,
        keys: &ChatKeys,
        embed: impl FnOnce(&str) -> Vec<f32>,
    ) -> Lookup<V> {
        if let Some(hit) = self.lookup_exact(tenant, keys) {
            return Lookup::Hit(hit);
        }
        let vector = embed(&keys.query);
        match self.lookup_similar(tenant, keys, &vector) {
            Some(hit) => Lookup::Hit(hit),
            None => Lookup::Miss(Miss {
                key: keys.exact,
                vector,
            }),
        }
    }

    /// The exact-match stage alone (for callers that embed asynchronously). Counts
    /// a hit; a miss is counted by [`lookup_similar`](Self::lookup_similar).
    pub fn lookup_exact(&self, tenant: &str, keys: &ChatKeys) -> Option<Hit<V>> {
        let entry = self.entries.get(&keys.exact)?;
        if &*entry.tenant != tenant || entry.partition != keys.partition {
            return None;
        }
        Counters::bump(&self.counters.exact_hits);
        Some(Hit {
            value: entry.value.clone(),
            similarity: 1.0,
            key: keys.exact,
            kind: HitKind::Exact,
        })
    }

    /// The similarity stage alone, with the query's `vector`. Counts a semantic
    /// hit or a miss.
    pub fn lookup_similar(&self, tenant: &str, keys: &ChatKeys, vector: &[f32]) -> Option<Hit<V>> {
        let hit = self.find_similar(tenant, keys, vector);
        Counters::bump(if hit.is_some() {
            &self.counters.semantic_hits
        } else {
            &self.counters.misses
        });
        hit
    }

    fn find_similar(&self, tenant: &str, keys: &ChatKeys, vector: &[f32]) -> Option<Hit<V>> {
        let found =
            self.partitions
                .search(tenant, keys.partition, vector, self.config.threshold)?;
        // the index may still hold an entry moka has expired but not yet evicted;
        // `get` does not return those, and the id check skips a replaced entry
        let entry = self.entries.get(&found.key)?;
        if entry.id != found.id || &*entry.tenant != tenant || entry.partition != keys.partition {
            return None;
        }
        // close in meaning, opposite in sense: "do not delete" is no "delete"
        if Polarity::of(&keys.query).opposes(entry.polarity) {
            Counters::bump(&self.counters.opposed);
            return None;
        }
        // alike but for a number: "World War 1" is no "World War 2"
        if Figures::of(&keys.query).differ(&entry.figures) {
            Counters::bump(&self.counters.other_figures);
            return None;
        }
        Some(Hit {
            value: entry.value.clone(),
            similarity: found.similarity,
            key: found.key,
            kind: HitKind::Semantic,
        })
    }

    /// Stores `value` as the answer to `keys` for `tenant`, with the query's
    /// `vector`, replacing any entry under the same exact key. Returns the entry's key.
    pub fn insert(
        &self,
        tenant: &str,
        keys: &ChatKeys,
        vector: &[f32],
        value: V,
    ) -> Result<ExactKey, CacheError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // the vector goes in first: an entry visible in moka always has its vector,
        // and the listener that removes it can only run after moka has it
        self.partitions
            .insert(tenant, keys.partition, id, keys.exact, vector)?;
        let entry = Entry {
            tenant: tenant.into(),
            partition: keys.partition,
            id,
            polarity: Polarity::of(&keys.query),
            figures: Figures::of(&keys.query),
            value,
        };
        self.entries.insert(keys.exact, Arc::new(entry));
        Counters::bump(&self.counters.inserts);
        Ok(keys.exact)
    }

    /// Removes the entry stored under `key`, if any.
    pub fn invalidate(&self, key: &ExactKey) {
        self.entries.invalidate(key);
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks();
        self.partitions.clear();
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

    /// Number of partitions holding at least one entry.
    pub fn partition_count(&self) -> usize {
        self.partitions.count()
    }

    /// Vectors held by each partition's index (in no particular order).
    pub fn partition_sizes(&self) -> Vec<usize> {
        self.partitions.sizes()
    }

    /// Runs moka's pending maintenance now (expirations and evictions, and so
    /// their removal from the indexes); it otherwise runs as lookups and inserts go.
    pub fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks();
    }

    /// The counters so far.
    pub fn metrics(&self) -> CacheMetrics {
        self.counters.snapshot()
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
