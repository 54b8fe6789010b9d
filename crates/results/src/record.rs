//! One compact record per request, kept when a run asks for them.
//!
//! Suites judge cache false hits (the request's intent against the entry the gateway
//! served), cost accuracy (the usage each response carried against the cost it was
//! billed) and queue wait by priority from these.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Token usage a response carried (`usage`, or the final stream chunk's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// `prompt_tokens`.
    pub prompt_tokens: u64,
    /// `completion_tokens`.
    pub completion_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
}

/// One request as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Scenario name.
    pub scenario: String,
    /// Request name.
    pub request: String,
    /// Kind name.
    pub kind: String,
    /// Catalog entry (intent, text or profile id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// `x-gatebench-priority` sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Intended send time, ms since the run started.
    pub intended_ms: f64,
    /// Actual send time, ms since the run started.
    pub sent_ms: f64,
    /// Latency from the intended time, ms.
    pub latency_ms: f64,
    /// Latency from the actual send time, ms.
    pub latency_uncorrected_ms: f64,
    /// Time to response headers, ms after the send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    /// Time to first token, ms after the send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// HTTP status (0 when none).
    pub status: u16,
    /// Outcome class.
    pub outcome: String,
    /// Usage from the body or final stream chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// TTS `character-cost`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tts_characters: Option<u64>,
    /// `x-gatebench-cache`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// `x-gatebench-cache-similarity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_similarity: Option<f64>,
    /// `x-gatebench-cache-key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// `x-gatebench-cost-usd`, exact, as a decimal string.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option",
        default
    )]
    pub cost_usd: Option<Decimal>,
    /// `x-gatebench-provider`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// `x-gatebench-attempts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// `x-gatebench-model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `x-gatebench-request-id`, to find the call in the gateway's ledger.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// `server-timing` parts, ms.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub server_timing: BTreeMap<String, f64>,
    /// The `x-request-id` the driver sent, which a target may forward upstream.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_request_id: Option<String>,
    /// Digest of the prompt (or text) sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prompt_digest: Option<String>,
    /// Digest of the content received (a chat answer's first choice).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_digest: Option<String>,
    /// The answer's `id`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response_id: Option<String>,
    /// The first choice's `finish_reason`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finish_reason: Option<String>,
    /// Content chunks of the first choice received (streams).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chunks: Option<u64>,
    /// Headers the run captured (a target's claims: cost, cache status, ids).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub claims: BTreeMap<String, String>,
}
