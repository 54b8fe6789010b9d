//! The `[openai]` profile: shared settings, the models served with their tokenizer,
//! limits and latency, and the simulated prompt cache.
//!
//! The defaults (and their sources) are written out in
//! `scenarios/profiles/default.toml`; a test keeps the two equal.

use std::collections::BTreeMap;
use std::time::Duration;

use gatebench_distr::{Delay, serde_duration};
use serde::{Deserialize, Serialize};

use crate::capacity::CapacityConfig;
use crate::core::ServiceSettings;
use crate::faults::FaultSpec;
use crate::ratelimit::RateLimitConfig;
use gatebench_tokens::Encoding;

/// Profile of the OpenAI-compatible mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiProfile {
    /// See [`ServiceSettings::require_key`].
    pub require_key: bool,
    /// See [`ServiceSettings::api_keys`].
    pub api_keys: Vec<String>,
    /// See [`ServiceSettings::body_limit`].
    pub body_limit: usize,
    /// See [`ServiceSettings::capacity`] (counted per model).
    pub capacity: CapacityConfig,
    /// See [`ServiceSettings::rate_limits`] (counted per API key and model).
    pub rate_limits: RateLimitConfig,
    /// See [`ServiceSettings::faults`].
    pub faults: FaultSpec,
    /// See [`ServiceSettings::call_log_capacity`].
    pub call_log_capacity: usize,
    /// Chat models by id. A profile that lists any replaces the whole table.
    pub chat_models: BTreeMap<String, ChatModel>,
    /// Embedding models by id. A profile that lists any replaces the whole table.
    pub embedding_models: BTreeMap<String, EmbeddingModel>,
    /// The simulated provider prompt cache.
    pub prompt_cache: PromptCacheConfig,
    /// Refuse request arguments the API does not document, as OpenAI does (400
    /// `Unrecognized request argument supplied`); off, they are ignored.
    pub strict_arguments: bool,
    /// Share of requests offering function tools with `tool_choice` `auto` (or
    /// none given) that call one, 0 to 1. `required` or a named function always
    /// calls; `none` never does.
    pub tool_call_share: f64,
    /// Share of answers that call a function (any but a named one) that make two
    /// or three calls at once, 0 to 1; never with `parallel_tool_calls: false`.
    pub parallel_tool_call_share: f64,
}

/// One chat model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatModel {
    /// `owned_by` in `/v1/models`; `deepseek` marks a DeepSeek model, whose usage also
    /// carries DeepSeek's `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`.
    pub owned_by: String,
    /// `created` in `/v1/models` (Unix seconds).
    pub created: u64,
    /// Tokenizer used for `usage`.
    pub tokenizer: Encoding,
    /// Prompt plus completion tokens the model accepts.
    pub context_window: u32,
    /// Largest `max_tokens` / `max_completion_tokens` accepted (at most
    /// 131,072).
    pub max_output_tokens: u32,
    /// Time to first token (TTFT), drawn per request: from when the mock has read
    /// the request to its first content chunk (the role chunk goes out with it; on
    /// the Responses API, the first text delta). The mock's own work on the
    /// request (parsing, counting, planning, admission) is inside it, not added.
    /// Its percentiles are those a client measures, less the network, below
    /// `capacity.soft_limit`; past it, every wait of the request is multiplied by
    /// the load factor fixed at admission. An answer that is not streamed comes
    /// whole `first_token + per_token × tokens` after the request was read.
    pub first_token: Delay,
    /// Time per output token (TPOT), drawn once per request (so a whole request is
    /// fast or slow, as on a real shared backend): the request's mean gap between
    /// content chunks, `(last − first) / (chunks − 1)`. Multiplied by the capacity
    /// factor like `first_token`.
    pub per_token: Delay,
    /// Coefficient of variation (standard deviation over mean) of the gaps between
    /// one stream's content chunks around its time per token: each gap is the time
    /// per token times a log-normal factor, the factors of a stream normalised to
    /// average exactly 1. 0 sends every chunk of a stream exactly one time per
    /// token apart. Gaps pooled over many requests then spread by both draws.
    pub chunk_jitter: f64,
    /// Length of an answer when nothing caps it.
    pub output_tokens: TokenCount,
    /// Set, a reasoning model: the hidden reasoning tokens it spends before an
    /// answer at `reasoning_effort` `medium` (other efforts spend a share of
    /// them; `reasoning.rs`), billed as output and taking `per_token` each
    /// before the first token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<TokenCount>,
}

impl Default for ChatModel {
    fn default() -> Self {
        ChatModel {
            owned_by: "openai".to_owned(),
            created: 1_700_000_000,
            tokenizer: Encoding::O200kBase,
            context_window: 128_000,
            max_output_tokens: 16_384,
            first_token: delay("lognormal(400ms, 1.5s)"),
            per_token: delay("lognormal(12ms, 30ms)"),
            chunk_jitter: DEFAULT_CHUNK_JITTER,
            output_tokens: TokenCount {
                median: 200,
                p99: 900,
            },
            reasoning_tokens: None,
        }
    }
}

/// The chunk gap spread of every default model (sources in `default.toml`).
const DEFAULT_CHUNK_JITTER: f64 = 0.3;

/// Largest `chunk_jitter` accepted: beyond it a stream would be a few long stalls
/// between bursts, not a stream with jitter.
pub(crate) const MAX_CHUNK_JITTER: f64 = 4.0;

/// Largest `max_output_tokens` a profile may give a chat model: 128 Ki, room for
/// gpt-5's 128,000, the most any OpenAI model writes. A request may ask for this
/// many tokens (and 128 choices of it), and the mock writes them all: unbounded,
/// one request could take all the memory there is.
pub(crate) const MAX_OUTPUT_TOKENS: u32 = 131_072;

/// Largest `dimensions` a profile may give an embedding model: 16,384, five times
/// OpenAI's widest (text-embedding-3-large, 3072) and four times the 4096 of the
/// 7B-class open embedding models. Every input's vector is built at that length, so
/// the largest request (2048 inputs) stays within 128 MiB of floats, where
/// `4294967295` would have one request allocate without end.
pub(crate) const MAX_EMBEDDING_DIMENSIONS: u32 = 16_384;

/// A log-normal distribution of token counts, given by its median and 99th
/// percentile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCount {
    /// Median.
    pub median: u32,
    /// 99th percentile.
    pub p99: u32,
}

/// One embedding model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddingModel {
    /// `owned_by` in `/v1/models`.
    pub owned_by: String,
    /// `created` in `/v1/models` (Unix seconds).
    pub created: u64,
    /// Native vector length, from 1 to 16,384; a request's `dimensions` may only
    /// shorten it.
    pub dimensions: u32,
    /// Accepts `dimensions` (shortened, renormalised vectors).
    pub shortening: bool,
    /// Tokens one input may have.
    pub max_input_tokens: u32,
    /// Time before the response, whatever the input, counted from when the mock
    /// read the request (its own work on it is inside this time).
    pub base: Delay,
    /// Extra time per input token (all inputs together).
    pub per_token: Delay,
}

impl Default for EmbeddingModel {
    fn default() -> Self {
        EmbeddingModel {
            owned_by: "system".to_owned(),
            created: 1_700_000_000,
            dimensions: 1536,
            shortening: true,
            max_input_tokens: 8192,
            base: delay("lognormal(120ms, 600ms)"),
            per_token: delay("10us"),
        }
    }
}

/// The simulated prompt cache: a prompt whose first `min_tokens` (or more) tokens
/// were seen recently on the same model gets those tokens billed as cached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptCacheConfig {
    /// Turn the cache off (every `cached_tokens` is 0).
    pub enabled: bool,
    /// Shortest cacheable prefix.
    pub min_tokens: u32,
    /// Cached prefixes grow in steps of this many tokens past `min_tokens`.
    pub increment: u32,
    /// A prefix is forgotten after this long unused.
    #[serde(with = "serde_duration")]
    pub idle: Duration,
    /// A prefix is forgotten this long after it was first cached, used or not.
    #[serde(with = "serde_duration")]
    pub max_age: Duration,
    /// Prefixes remembered at most (each cacheable step of a prompt is one).
    pub capacity: u64,
}

impl Default for PromptCacheConfig {
    fn default() -> Self {
        PromptCacheConfig {
            enabled: true,
            min_tokens: 1024,
            increment: 128,
            idle: Duration::from_secs(5 * 60),
            max_age: Duration::from_secs(60 * 60),
            capacity: 100_000,
        }
    }
}

impl Default for OpenAiProfile {
    fn default() -> Self {
        let s = ServiceSettings::default();
        OpenAiProfile {
            require_key: s.require_key,
            api_keys: s.api_keys,
            body_limit: s.body_limit,
            capacity: CapacityConfig {
                soft_limit: 256,
                hard_limit: 2048,
                slope: 1.0,
            },
            rate_limits: RateLimitConfig {
                requests_per_minute: 30_000,
                tokens_per_minute: 150_000_000,
                concurrent_requests: 0,
            },
            faults: s.faults,
            call_log_capacity: s.call_log_capacity,
            chat_models: default_chat_models(),
            embedding_models: default_embedding_models(),
            prompt_cache: PromptCacheConfig::default(),
            strict_arguments: true,
            tool_call_share: 0.5,
            parallel_tool_call_share: 0.25,
        }
    }
}

impl OpenAiProfile {
    /// The settings every mock shares.
    pub fn settings(&self) -> ServiceSettings {
        ServiceSettings {
            require_key: self.require_key,
            api_keys: self.api_keys.clone(),
            body_limit: self.body_limit,
            capacity: self.capacity.clone(),
            rate_limits: self.rate_limits.clone(),
            faults: self.faults.clone(),
            call_log_capacity: self.call_log_capacity,
        }
    }
}

/// A delay written as in the profile file, so defaults and file agree to the
/// nanosecond. Only called with the constant texts below.
fn delay(text: &str) -> Delay {
    text.parse()
        .unwrap_or_else(|e| panic!("default delay `{text}` does not parse: {e}"))
}

/// The chat models of the default profile (sources in `default.toml`).
fn default_chat_models() -> BTreeMap<String, ChatModel> {
    use Encoding::{Cl100kBase, O200kBase};
    let model = |owned_by: &str,
                 created,
                 tokenizer,
                 (context_window, max_output_tokens),
                 (first_token, per_token),
                 (median, p99)| ChatModel {
        owned_by: owned_by.to_owned(),
        created,
        tokenizer,
        context_window,
        max_output_tokens,
        first_token: delay(first_token),
        per_token: delay(per_token),
        chunk_jitter: DEFAULT_CHUNK_JITTER,
        output_tokens: TokenCount { median, p99 },
        reasoning_tokens: None,
    };
    [
        (
            "gpt-4o",
            model(
                "system",
                1_715_367_049,
                O200kBase,
                (128_000, 16_384),
                ("lognormal(390ms, 1.6s)", "lognormal(12ms, 35ms)"),
                (220, 1000),
            ),
        ),
        (
            "gpt-4o-mini",
            model(
                "system",
                1_721_172_741,
                O200kBase,
                (128_000, 16_384),
                ("lognormal(400ms, 1.5s)", "lognormal(17ms, 35ms)"),
                (200, 900),
            ),
        ),
        (
            "gpt-3.5-turbo",
            model(
                "openai",
                1_677_610_602,
                Cl100kBase,
                (16_385, 4_096),
                ("lognormal(300ms, 1.2s)", "lognormal(13ms, 30ms)"),
                (150, 700),
            ),
        ),
        (
            "gpt-4",
            model(
                "openai",
                1_687_882_411,
                Cl100kBase,
                (8_192, 8_192),
                ("lognormal(650ms, 2.5s)", "lognormal(33ms, 80ms)"),
                (180, 800),
            ),
        ),
        (
            "deepseek-chat",
            model(
                "deepseek",
                1_735_171_200,
                O200kBase,
                (128_000, 8_192),
                ("lognormal(2s, 8s)", "lognormal(20ms, 45ms)"),
                (250, 1100),
            ),
        ),
        (
            "gpt-5-mini",
            ChatModel {
                reasoning_tokens: Some(TokenCount {
                    median: 600,
                    p99: 4000,
                }),
                ..model(
                    "system",
                    1_754_524_800,
                    O200kBase,
                    (400_000, 128_000),
                    ("lognormal(500ms, 2s)", "lognormal(8ms, 20ms)"),
                    (250, 1200),
                )
            },
        ),
    ]
    .into_iter()
    .map(|(id, m)| (id.to_owned(), m))
    .collect()
}

/// The embedding models of the default profile.
fn default_embedding_models() -> BTreeMap<String, EmbeddingModel> {
    let model = |owned_by: &str, created, dimensions, shortening, base| EmbeddingModel {
        owned_by: owned_by.to_owned(),
        created,
        dimensions,
        shortening,
        max_input_tokens: 8192,
        base: delay(base),
        per_token: delay("10us"),
    };
    [
        (
            "text-embedding-3-small",
            model(
                "system",
                1_705_948_997,
                1536,
                true,
                "lognormal(110ms, 500ms)",
            ),
        ),
        (
            "text-embedding-3-large",
            model(
                "system",
                1_705_953_180,
                3072,
                true,
                "lognormal(150ms, 700ms)",
            ),
        ),
        (
            "text-embedding-ada-002",
            model(
                "openai-internal",
                1_671_217_299,
                1536,
                false,
                "lognormal(120ms, 600ms)",
            ),
        ),
    ]
    .into_iter()
    .map(|(id, m)| (id.to_owned(), m))
    .collect()
}
