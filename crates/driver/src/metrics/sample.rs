//! What one finished request reports to the aggregator.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::Usage;
use crate::Outcome;

/// What the gateway said about a response in its headers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatewayInfo {
    /// `x-gatebench-cache`: `hit`, `miss` or `bypass`.
    pub cache: Option<String>,
    /// `x-gatebench-cache-similarity`.
    pub similarity: Option<f64>,
    /// `x-gatebench-cache-key`: the entry served on a hit.
    pub cache_key: Option<String>,
    /// `x-gatebench-cost-usd`, exact.
    pub cost_usd: Option<Decimal>,
    /// `x-gatebench-provider`.
    pub provider: Option<String>,
    /// `x-gatebench-attempts`.
    pub attempts: Option<u32>,
    /// `x-gatebench-model`.
    pub model: Option<String>,
    /// `x-gatebench-request-id`: the gateway's id of the call (its ledger's `request_id`).
    pub request_id: Option<String>,
    /// `server-timing` parts: name and duration in milliseconds.
    pub server_timing: Vec<(String, f64)>,
}

impl GatewayInfo {
    /// Whether any gateway header was present.
    pub fn is_empty(&self) -> bool {
        *self == GatewayInfo::default()
    }
}

/// What a traced request sent and received, for judging it against the truth the
/// mocks keep (their books) and against what the target claimed in its headers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The `x-request-id` the driver sent.
    pub client_request_id: String,
    /// Digest of the prompt sent (`gatebench_wire::books::digest` of the wording).
    pub prompt_digest: Option<String>,
    /// Digest of the content received (a chat answer's first choice, reassembled
    /// from a stream).
    pub content_digest: Option<String>,
    /// The answer's `id`.
    pub response_id: Option<String>,
    /// The first choice's `finish_reason`.
    pub finish_reason: Option<String>,
    /// Chat content chunks received (streams).
    pub chunks: Option<u64>,
    /// Headers the run was asked to capture, as received.
    pub claims: Vec<(String, String)>,
}

/// What an error answer said (boxed in a [`Sample`]: most requests have none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Said(pub String);

/// One finished (or dropped) request.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Global index of the request in the file (scenario order, then request order).
    pub request: u32,
    /// Outcome.
    pub outcome: Outcome,
    /// HTTP status (0 when none arrived).
    pub status: u16,
    /// Intended send time, µs since the run started.
    pub intended_us: u64,
    /// Actual send time, µs since the run started.
    pub sent_us: u64,
    /// End (last byte or failure), µs since the run started.
    pub end_us: u64,
    /// Response headers, µs after the send.
    pub ttfb_us: Option<u64>,
    /// First non-empty content, µs after the send (streams).
    pub ttft_us: Option<u64>,
    /// Inter-token latency, µs (streams): first content to last over the tokens
    /// after the first.
    pub itl_us: Option<u64>,
    /// Completion tokens per second of generation.
    pub tokens_per_s: Option<f64>,
    /// Response body bytes.
    pub bytes: u64,
    /// Usage from the body.
    pub usage: Option<Usage>,
    /// `character-cost` header of TTS responses.
    pub tts_characters: Option<u64>,
    /// Gateway headers, when any were present.
    pub gateway: Option<Box<GatewayInfo>>,
    /// What an error answer said.
    pub error: Option<Box<Said>>,
    /// Catalog entry the payload came from.
    pub intent: Option<Arc<str>>,
    /// What a traced request saw (runs that keep request records).
    pub trace: Option<Box<Trace>>,
}

impl Sample {
    /// Latency from the intended send time, µs.
    pub fn latency_us(&self) -> u64 {
        self.end_us.saturating_sub(self.intended_us)
    }

    /// Latency from the actual send time, µs.
    pub fn latency_uncorrected_us(&self) -> u64 {
        self.end_us.saturating_sub(self.sent_us)
    }
}
