//! `POST /v1/completions`: legacy text completions, whole or streamed, through
//! the same steps as chat (auth, budget reservation, queue, upstream with retries
//! and fallbacks, billing at the model's chat prices). Not cached: the semantic
//! cache keys conversations, and a prompt is none (every call is a `bypass`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use gatebench_cost::Usage;
use gatebench_tokens::Encoding;
use gatebench_wire::openai::{CompletionPrompt, CompletionRequest, TextCompletion};
use http::HeaderMap;

use crate::chat::{billed_usage, reported_usage};
use crate::dispatch::Accepted;
use crate::embeddings::tokens_of;
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::generate::{Generation, asking_usage, check_model, generate};
use crate::meta::Meta;
use crate::pipeline::{Cache, ChatAnswer, Form};
use crate::request::{object, to_the_end};
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
        cache: Cache::None,
        answer,
        body: if stream {
            asking_usage(object(&body))
        } else {
            body
        },
        accept: &accept,
        usage_of: &|_, body| reported_usage(body),
    };
    generate(&gateway, meta, &headers, generation).await
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
