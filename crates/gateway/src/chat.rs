//! `POST /v1/chat/completions`: auth, budget reservation, semantic cache, queue,
//! upstream with retries and fallbacks, billing.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use gatebench_cache::ChatKeys;
use gatebench_cost::{Kind, Usage};
use gatebench_tokens::{Encoding, count_chat_prompt};
use gatebench_wire::openai::{ChatCompletion, ChatCompletionRequest};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::chat_stream;
use crate::config::ProviderKind;
use crate::dispatch::{Accepted, Media, Outbound};
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call, ChatAnswer};
use crate::record::Record;
use crate::render::render;
use crate::request::{body_for, to_the_end};
use crate::state::{CachedChat, CachedChoice, Gateway};

/// Completion tokens reserved for a request that sets no cap (OpenAI's own default
/// maximum output for current chat models is in this range).
pub const DEFAULT_MAX_OUTPUT: u64 = 4096;

/// The route handler.
pub async fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<ChatCompletionRequest>,
) -> Result<Response, GatewayError> {
    to_the_end(async move { serve(&gateway, meta, &headers, body).await }).await
}

async fn serve(
    gateway: &Arc<Gateway>,
    meta: Meta,
    headers: &HeaderMap,
    body: JsonBody<ChatCompletionRequest>,
) -> Result<Response, GatewayError> {
    let JsonBody {
        bytes: body,
        mut value,
        request,
    } = body;
    if request.model.trim().is_empty() {
        return Err(GatewayError::bad_request(
            "Missing required parameter: 'model'.",
            Some("model"),
        ));
    }
    if request.messages.is_empty() {
        return Err(GatewayError::bad_request(
            "'messages' must contain at least one message.",
            Some("messages"),
        ));
    }
    let encoding = Encoding::for_model(&request.model);
    let prompt_tokens =
        gateway.prompt_tokens(&body, || count_chat_prompt(encoding, &request) as u64);
    let choices = request.choices().max(1) as u64;
    let cap = request
        .token_cap()
        .filter(|c| *c > 0)
        .map_or(DEFAULT_MAX_OUTPUT, |c| c as u64);
    let worst_case = Usage {
        prompt_tokens,
        completion_tokens: cap.saturating_mul(choices),
        ..Usage::default()
    };
    // Nothing to look up and nothing to store: no keys to compute.
    let uses_cache = !(meta.no_cache && meta.no_store);
    let keys = (gateway.config.cache.enabled && choices == 1 && uses_cache)
        .then(|| ChatKeys::from_request(&meta.tenant.id, &value))
        .flatten();
    let stream = request.is_stream();
    let answer = ChatAnswer {
        stream,
        client_usage: request.include_usage(),
        encoding,
        prompt_tokens,
    };
    // Upstream: always ask for the usage of a stream, to bill it.
    let upstream = if stream && let Some(object) = value.as_object_mut() {
        object.insert("stream_options".into(), json!({ "include_usage": true }));
        Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
    } else {
        body
    };
    let accept = |body: &[u8]| {
        let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
        Some(Accepted {
            usage: completion.usage.as_ref().map(billed_usage),
        })
    };
    let body_for = body_for(upstream, &value, "model");
    let call = Call {
        route: "chat",
        kind: Kind::Chat,
        provider_kind: ProviderKind::Openai,
        model: &request.model,
        routed: true,
        worst_case,
        cache: keys.as_ref().map_or(Cache::None, Cache::Semantic),
        answer: Answer::Chat(answer),
        outbound: Outbound {
            method: Method::POST,
            path: "/v1/chat/completions",
            headers,
            stream,
            media: if stream {
                Media::EventStream
            } else {
                Media::Any
            },
            accept: &accept,
        },
        body_for: &body_for,
        usage_of: &|_, body| {
            let reported: Reported = serde_json::from_slice(body).ok()?;
            reported.usage.as_ref().map(billed_usage)
        },
    };
    let done = pipeline::run(gateway, meta, call).await?;
    Ok(render(gateway, done, Answer::Chat(answer)))
}

/// The usage a completion reports, read without the rest of it.
#[derive(serde::Deserialize)]
struct Reported {
    usage: Option<gatebench_wire::openai::Usage>,
}

/// The gateway's count of a completion that reports no usage: the request's
/// prompt and the tokens of the text of every choice.
pub(crate) fn count_usage(body: &[u8], answer: ChatAnswer) -> Option<Usage> {
    let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
    let counted = completion
        .choices
        .iter()
        .filter_map(|c| c.message.content.as_deref())
        .map(|text| answer.encoding.count(text) as u64)
        .sum();
    Some(Usage {
        prompt_tokens: answer.prompt_tokens,
        completion_tokens: counted,
        ..Usage::default()
    })
}

/// The cache entry of a completion `model` at `provider` answered with `usage`.
pub(crate) fn to_cached(
    body: &[u8],
    model: &str,
    provider: &str,
    usage: &Usage,
) -> Option<CachedChat> {
    let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
    Some(CachedChat {
        model: model.to_owned(),
        provider: provider.to_owned(),
        choices: completion
            .choices
            .iter()
            .map(|c| CachedChoice {
                content: c.message.content.clone().unwrap_or_default(),
                finish_reason: c
                    .finish_reason
                    .as_ref()
                    .map_or_else(|| "stop".to_owned(), |f| f.as_str().to_owned()),
            })
            .collect(),
        completion_tokens: usage.completion_tokens,
        cached_tokens: usage.cached_tokens,
        system_fingerprint: completion.system_fingerprint,
    })
}

/// The usage as the ledger counts it, from a provider's `usage`.
pub(crate) fn billed_usage(u: &gatebench_wire::openai::Usage) -> Usage {
    Usage {
        prompt_tokens: u64::from(u.prompt_tokens),
        cached_tokens: u64::from(u.cached_tokens().min(u.prompt_tokens)),
        completion_tokens: u64::from(u.completion_tokens),
        ..Usage::default()
    }
}

/// The answer of a semantic hit, as the provider would have sent it: the cached
/// text under this request's id, with this request's usage, streamed if asked.
pub(crate) fn hit(
    meta: &Meta,
    record: &Record,
    cached: &CachedChat,
    answer: ChatAnswer,
) -> (StatusCode, HeaderMap, Body) {
    let usage = record.usage;
    let id = format!("chatcmpl-{}", meta.id);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let usage_json = json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
        "completion_tokens_details": { "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0 }
    });
    let mut headers = HeaderMap::new();
    if answer.stream {
        let body = chat_stream::replay(
            &id,
            created,
            cached,
            answer.client_usage.then_some(&usage_json),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return (StatusCode::OK, headers, Body::from_stream(body));
    }
    let choices: Vec<Value> = cached
        .choices
        .iter()
        .enumerate()
        .map(|(index, c)| {
            json!({
                "index": index,
                "message": { "role": "assistant", "content": c.content, "refusal": null, "annotations": [] },
                "logprobs": null,
                "finish_reason": c.finish_reason,
            })
        })
        .collect();
    let body = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": cached.model,
        "choices": choices,
        "usage": usage_json,
        "service_tier": "default",
        "system_fingerprint": cached.system_fingerprint,
    });
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&body).unwrap_or_default();
    (StatusCode::OK, headers, Body::from(body))
}
