//! The request arguments each route accepts. OpenAI refuses an argument it does not
//! document with 400 `Unrecognized request argument supplied: NAME` (`param` and
//! `code` null); the mock does the same unless the profile's `strict_arguments` is
//! off, so a gateway that leaks its own fields upstream fails here as it would
//! against the real API.
//!
//! The lists are every argument of OpenAI's API reference (and of the official
//! SDKs' request types), so an SDK never trips them, plus vLLM's `ignore_eos` and
//! `min_tokens`, which benchmark tools send and the mock honours.

use std::borrow::Cow;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::validate::invalid;
use crate::error::ApiError;

/// vLLM's sampling extensions, accepted on the generating routes.
const VLLM: [&str; 2] = ["ignore_eos", "min_tokens"];

/// `POST /v1/chat/completions`.
pub(super) const CHAT: &[&str] = &[
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "moderation",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
    VLLM[0],
    VLLM[1],
];

/// `POST /v1/completions` (legacy).
pub(super) const COMPLETIONS: &[&str] = &[
    "model",
    "prompt",
    "best_of",
    "echo",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "suffix",
    "temperature",
    "top_p",
    "user",
    VLLM[0],
    VLLM[1],
];

/// `POST /v1/responses`.
pub(super) const RESPONSES: &[&str] = &[
    "model",
    "input",
    "access_programs",
    "background",
    "context_management",
    "conversation",
    "include",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "moderation",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
];

/// `POST /v1/embeddings`.
pub(super) const EMBEDDINGS: &[&str] = &["model", "input", "dimensions", "encoding_format", "user"];

/// Refuses a JSON object body with an argument not in `allowed`, naming every
/// such argument in the order sent. A body that is not an object passes: the
/// typed parser explains it.
pub(super) fn check(body: &[u8], allowed: &[&str]) -> Result<(), ApiError> {
    let Ok(Unknown(names)) = Unknown::parse(body, allowed) else {
        return Ok(());
    };
    match names.as_slice() {
        [] => Ok(()),
        [one] => Err(invalid(
            "",
            format!("Unrecognized request argument supplied: {one}"),
            None,
        )),
        many => Err(invalid(
            "",
            format!(
                "Unrecognized request arguments supplied: {}",
                many.join(", ")
            ),
            None,
        )),
    }
}

/// The top-level keys of a JSON object that are not allowed; values are skipped
/// without being built, and keys are read in place (only unknown ones are copied).
struct Unknown(Vec<String>);

impl Unknown {
    fn parse(body: &[u8], allowed: &[&str]) -> Result<Unknown, serde_json::Error> {
        match std::str::from_utf8(body) {
            Ok(text) => serde_json::Deserializer::from_str(text).deserialize_map(Keys(allowed)),
            Err(_) => serde_json::Deserializer::from_slice(body).deserialize_map(Keys(allowed)),
        }
    }
}

struct Keys<'a>(&'a [&'a str]);

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = Unknown;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unknown, A::Error> {
        let mut unknown = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            map.next_value::<IgnoredAny>()?;
            if !self.0.contains(&key.as_ref()) {
                unknown.push(key.into_owned());
            }
        }
        Ok(Unknown(unknown))
    }
}

/// An object's key, borrowed from the body unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, allowed: &[&str]) -> Option<String> {
        check(body.as_bytes(), allowed).err().map(|e| {
            let response = axum::response::IntoResponse::into_response(e);
            assert_eq!(response.status(), 400);
            let bytes =
                futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                    .unwrap();
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(value["error"]["type"], "invalid_request_error");
            assert!(value["error"]["param"].is_null());
            assert!(value["error"]["code"].is_null());
            value["error"]["message"].as_str().unwrap().to_owned()
        })
    }

    #[test]
    fn unknown_arguments_are_named_in_the_order_sent() {
        let body = r#"{"model":"m","messages":[],"foo":{"deep":[1,2]},"bar\u0021":1}"#;
        assert_eq!(
            message(body, CHAT).as_deref(),
            Some("Unrecognized request arguments supplied: foo, bar!")
        );
        assert_eq!(
            message(r#"{"model":"m","input":"x","messages":[]}"#, EMBEDDINGS).as_deref(),
            Some("Unrecognized request argument supplied: messages")
        );
    }

    #[test]
    fn names_written_with_escapes_are_read_as_their_text() {
        let body = r#"{"mod\u0065l":"m","messages":[],"b\u0061d":1}"#;
        assert_eq!(
            message(body, CHAT).as_deref(),
            Some("Unrecognized request argument supplied: bad")
        );
    }

    #[test]
    fn documented_arguments_and_non_objects_pass() {
        let body =
            r#"{"model":"m","messages":[],"ignore_eos":true,"min_tokens":3,"verbosity":"low"}"#;
        assert_eq!(message(body, CHAT), None);
        assert_eq!(message("[1,2]", CHAT), None);
        assert_eq!(message("{\"model\": ", CHAT), None);
        assert_eq!(
            message(r#"{"model":"m","prompt":"x","echo":true}"#, COMPLETIONS),
            None
        );
    }
}
