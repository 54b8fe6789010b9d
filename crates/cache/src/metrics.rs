//! Counters of cache outcomes, shared by the cache and its eviction listener.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A snapshot of a cache's counters since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheMetrics {
    /// Lookups answered by the exact-match fast path.
    pub exact_hits: u64,
    /// Lookups answered by similarity.
    pub semantic_hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Misses whose nearest entry, similar enough, is negated where the query is
    /// not or the other way round ([`gatebench_embed::Polarity`]).
    pub opposed: u64,
    /// Misses whose nearest entry, similar enough, names other numbers than the
    /// query ([`gatebench_embed::Figures`]).
    pub other_figures: u64,
    /// Entries stored.
    pub inserts: u64,
    /// Entries removed because their time to live passed.
    pub expired: u64,
    /// Entries evicted to stay within capacity.
    pub evicted: u64,
}

impl CacheMetrics {
    /// All hits.
    pub fn hits(&self) -> u64 {
        self.exact_hits + self.semantic_hits
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) exact_hits: AtomicU64,
    pub(crate) semantic_hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) opposed: AtomicU64,
    pub(crate) other_figures: AtomicU64,
    pub(crate) inserts: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) evicted: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CacheMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheMetrics {
            exact_hits: get(&self.exact_hits),
            semantic_hits: get(&self.semantic_hits),
            misses: get(&self.misses),
            opposed: get(&self.opposed),
            other_figures: get(&self.other_figures),
            inserts: get(&self.inserts),
            expired: get(&self.expired),
            evicted: get(&self.evicted),
        }
    }
}
