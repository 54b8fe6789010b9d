//! The mocks' books: every call a mock served, as its control API serves them
//! (`GET /_mock/calls`, `GET /_mock/books`).
//!
//! The books are the ground truth of a run: a suite compares what a target claims
//! (its cost headers, cache headers, ledger) with what the mocks actually served.
//! Content is identified by a [`digest`], so a client can tell which call an answer
//! came from without the mock keeping the text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// The digest of a piece of content: XXH3-64 of its UTF-8 bytes, 16 lowercase hex
/// digits. For a chat completion, the text of the first choice as delivered; for
/// speech, the audio bytes; for a prompt, the last user message's text.
pub fn digest(bytes: &[u8]) -> String {
    hex(hash(bytes))
}

/// The 64-bit value a [`digest`] spells.
pub fn hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// A [`hash`] as a [`digest`].
pub fn hex(hash: u64) -> String {
    crate::hex::with_prefix("", hash, 16)
}

/// The W3C trace id (32 hex digits) a client derives from its own request id, so
/// that a call carrying `traceparent` (trace ids survive every hop of a traced
/// service; parent span ids do not) can be tied back to the request.
pub fn trace_id(request_id: &str) -> String {
    format!(
        "{:032x}",
        xxhash_rust::xxh3::xxh3_128(request_id.as_bytes())
    )
}

/// The trace id of a `traceparent` header (`00-TRACEID-PARENTID-FLAGS`).
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let _version = parts.next()?;
    parts.next().filter(|t| t.len() == 32)
}

/// The id a mock gives an API key in its books and usage reports: `key_` and 16 hex
/// digits of the key's XXH3-64. The key itself is never stored.
pub fn key_id(key: &str) -> String {
    key_id_of(hash(key.as_bytes()))
}

/// [`key_id`] from the key's [`hash`].
pub fn key_id_of(hash: u64) -> String {
    format!("key_{hash:016x}")
}

/// Units a call used, exactly as the mock reported (or, for a cut stream, delivered).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallUsage {
    /// Prompt (input) tokens, cached ones included.
    pub input_tokens: u64,
    /// Of the input tokens, those served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Completion (output) tokens.
    pub output_tokens: u64,
    /// Billed characters (`character-cost`).
    pub characters: u64,
    /// Audio produced, milliseconds.
    pub audio_ms: u64,
    /// Billed requests (1 for a billed call of a service priced per request).
    pub requests: u64,
}

impl CallUsage {
    /// Adds another call's units.
    pub fn add(&mut self, other: &CallUsage) {
        self.input_tokens += other.input_tokens;
        self.cached_tokens += other.cached_tokens;
        self.output_tokens += other.output_tokens;
        self.characters += other.characters;
        self.audio_ms += other.audio_ms;
        self.requests += other.requests;
    }

    /// True when every unit is zero.
    pub fn is_zero(&self) -> bool {
        *self == CallUsage::default()
    }
}

/// One call a mock served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Position in the mock's books, from 1, increasing.
    pub id: u64,
    /// Which mock (`openai`, `elevenlabs`, `personality`, `webvtt`).
    pub mock: String,
    /// When the request arrived, Unix milliseconds.
    pub at_ms: u64,
    /// From arrival until the answer's last byte left (or the call ended), ms.
    pub duration_ms: f64,
    /// The route (`/v1/chat/completions`, `/v1/text-to-speech/{voice_id}`).
    pub route: String,
    /// [`key_id`] of the API key the call came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The model (or ElevenLabs `model_id`) served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The voice (text to speech).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// `ok`, an injected fault (`fault_unavailable`, `fault_stream_cut`, ...),
    /// `rate_limited`, `overloaded`, `unauthorized`, `too_large`, `client_error`,
    /// `server_error`, or `client_closed` (the client left before the answer ended).
    pub outcome: String,
    /// HTTP status sent (0 when none was).
    pub status: u16,
    /// A streamed answer.
    pub stream: bool,
    /// The whole answer was delivered.
    pub complete: bool,
    /// The call is on the provider's bill (see `usage`).
    pub billed: bool,
    /// Billed units: zero unless `billed`.
    pub usage: CallUsage,
    /// [`digest`] of the content delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
    /// [`digest`] of the prompt (the last user message; the text to speak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_digest: Option<String>,
    /// Id of the answer (`chatcmpl-…`, a history item id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// The mock's request id (its `x-request-id` / `request-id` header).
    pub request_id: String,
    /// `traceparent` the request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// `x-request-id` the request carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
}

/// A page of the call log (`GET /_mock/calls?after=ID&limit=N`), oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallPage {
    /// Which mock.
    pub mock: String,
    /// Calls with ids after `after`.
    pub data: Vec<CallRecord>,
    /// More calls follow this page.
    pub has_more: bool,
    /// The `after` of the next page (the last id of this one, or `after`).
    pub next_after: u64,
    /// The oldest id still in the log (0 when empty): calls before it were dropped.
    pub first_id: u64,
    /// The newest id (0 when none was recorded).
    pub last_id: u64,
    /// Calls dropped from the log since the last reset to keep it within `capacity`.
    pub dropped: u64,
    /// Calls the log keeps at most.
    pub capacity: usize,
    /// Requests one API key may have in flight at this mock (its profile's
    /// `rate_limits.concurrent_requests`; 0 = no limit). While a key is at it, the
    /// provider has no room for that key's next request.
    #[serde(default)]
    pub concurrent_per_key: u32,
}

/// Totals of one group of calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Calls served (every outcome).
    pub calls: u64,
    /// Calls on the bill.
    pub billed: u64,
    /// Billed units.
    pub usage: CallUsage,
}

impl Tally {
    /// Counts one call.
    pub fn add(&mut self, record: &CallRecord) {
        self.calls += 1;
        if record.billed {
            self.billed += 1;
            self.usage.add(&record.usage);
        }
    }
}

/// A mock's books in summary (`GET /_mock/books`): exact totals since start or the
/// last reset, however many raw calls the log had to drop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BooksSummary {
    /// Which mock.
    pub mock: String,
    /// Every call.
    pub total: Tally,
    /// By model (calls without a model under `""`).
    pub by_model: BTreeMap<String, Tally>,
    /// By [`key_id`] (calls without a key under `""`).
    pub by_key: BTreeMap<String, Tally>,
    /// By outcome.
    pub by_outcome: BTreeMap<String, u64>,
    /// The newest call id.
    pub last_id: u64,
    /// Calls dropped from the raw log.
    pub dropped: u64,
    /// Calls the raw log keeps at most.
    pub capacity: usize,
    /// Unix milliseconds of the start or last reset.
    pub since_ms: u64,
}

/// Where the mocks of one set listen (`GET /_mock/set`), so a suite given one mock's
/// URL finds the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockSet {
    /// Base URL by mock name.
    pub mocks: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_key_ids_are_fixed_width_hex() {
        let d = digest(b"Once upon a time");
        assert_eq!(d.len(), 16);
        assert!(
            d.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase())
        );
        assert_eq!(d, digest("Once upon a time".as_bytes()));
        assert_ne!(d, digest(b"Once upon a time."));
        let k = key_id("sk-test");
        assert!(k.starts_with("key_") && k.len() == 20, "{k}");
        let t = trace_id("gb-1-1");
        assert_eq!(t.len(), 32);
        let header = format!("00-{t}-00f067aa0ba902b7-01");
        assert_eq!(trace_id_of(&header), Some(t.as_str()));
        assert_eq!(trace_id_of("garbage"), None);
    }

    #[test]
    fn a_tally_counts_units_of_billed_calls_only() {
        let mut record = CallRecord {
            id: 1,
            mock: "openai".into(),
            at_ms: 0,
            duration_ms: 1.0,
            route: "/v1/chat/completions".into(),
            api_key_id: None,
            model: Some("gpt-4o-mini".into()),
            voice: None,
            outcome: "ok".into(),
            status: 200,
            stream: false,
            complete: true,
            billed: true,
            usage: CallUsage {
                input_tokens: 10,
                output_tokens: 5,
                ..CallUsage::default()
            },
            content_digest: None,
            prompt_digest: None,
            response_id: None,
            request_id: "req_1".into(),
            traceparent: None,
            client_request_id: None,
        };
        let mut tally = Tally::default();
        tally.add(&record);
        record.billed = false;
        tally.add(&record);
        assert_eq!((tally.calls, tally.billed), (2, 1));
        assert_eq!(tally.usage.input_tokens, 10);
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<CallRecord>(&json).unwrap(), record);
    }
}
