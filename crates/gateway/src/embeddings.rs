//! `POST /v1/embeddings`: exact-match cache, queue, upstream, billing by input tokens
//! (the [`pipeline`](crate::pipeline)).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use gatebench_cache::exact_key;
use gatebench_cost::{Kind, Usage};
use gatebench_tokens::Encoding;
use gatebench_wire::openai::{EmbeddingInput, EmbeddingRequest, EmbeddingUsage};
use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::checked::{self, Text, Vector};
use crate::config::ProviderKind;
use crate::dispatch::{Accepted, Media, Outbound};
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call};
use crate::render::render;
use crate::request::{body_for, object, to_the_end};
use crate::state::Gateway;

/// The route handler.
pub fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<EmbeddingRequest>,
) -> impl Future<Output = Result<Response, GatewayError>> + Send {
    to_the_end(serve(gateway, meta, headers, body))
}

/// Input tokens of an embeddings request, as OpenAI counts them (cl100k_base).
pub fn input_tokens(input: &EmbeddingInput) -> u64 {
    tokens_of(Encoding::Cl100kBase, input)
}

/// Tokens of an input in any of its four forms (embeddings' `input`, text
/// completions' `prompt`): texts counted with `encoding`, token arrays as given.
pub fn tokens_of(encoding: Encoding, input: &EmbeddingInput) -> u64 {
    match input {
        EmbeddingInput::Text(text) => encoding.count(text) as u64,
        EmbeddingInput::Texts(texts) => texts.iter().map(|t| encoding.count(t) as u64).sum(),
        EmbeddingInput::Tokens(tokens) => tokens.len() as u64,
        EmbeddingInput::TokenLists(lists) => lists.iter().map(|l| l.len() as u64).sum(),
    }
}

async fn serve(
    gateway: Arc<Gateway>,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<EmbeddingRequest>,
) -> Result<Response, GatewayError> {
    // owned, so that the handler's future is this one: a wrapper holding the
    // arguments would carry them twice
    let (gateway, headers) = (&gateway, &headers);
    let JsonBody { bytes, request } = body;
    let value = object(&bytes);
    let accept = |body: &[u8]| {
        Some(Accepted {
            usage: Some(billed_usage(body)?),
        })
    };
    let body_for = body_for(bytes, "model");
    let call = Call {
        route: "embeddings",
        kind: Kind::Embeddings,
        provider_kind: ProviderKind::Openai,
        model: &request.model,
        routed: true,
        worst_case: Usage {
            prompt_tokens: input_tokens(&request.input),
            ..Usage::default()
        },
        cache: Cache::Exact(exact_key(&meta.tenant.id, "/v1/embeddings", &value)),
        answer: Answer::Body,
        outbound: Outbound {
            method: Method::POST,
            path: "/v1/embeddings",
            headers,
            stream: false,
            media: Media::Any,
            accept: &accept,
        },
        body_for: &body_for,
        usage_of: &|_, body| billed_usage(body),
        pinned: None,
    };
    let done = pipeline::run(gateway, meta, call).await?;
    Ok(render(gateway, done, Answer::Body))
}

/// The input tokens an embeddings response reports, `None` unless it is one.
fn billed_usage(body: &[u8]) -> Option<Usage> {
    let response = checked::parse::<Checked>(body)?;
    Some(Usage {
        prompt_tokens: u64::from(response.usage.prompt_tokens),
        ..Usage::default()
    })
}

/// An embeddings response as the success check reads it ([`checked`]): what
/// parses as an [`EmbeddingResponse`](gatebench_wire::openai::EmbeddingResponse)
/// parses as this, and only the usage is kept.
#[derive(Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct Checked {
    object: Text,
    data: Vec<CheckedEmbedding>,
    model: Text,
    usage: EmbeddingUsage,
}

/// [`gatebench_wire::openai::Embedding`], checked.
#[derive(Deserialize)]
#[expect(dead_code, reason = "fields read only to check their types")]
struct CheckedEmbedding {
    object: Text,
    index: u32,
    embedding: Vector,
}

#[cfg(test)]
mod tests {
    use gatebench_wire::openai::EmbeddingResponse;
    use proptest::prelude::*;

    use super::*;
    use crate::checked::mutated;

    /// Responses a provider sends: numbers in every JSON form, base64 vectors for
    /// two inputs, an empty list.
    const BODIES: [&str; 3] = [
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023311225, -0.01572305,1,-2,3e-5,1E+2,0,-0.0,12345678901234567890,1e308,0e999,1e-400, 123456789012345678901234567890 ]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}"#,
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAAAAAgD8="},{"object":"embedding","index":1,"embedding":"AACAPwAAAAA="}],"model":"text-embedding-3-large","usage":{"prompt_tokens":12,"total_tokens":12}}"#,
        r#"{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":0,"total_tokens":0}}"#,
    ];

    fn full(body: &[u8]) -> Option<u32> {
        let response: EmbeddingResponse = serde_json::from_slice(body).ok()?;
        Some(response.usage.prompt_tokens)
    }

    fn checked(body: &[u8]) -> Option<u64> {
        billed_usage(body).map(|u| u.prompt_tokens)
    }

    #[test]
    fn the_check_accepts_what_parses_as_an_embeddings_response() {
        for body in BODIES {
            let tokens = full(body.as_bytes()).map(u64::from);
            assert!(tokens.is_some(), "{body}");
            assert_eq!(checked(body.as_bytes()), tokens, "{body}");
        }
    }

    #[test]
    fn the_check_refuses_what_is_not_an_embeddings_response() {
        let vectors = [
            "[1,\"a\"]",
            "true",
            "[1e400]",
            "[-1e309]",
            "{}",
            "[[1]]",
            "[null]",
            "[1,true]",
            "3",
        ];
        for vector in vectors {
            let body = format!(
                r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":{vector}}}],"model":"m","usage":{{"prompt_tokens":1,"total_tokens":1}}}}"#
            );
            assert!(full(body.as_bytes()).is_none(), "{body}");
            assert!(checked(body.as_bytes()).is_none(), "{body}");
        }
        let long = format!("[{}]", "9".repeat(400));
        let body = format!(
            r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":{long}}}],"model":"m","usage":{{"prompt_tokens":1,"total_tokens":1}}}}"#
        );
        assert!(full(body.as_bytes()).is_none() && checked(body.as_bytes()).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A response cut anywhere, or with any byte changed, is accepted by the
        /// check exactly when the full parse accepts it, with the same usage.
        #[test]
        fn the_check_agrees_with_the_full_parse(body in mutated(&BODIES, &b"\"\\0}]{[,:1an -\xffeE+.9"[..])) {
            prop_assert_eq!(checked(&body), full(&body).map(u64::from));
        }
    }
}
