//! Semantic response cache.
//!
//! The gateway answers a chat completion from cache when an earlier request of the
//! same tenant, model and answer-changing parameters (the *partition*, see
//! [`keys`]) asked the same thing, exactly or in other words:
//!
//! 1. [`ChatKeys::from_request`] derives the partition, the exact key and the query
//!    text from the request body;
//! 2. [`SemanticCache::lookup`] tries the exact key, then (embedding the query only
//!    then) the most similar entry of the partition at or above the threshold;
//! 3. on a miss the caller fetches the answer and [`SemanticCache::insert`]s it
//!    with the vector the miss carried.
//!
//! Embeddings and text-to-speech responses repeat only verbatim: they go in an
//! [`ExactCache`] keyed by [`exact_key`].
//!
//! The library knows nothing of HTTP or of how vectors are made: callers pass them in.

mod cache;
mod canonical;
mod exact;
mod index;
pub mod keys;
mod metrics;
mod partitions;
mod rotation;
mod shortlist;

pub use cache::{CacheConfig, CacheError, Hit, HitKind, Lookup, Miss, SemanticCache};
pub use exact::ExactCache;
pub use index::{EntryId, IndexConfig, IndexError, VectorIndex};
pub use keys::{ChatKeys, ExactKey, PartitionKey, Uncacheable, exact_key, normalise_query};
pub use metrics::CacheMetrics;
pub use partitions::PartitionError;
pub use rotation::Rotation;
