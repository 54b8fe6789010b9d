//! The headers that tell a caller what the gateway did with its request, and the
//! upstream headers passed back to it.
//!
//! | header                          | value                                               |
//! |---------------------------------|-----------------------------------------------------|
//! | `x-gatebench-request-id`        | the gateway's id (also in the ledger)               |
//! | `x-gatebench-cache`             | `hit`, `miss` or `bypass`                           |
//! | `x-gatebench-cache-similarity`  | cosine similarity of the entry served (hits)        |
//! | `x-gatebench-cache-key`         | the cache entry served (hit) or stored (miss)       |
//! | `x-gatebench-cost-usd`          | exact cost of this call (streams: an SSE comment `: x-gatebench-cost-usd COST` before `[DONE]`) |
//! | `x-gatebench-provider`          | the provider that answered                          |
//! | `x-gatebench-model`             | the model that answered (differs after a fallback)  |
//! | `x-gatebench-attempts`          | upstream attempts made, retries and fallbacks included |
//! | `server-timing`                 | queue, cache, upstream and total durations          |

use gatebench_cost::CacheOutcome;
use http::{HeaderMap, HeaderName, HeaderValue};
use rust_decimal::Decimal;

use crate::meta::Meta;

/// What to report about one request.
#[derive(Debug, Default)]
pub struct Report {
    /// Cache outcome (bypass when unset).
    pub cache: Option<CacheOutcome>,
    /// Similarity of a hit.
    pub similarity: Option<f32>,
    /// Entry served or stored.
    pub cache_key: Option<String>,
    /// Cost, when known at header time.
    pub cost: Option<Decimal>,
    /// Provider that answered.
    pub provider: Option<String>,
    /// Model that answered.
    pub model: Option<String>,
    /// Upstream attempts.
    pub attempts: u32,
}

fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

impl Report {
    /// Writes the report into `headers` (server-timing measured now).
    pub fn write(&self, meta: &Meta, headers: &mut HeaderMap) {
        put(headers, "x-gatebench-request-id", &meta.id);
        put(
            headers,
            "x-gatebench-cache",
            self.cache.unwrap_or(CacheOutcome::Bypass).as_str(),
        );
        if let Some(similarity) = self.similarity {
            put(
                headers,
                "x-gatebench-cache-similarity",
                &format!("{similarity:.4}"),
            );
        }
        if let Some(key) = &self.cache_key {
            put(headers, "x-gatebench-cache-key", key);
        }
        if let Some(cost) = self.cost {
            put(
                headers,
                "x-gatebench-cost-usd",
                &cost.normalize().to_string(),
            );
        }
        if let Some(provider) = &self.provider {
            put(headers, "x-gatebench-provider", provider);
        }
        if let Some(model) = &self.model {
            put(headers, "x-gatebench-model", model);
        }
        put(headers, "x-gatebench-attempts", &self.attempts.to_string());
        headers.insert(
            HeaderName::from_static("server-timing"),
            meta.timing.header(),
        );
    }
}

/// Upstream response headers worth passing back: the content type and the
/// provider's own metadata (rate limits, request ids, character cost), never
/// hop-by-hop or length headers (the gateway sets its own framing).
pub fn passthrough(upstream: &HeaderMap) -> HeaderMap {
    const DROP: [&str; 8] = [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "upgrade",
        "te",
        "trailer",
        "proxy-connection",
    ];
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if DROP.contains(&n)
            || n.starts_with("x-gatebench-")
            || n == "server-timing"
            || n == "date"
            || n == "server"
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}
