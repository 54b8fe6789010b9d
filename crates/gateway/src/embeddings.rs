//! `POST /v1/embeddings`: exact-match cache, queue, upstream, billing by input tokens
//! (the [`pipeline`](crate::pipeline)).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use gatebench_cache::exact_key;
use gatebench_cost::{Kind, Usage};
use gatebench_tokens::Encoding;
use gatebench_wire::openai::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use http::{HeaderMap, Method};

use crate::config::ProviderKind;
use crate::dispatch::{Accepted, Media, Outbound};
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call};
use crate::render::render;
use crate::request::{body_for, to_the_end};
use crate::state::Gateway;

/// The route handler.
pub async fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<EmbeddingRequest>,
) -> Result<Response, GatewayError> {
    to_the_end(async move { serve(&gateway, meta, &headers, body).await }).await
}

/// Input tokens of an embeddings request, as OpenAI counts them (cl100k_base).
pub fn input_tokens(input: &EmbeddingInput) -> u64 {
    let encoding = Encoding::Cl100kBase;
    match input {
        EmbeddingInput::Text(text) => encoding.count(text) as u64,
        EmbeddingInput::Texts(texts) => texts.iter().map(|t| encoding.count(t) as u64).sum(),
        EmbeddingInput::Tokens(tokens) => tokens.len() as u64,
        EmbeddingInput::TokenLists(lists) => lists.iter().map(|l| l.len() as u64).sum(),
    }
}

async fn serve(
    gateway: &Arc<Gateway>,
    meta: Meta,
    headers: &HeaderMap,
    body: JsonBody<EmbeddingRequest>,
) -> Result<Response, GatewayError> {
    let JsonBody {
        bytes,
        value,
        request,
    } = body;
    let accept = |body: &[u8]| {
        Some(Accepted {
            usage: Some(billed_usage(body)?),
        })
    };
    let body_for = body_for(bytes, &value, "model");
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
    };
    let done = pipeline::run(gateway, meta, call).await?;
    Ok(render(gateway, done, Answer::Body))
}

/// The input tokens an embeddings response reports.
fn billed_usage(body: &[u8]) -> Option<Usage> {
    let response: EmbeddingResponse = serde_json::from_slice(body).ok()?;
    Some(Usage {
        prompt_tokens: u64::from(response.usage.prompt_tokens),
        ..Usage::default()
    })
}
