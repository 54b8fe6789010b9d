//! The headers in which a gatebench gateway tells the caller what it did with a
//! request: the gateway writes them, the driver reads them.

use http::HeaderName;

/// The gateway's id of the request (also in its ledger).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-gatebench-request-id");
/// `hit`, `miss` or `bypass`.
pub const CACHE: HeaderName = HeaderName::from_static("x-gatebench-cache");
/// Cosine similarity of the cache entry a hit served.
pub const SIMILARITY: HeaderName = HeaderName::from_static("x-gatebench-cache-similarity");
/// The cache entry served (hit) or stored (miss).
pub const CACHE_KEY: HeaderName = HeaderName::from_static("x-gatebench-cache-key");
/// The exact cost of the call, in USD.
pub const COST: HeaderName = HeaderName::from_static("x-gatebench-cost-usd");
/// The provider that answered.
pub const PROVIDER: HeaderName = HeaderName::from_static("x-gatebench-provider");
/// The model that answered (differs from the one asked for after a fallback).
pub const MODEL: HeaderName = HeaderName::from_static("x-gatebench-model");
/// Upstream attempts, retries and fallbacks included.
pub const ATTEMPTS: HeaderName = HeaderName::from_static("x-gatebench-attempts");
/// Queue, cache, upstream and total durations (W3C Server Timing).
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
