//! The request arguments each route accepts. OpenAI refuses an argument it does not
//! document with 400 `Unrecognized request argument supplied: NAME` (`param` and
//! `code` null); the mock does the same unless the profile's `strict_arguments` is
//! off, so a gateway that leaks its own fields upstream fails here as it would
//! against the real API.
//!
//! The lists are every argument of OpenAI's API reference (and of the official
//! SDKs' request types), so an SDK never trips them, plus vLLM's `ignore_eos` and
//! `min_tokens`, which benchmark tools send and the mock honours.

use serde::de::DeserializeOwned;
use serde_ignored::Path;

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
    VLLM[0],
    VLLM[1],
];

/// `POST /v1/embeddings`.
pub(super) const EMBEDDINGS: &[&str] = &["model", "input", "dimensions", "encoding_format", "user"];

/// Parses a JSON body as `T` and names its top-level arguments not in `allowed`,
/// in the order sent, in the same pass. `None` if the body does not parse: the
/// typed parser explains why.
pub(super) fn parse<T: DeserializeOwned>(
    body: &[u8],
    allowed: &[&str],
) -> Option<(T, Vec<String>)> {
    if !crate::error::opens_an_object(body) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = serde_ignored::deserialize(&mut de, |path| {
        if let Path::Map {
            parent: Path::Root,
            key,
        } = path
            && !allowed.contains(&key.as_str())
        {
            unknown.push(key);
        }
    })
    .ok()?;
    de.end().ok()?;
    Some((parsed, unknown))
}

/// OpenAI's refusal of `unknown` arguments, naming each; none is fine.
pub(super) fn refuse(unknown: &[String]) -> Result<(), ApiError> {
    match unknown {
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

#[cfg(test)]
mod tests {
    use gatebench_wire::openai::{
        ChatCompletionRequest, CompletionRequest, EmbeddingRequest, ResponseRequest,
    };
    use serde::de::{self, Deserializer, Visitor};

    use super::*;

    /// The refusal's message for `body` parsed as `T`, if it is refused.
    fn message<T: DeserializeOwned>(body: &str, allowed: &[&str]) -> Option<String> {
        let (_, unknown) = parse::<T>(body.as_bytes(), allowed).expect("the body parses");
        refuse(&unknown).err().map(|e| {
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
            message::<ChatCompletionRequest>(body, CHAT).as_deref(),
            Some("Unrecognized request arguments supplied: foo, bar!")
        );
        assert_eq!(
            message::<EmbeddingRequest>(r#"{"model":"m","input":"x","messages":[]}"#, EMBEDDINGS)
                .as_deref(),
            Some("Unrecognized request argument supplied: messages")
        );
    }

    #[test]
    fn names_written_with_escapes_are_read_as_their_text() {
        let body = r#"{"mod\u0065l":"m","messages":[],"b\u0061d":1}"#;
        assert_eq!(
            message::<ChatCompletionRequest>(body, CHAT).as_deref(),
            Some("Unrecognized request argument supplied: bad")
        );
    }

    #[test]
    fn documented_arguments_and_nested_keys_pass() {
        let body =
            r#"{"model":"m","messages":[],"ignore_eos":true,"min_tokens":3,"verbosity":"low"}"#;
        assert_eq!(message::<ChatCompletionRequest>(body, CHAT), None);
        // only the top level is checked, as OpenAI's message names top-level arguments
        let nested = r#"{"model":"m","messages":[{"role":"user","content":"hi","extra":1}],"metadata":{"any":"key"}}"#;
        assert_eq!(message::<ChatCompletionRequest>(nested, CHAT), None);
        assert_eq!(
            message::<CompletionRequest>(r#"{"model":"m","prompt":"x","echo":true}"#, COMPLETIONS),
            None
        );
    }

    #[test]
    fn a_body_that_does_not_parse_is_left_to_the_typed_parser() {
        for body in [
            "[1,2]",
            "{\"model\": ",
            r#"{"model":"m","messages":[]} x"#,
            "{\"model\":\"m\",\"messages\":[],\"foo\":1",
        ] {
            assert!(
                parse::<ChatCompletionRequest>(body.as_bytes(), CHAT).is_none(),
                "{body}"
            );
        }
        assert!(
            parse::<ChatCompletionRequest>(b"{\"model\":\"\xff\",\"messages\":[]}", CHAT).is_none()
        );
    }

    /// The field names a type's derived `Deserialize` reads.
    fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
        struct Names(Option<&'static [&'static str]>);
        impl<'de> Deserializer<'de> for &mut Names {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                self.0 = Some(fields);
                Err(de::Error::custom("names read"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
                enum identifier ignored_any
            }
        }
        let mut names = Names(None);
        let _ = T::deserialize(&mut names);
        names.0.expect("a struct")
    }

    /// A field the parser reads is never reported as ignored, so it must be a
    /// documented argument or it would pass unrefused.
    #[test]
    fn every_field_a_route_reads_is_one_of_its_arguments() {
        for (fields, allowed) in [
            (fields::<ChatCompletionRequest>(), CHAT),
            (fields::<CompletionRequest>(), COMPLETIONS),
            (fields::<EmbeddingRequest>(), EMBEDDINGS),
            (fields::<ResponseRequest>(), RESPONSES),
        ] {
            assert!(fields.len() >= 5, "{fields:?}");
            for field in fields {
                assert!(
                    allowed.contains(field),
                    "{field} is read but not documented"
                );
            }
        }
    }
}
