//! `POST /v1/completions`: legacy text completions, whole or streamed, through
//! the same steps as chat (auth, budget reservation, queue, semantic cache,
//! upstream with retries and fallbacks, billing at the model's chat prices). A
//! request for one completion of one text prompt is cached as the one-message
//! conversation of that prompt, in partitions of its own: a chat answer never
//! serves a completion, nor the reverse. One that echoes its prompt or asks for
//! log probabilities is not cached: its answer is this very call's.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use gatebench_cache::ChatKeys;
use gatebench_cost::Usage;
use gatebench_tokens::Encoding;
use gatebench_wire::openai::{CompletionPrompt, CompletionRequest, TextCompletion};
use http::HeaderMap;
use serde_json::{Value, json};

use crate::chat::{billed_usage, reported_usage};
use crate::dispatch::Accepted;
use crate::embeddings::tokens_of;
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::generate::{Generation, check_model, generate, keys_and_body};
use crate::meta::Meta;
use crate::pipeline::{Cache, ChatAnswer, Form};
use crate::request::to_the_end;
use crate::state::Gateway;

/// The route handler.
pub fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<CompletionRequest>,
) -> impl Future<Output = Result<Response, GatewayError>> + Send {
    to_the_end(serve(gateway, meta, headers, body))
}

async fn serve(
    gateway: Arc<Gateway>,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<CompletionRequest>,
) -> Result<Response, GatewayError> {
    let JsonBody {
        bytes: body,
        request,
    } = body;
    check_model(&request.model)?;
    let encoding = Encoding::for_model(&request.model);
    let prompt_tokens = gateway.prompt_tokens(&body, || tokens_of(encoding, &request.prompt));
    let worst_case = Usage {
        prompt_tokens,
        completion_tokens: output_cap(&request),
        ..Usage::default()
    };
    let stream = request.is_stream();
    let keyed = gateway.config.cache.enabled
        && !(meta.no_cache && meta.no_store)
        && request.n.is_none_or(|n| n == 1)
        && matches!(request.prompt, CompletionPrompt::Text(_));
    let (keys, body) = keys_and_body(body, keyed, stream, |value| keys(&meta.tenant.id, value));
    let answer = ChatAnswer {
        form: Form::Text,
        stream,
        client_usage: request.include_usage(),
        encoding,
        prompt_tokens,
    };
    let accept = |body: &[u8]| {
        let completion: TextCompletion = serde_json::from_slice(body).ok()?;
        Some(Accepted {
            usage: completion.usage.as_ref().map(billed_usage),
        })
    };
    let generation = Generation {
        route: "completions",
        path: "/v1/completions",
        model: &request.model,
        worst_case,
        cache: keys.as_ref().map_or(Cache::None, Cache::Semantic),
        answer,
        body,
        accept: &accept,
        usage_of: &|_, body| reported_usage(body),
        pinned: None,
    };
    generate(&gateway, meta, &headers, generation).await
}

/// The cache keys of a text completion request: its prompt as the one user
/// message of a conversation, in partitions marked as the legacy API's; `None`
/// when the answer is this call's own (the prompt echoed, log probabilities).
fn keys(tenant: &str, request: &Value) -> Option<ChatKeys> {
    let mut fields = request.as_object()?.clone();
    let per_call = |field: &str| {
        fields
            .get(field)
            .is_some_and(|v| !v.is_null() && *v != Value::Bool(false))
    };
    if per_call("echo") || per_call("logprobs") {
        return None;
    }
    let prompt = fields.remove("prompt")?;
    fields.insert(
        "messages".into(),
        json!([{ "role": "user", "content": prompt }]),
    );
    fields.insert("gatebench_api".into(), json!("completions"));
    ChatKeys::from_request(tenant, &Value::Object(fields))
}

/// The most a request's answer can hold: `max_tokens` (16 when unset, as the API
/// defaults it) for each of `n` choices of each prompt.
fn output_cap(request: &CompletionRequest) -> u64 {
    let prompts = match &request.prompt {
        CompletionPrompt::Text(_) | CompletionPrompt::Tokens(_) => 1,
        CompletionPrompt::Texts(texts) => texts.len(),
        CompletionPrompt::TokenLists(lists) => lists.len(),
    } as u64;
    let cap = request
        .max_tokens
        .filter(|c| *c > 0)
        .unwrap_or(CompletionRequest::DEFAULT_MAX_TOKENS) as u64;
    let n = request.n.filter(|n| *n > 0).unwrap_or(1) as u64;
    cap.saturating_mul(n).saturating_mul(prompts)
}
