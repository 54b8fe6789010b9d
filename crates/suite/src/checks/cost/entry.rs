//! A ledger entry as `GET /v1/gatebench/ledger` serves it, read into the check's
//! own types (money as exact decimals). Unknown fields are ignored: an external
//! gateway may say more than gatebench's does.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::prices::Prices;

/// The billable units of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Units {
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Of the prompt, tokens served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Billed characters (text to speech).
    pub characters: u64,
    /// Requests (services).
    pub requests: u64,
}

/// The unit names, in the order they are reported.
pub const UNIT_FIELDS: [&str; 5] = [
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "characters",
    "requests",
];

impl Units {
    /// The unit named by one of [`UNIT_FIELDS`].
    pub fn get(&self, field: &str) -> u64 {
        match field {
            "prompt_tokens" => self.prompt_tokens,
            "cached_tokens" => self.cached_tokens,
            "completion_tokens" => self.completion_tokens,
            "characters" => self.characters,
            "requests" => self.requests,
            _ => 0,
        }
    }
}

/// An entry's flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Flags {
    /// The gateway counted the usage itself.
    pub estimated: bool,
    /// Billed at the fallback price.
    pub priced_by_fallback: bool,
    /// The upstream call failed.
    pub failed: bool,
}

/// One ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Ledger id.
    pub id: u64,
    /// The gateway's request id.
    pub request_id: String,
    /// Provider that served.
    pub provider: String,
    /// Model that served.
    pub model: String,
    /// `chat`, `embeddings`, `tts`, `personality` or `webvtt`.
    pub kind: String,
    /// Billed units.
    #[serde(default)]
    pub usage: Units,
    /// Unit prices applied.
    #[serde(default)]
    pub prices: Prices,
    /// Cost.
    pub cost_usd: Decimal,
    /// `hit`, `miss` or `bypass`.
    pub cache: String,
    /// Saved by a cache hit.
    pub saved_usd: Decimal,
    /// Upstream attempts.
    #[serde(default)]
    pub attempts: u32,
    /// Flags.
    #[serde(default)]
    pub flags: Flags,
}

impl Entry {
    /// Reads one entry of the ledger endpoint.
    pub fn parse(value: &Value) -> Result<Entry, String> {
        Entry::deserialize(value).map_err(|e| e.to_string())
    }

    /// Served from the gateway's cache.
    pub fn is_hit(&self) -> bool {
        self.cache == "hit"
    }
}

/// An entry that could not be read: its request id (if any) and why.
pub fn unreadable_id(value: &Value) -> String {
    value
        .get("request_id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}
