//! The gateway's shared state: everything a request needs, built once at start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gatebench_cache::{CacheConfig, ExactCache, SemanticCache};
use gatebench_cost::{Budget, Budgets, Ledger, LedgerError, PriceBook, PricingError};
use gatebench_embed::Embedder;
use gatebench_wire::openai::ToolCall;
use http::{HeaderMap, StatusCode};

use crate::auth::Auth;
use crate::config::GatewayConfig;
use crate::metrics::Metrics;
use crate::stored::Stored;
use crate::upstream::{UpstreamError, Upstreams};

/// A cached chat completion: what is needed to answer again, as JSON or as a stream.
#[derive(Clone, Debug)]
pub struct CachedChat {
    /// The model that produced it.
    pub model: String,
    /// Provider that served it.
    pub provider: String,
    /// Choices: text and finish reason.
    pub choices: Vec<CachedChoice>,
    /// Completion tokens of all choices.
    pub completion_tokens: u64,
    /// Of them, the hidden reasoning tokens of a reasoning model, stated again
    /// by a hit's usage.
    pub reasoning_tokens: u64,
    /// Prompt tokens the provider served from its own prompt cache for the call
    /// that produced it: what a hit saves is priced with them, as the provider
    /// would have billed the call again.
    pub cached_tokens: u64,
    /// The provider's `system_fingerprint`, if any.
    pub system_fingerprint: Option<String>,
}

/// One cached choice.
#[derive(Clone, Debug)]
pub struct CachedChoice {
    /// Text (`None` when the model only called tools, as the provider said).
    pub content: Option<String>,
    /// The tool calls the model made, replayed as they were: a hit without them
    /// would answer a tool call with `finish_reason: tool_calls` and nothing to call.
    pub tool_calls: Vec<ToolCall>,
    /// Finish reason.
    pub finish_reason: String,
}

/// A cached exact-match response (embeddings, text-to-speech).
#[derive(Clone, Debug)]
pub struct CachedBody {
    /// Status (always a success).
    pub status: StatusCode,
    /// Headers worth replaying (content type, character cost).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Model that produced it.
    pub model: String,
    /// Provider that served it.
    pub provider: String,
}

/// Chat bodies whose prompt count is remembered.
const PROMPT_COUNTS: u64 = 100_000;

/// Everything requests share.
pub struct Gateway {
    /// Configuration it started with.
    pub config: GatewayConfig,
    /// Keys → tenants.
    pub auth: Auth,
    /// Providers, routes, queues, circuits.
    pub upstreams: Upstreams,
    /// Prices.
    pub prices: PriceBook,
    /// Budgets per tenant.
    pub budgets: Budgets,
    /// The cost ledger.
    pub ledger: Ledger,
    /// Chat completions by similarity.
    pub chat_cache: SemanticCache<CachedChat>,
    /// Embeddings and text-to-speech by exact match.
    pub exact_cache: ExactCache<CachedBody>,
    /// Query embeddings for the semantic cache (local source).
    pub embedder: Embedder,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Who made each stored response it relayed, and where it is.
    pub stored: Stored,
    /// Prompt token counts by request body: counting is the costliest step of a
    /// chat request's admission, and load repeats bodies. The key is a hash
    /// already: SipHash over it again cost about as much as the rest of a hit.
    prompt_counts: moka::sync::Cache<u128, u64, foldhash::fast::RandomState>,
    boot: u64,
    next_id: AtomicU64,
}

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A price file is wrong.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// The configured price folder cannot be used.
    #[error("pricing.dir = {dir:?} (a path from the working directory): {source}")]
    PricingDir {
        /// The folder as configured.
        dir: String,
        /// Why (boxed: a price file's error is large, and this one is rare).
        source: Box<PricingError>,
    },
    /// The ledger database could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Upstream settings are wrong.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("tenants", &self.config.tenants.len())
            .field("providers", &self.upstreams.providers().len())
            .field("cached_chats", &self.chat_cache.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds the gateway from its configuration; `ledger` is a SQLite file path or
    /// `:memory:`. Budgets resume from what the ledger says was spent.
    pub fn new(config: GatewayConfig, ledger: &str) -> Result<Arc<Gateway>, StartError> {
        let prices = match &config.pricing.dir {
            Some(dir) => PriceBook::load_dir(dir).map_err(|source| StartError::PricingDir {
                dir: dir.clone(),
                source: Box::new(source),
            })?,
            None => PriceBook::shipped()?,
        }
        .with_fallback(config.pricing.fallback)?;
        let ledger = Ledger::open(ledger)?;
        let budgets = Budgets::new();
        for tenant in &config.tenants {
            budgets.set_budget(
                &tenant.id,
                Budget {
                    limit: tenant.budget_usd,
                },
            );
        }
        budgets.restore_spent(&ledger);
        let cache = &config.cache;
        let chat_cache = SemanticCache::new(CacheConfig {
            threshold: cache.threshold,
            ttl: cache.ttl,
            max_entries: cache.max_entries,
            ..CacheConfig::default()
        });
        let exact_cache = ExactCache::new(cache.ttl, cache.max_entries);
        let embedder = Embedder::new(&cache.embedding_model, cache.dimensions);
        let upstreams = Upstreams::new(&config)?;
        let boot = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        Ok(Arc::new(Gateway {
            auth: Auth::new(&config.tenants),
            upstreams,
            prices,
            budgets,
            ledger,
            chat_cache,
            exact_cache,
            embedder,
            metrics: Metrics::default(),
            stored: Stored::default(),
            prompt_counts: moka::sync::Cache::builder()
                .max_capacity(PROMPT_COUNTS)
                .build_with_hasher(foldhash::fast::RandomState::default()),
            boot,
            next_id: AtomicU64::new(1),
            config,
        }))
    }

    /// The prompt tokens of a chat body, counted by `count` the first time it is seen.
    pub fn prompt_tokens(&self, body: &[u8], count: impl FnOnce() -> u64) -> u64 {
        let key = xxhash_rust::xxh3::xxh3_128(body);
        if let Some(n) = self.prompt_counts.get(&key) {
            return n;
        }
        let n = count();
        self.prompt_counts.insert(key, n);
        n
    }

    /// A fresh request id, unique within this gateway's ledger across restarts.
    pub fn request_id(&self) -> String {
        let mut id = gatebench_wire::hex::with_prefix("gb-", self.boot, 1);
        id.push('-');
        gatebench_wire::hex::push(&mut id, self.next_id.fetch_add(1, Ordering::Relaxed), 6);
        id
    }
}
