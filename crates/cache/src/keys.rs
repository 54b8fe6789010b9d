//! Cache keys: which requests may share an answer.
//!
//! A chat completion request splits into a **partition** (everything except the
//! last user message that can change the answer) and a **query** (that message's
//! text). Entries are only ever compared with entries of the same partition, so
//! the semantic lookup cannot serve an answer produced under another system
//! prompt, temperature or tool set, nor another tenant's answer.
//!
//! Fields of a chat request and what they do to the key:
//!
//! | field | effect |
//! |---|---|
//! | `model`, all messages before the last, the last message's non-text parts and other fields (`name`) | partition |
//! | `temperature`, `top_p`, `n`, `presence_penalty`, `frequency_penalty` | partition; the documented default (1, 1, 1, 0, 0) or `null` counts as absent |
//! | `max_tokens`, `max_completion_tokens`, `stop`, `seed`, `tools`, `tool_choice`, `functions`, `function_call`, `response_format`, `logit_bias`, `reasoning_effort`, `modalities`, `audio`, `prediction`, ... | partition (any field not listed below is, so an unknown parameter never causes a false hit) |
//! | `parallel_tool_calls` | partition when `tools` is present, ignored otherwise (it has no effect without tools) |
//! | `stream` | ignored: a cached answer is replayed as a stream or not, as asked |
//! | `stream_options` | ignored: it only asks for a usage chunk, which describes this request anyway |
//! | `user`, `safety_identifier`, `prompt_cache_key`, `prompt_cache_retention` | ignored: they identify the caller or tune provider-side caching |
//! | `metadata`, `store`, `service_tier` | ignored: bookkeeping, storage and latency tier, not content |
//! | `logprobs: true`, `top_logprobs` | not cacheable: the answer is about this very sampling; `logprobs: false` is ignored |
//!
//! The exact key is the partition plus the query normalised by trimming, collapsing
//! runs of whitespace to one space and lowercasing (Unicode-aware; no other folding,
//! so "colour" and "color" differ there and meet only in the semantic stage).
//! Keys are 128-bit xxh3 hashes of a canonical serialisation (sorted object keys,
//! one spelling per number, tagged and length-prefixed), with the tenant hashed in.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::CanonicalHasher;

/// Identifies the set of entries a request may be answered from: tenant, model
/// and every parameter that changes the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionKey(pub u128);

/// Identifies one cache entry: a partition plus a normalised query, or a tenant,
/// route and canonical body. Its `Display` (32 hex digits) is stable and is what
/// the gateway reports as the served entry's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExactKey(pub u128);

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Display for ExactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The keys of a cacheable chat completion request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatKeys {
    /// Tenant, model and answer-changing parameters.
    pub partition: PartitionKey,
    /// Partition plus the normalised query.
    pub exact: ExactKey,
    /// The last user message's text as sent (text parts joined by newlines); this
    /// is what gets embedded.
    pub query: String,
}

/// Why a request cannot be served from or stored in the cache.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Uncacheable {
    /// The body is not a JSON object.
    #[error("request body is not a JSON object")]
    NotAnObject,
    /// `model` is missing or not a string.
    #[error("request has no string `model`")]
    NoModel,
    /// `messages` is missing, not an array, or empty.
    #[error("request has no non-empty `messages` array")]
    NoMessages,
    /// The conversation does not end with a user message.
    #[error("last message has role `{role}`, not `user`")]
    LastNotUser {
        /// The last message's role (empty when it has none).
        role: String,
    },
    /// The last user message has no text to match on.
    #[error("last user message has no text")]
    EmptyQuery,
    /// The request asks for output specific to this very call.
    #[error("request asks for `{field}`, which is specific to each call")]
    PerCall {
        /// The field that asked for it.
        field: &'static str,
    },
}

/// Fields that never change the answer (see the module docs for why).
const IGNORED: &[&str] = &[
    "stream",
    "stream_options",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "metadata",
    "store",
    "service_tier",
];

/// Parameters whose documented default is the same as leaving them out.
const DEFAULTS: &[(&str, f64)] = &[
    ("temperature", 1.0),
    ("top_p", 1.0),
    ("n", 1.0),
    ("presence_penalty", 0.0),
    ("frequency_penalty", 0.0),
];

impl ChatKeys {
    /// The keys of a chat completion request for `tenant`, or `None` when it is not
    /// cacheable (see [`ChatKeys::try_from_request`] for the reason).
    pub fn from_request(tenant: &str, request: &Value) -> Option<ChatKeys> {
        Self::try_from_request(tenant, request).ok()
    }

    /// The keys of a chat completion request for `tenant`, or why it is not cacheable.
    pub fn try_from_request(tenant: &str, request: &Value) -> Result<ChatKeys, Uncacheable> {
        let body = request.as_object().ok_or(Uncacheable::NotAnObject)?;
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or(Uncacheable::NoModel)?;
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or(Uncacheable::NoMessages)?;
        if body.get("logprobs").and_then(Value::as_bool) == Some(true) {
            return Err(Uncacheable::PerCall { field: "logprobs" });
        }
        if body.get("top_logprobs").is_some_and(|v| !v.is_null()) {
            return Err(Uncacheable::PerCall {
                field: "top_logprobs",
            });
        }
        let (last, earlier) = messages.split_last().ok_or(Uncacheable::NoMessages)?;
        let role = last.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "user" {
            return Err(Uncacheable::LastNotUser {
                role: role.to_owned(),
            });
        }
        let (query, last_rest) = split_last_message(last);
        if query.trim().is_empty() {
            return Err(Uncacheable::EmptyQuery);
        }

        let mut h = CanonicalHasher::new("gatebench-cache/chat-partition/v1");
        h.tag(b"tenant");
        h.str(tenant);
        h.tag(b"model");
        h.str(model);
        h.tag(b"params");
        let params = answer_params(body);
        h.object(params.into_iter());
        h.tag(b"earlier");
        h.value(&Value::Array(earlier.to_vec()));
        h.tag(b"last");
        h.value(&last_rest);
        let partition = PartitionKey(h.finish());

        let exact = exact_of(partition, &normalise_query(&query));
        Ok(ChatKeys {
            partition,
            exact,
            query,
        })
    }
}

/// The request fields that change the answer, sorted by name, defaults removed.
fn answer_params(body: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let has_tools = body.get("tools").is_some_and(|t| !t.is_null());
    let mut params: Vec<(&String, &Value)> = body
        .iter()
        .filter(|(k, v)| {
            let k = k.as_str();
            let handled = matches!(k, "model" | "messages" | "logprobs" | "top_logprobs");
            // without tools, parallel_tool_calls has nothing to act on
            let inert = k == "parallel_tool_calls" && !has_tools;
            let ignored = handled || inert || IGNORED.contains(&k);
            !ignored && !v.is_null() && !is_default(k, v)
        })
        .collect();
    params.sort_unstable_by(|a, b| a.0.cmp(b.0));
    params
}

fn is_default(key: &str, value: &Value) -> bool {
    DEFAULTS
        .iter()
        .any(|(k, d)| *k == key && value.as_f64() == Some(*d))
}

/// The last message's text, and everything else about it (role, name, non-text
/// parts) as a value for the partition.
fn split_last_message(message: &Value) -> (String, Value) {
    let mut rest = message.as_object().cloned().unwrap_or_default();
    let text = match rest.remove("content") {
        Some(Value::String(s)) => s,
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            let mut others = Vec::new();
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => texts.push(
                        part.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    _ => others.push(part),
                }
            }
            if !others.is_empty() {
                rest.insert("content_parts".to_owned(), Value::Array(others));
            }
            texts.join("\n")
        }
        Some(other) if !other.is_null() => {
            // an unexpected content type goes into the partition as is, so it still
            // separates answers, and leaves no text to match on
            rest.insert("content".to_owned(), other);
            String::new()
        }
        _ => String::new(),
    };
    (text, Value::Object(rest))
}

/// Trims, collapses whitespace runs to one space and lowercases.
pub fn normalise_query(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    for word in query.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

fn exact_of(partition: PartitionKey, normalised: &str) -> ExactKey {
    let mut h = CanonicalHasher::new("gatebench-cache/chat-exact/v1");
    h.u128(partition.0);
    h.str(normalised);
    ExactKey(h.finish())
}

/// The key of an exact-match cache entry (embeddings, text-to-speech): `tenant`,
/// `route` (for example `/v1/text-to-speech/{voice_id}`) and the request body,
/// canonicalised (sorted keys, one spelling per number). A top-level `user` field
/// is ignored, as for chat.
pub fn exact_key(tenant: &str, route: &str, canonical_body: &Value) -> ExactKey {
    let mut h = CanonicalHasher::new("gatebench-cache/exact/v1");
    h.tag(b"tenant");
    h.str(tenant);
    h.tag(b"route");
    h.str(route);
    h.tag(b"body");
    match canonical_body {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> =
                map.iter().filter(|(k, _)| k.as_str() != "user").collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            h.object(fields.into_iter());
        }
        other => h.value(other),
    }
    ExactKey(h.finish())
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
