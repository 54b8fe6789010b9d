//! What the routes that generate text share (chat completions, legacy text
//! completions, responses): the call through the [`pipeline`] to an OpenAI-style
//! provider, billed by tokens at the model's chat prices, and the answer rendered
//! in the route's [`Form`](crate::pipeline::Form).

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use gatebench_cache::ChatKeys;
use gatebench_cost::{Kind, Usage};
use http::{HeaderMap, Method};
use serde_json::{Value, json};

use crate::config::ProviderKind;
use crate::dispatch::{Accept, Media, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call, ChatAnswer, UsageOf};
use crate::render::render;
use crate::request::{body_for, object};
use crate::state::Gateway;
use crate::upstream::Provider;

/// One generation request, as its route read it.
pub struct Generation<'a> {
    /// Route label for metrics and the ledger.
    pub route: &'static str,
    /// The provider's path.
    pub path: &'static str,
    /// The model asked for.
    pub model: &'a str,
    /// The prompt and the most the answer can hold.
    pub worst_case: Usage,
    /// The cache and this request's key.
    pub cache: Cache<'a>,
    /// The form of the answer.
    pub answer: ChatAnswer,
    /// The body to send.
    pub body: Bytes,
    /// The success check of a whole answer, with its usage.
    pub accept: &'a Accept<'a>,
    /// The usage an answer reports.
    pub usage_of: &'a UsageOf,
    /// The one provider that can serve it, instead of the route's plan.
    pub pinned: Option<Arc<Provider>>,
}

/// Runs `generation` for the request `meta` describes and renders its answer.
pub async fn generate(
    gateway: &Arc<Gateway>,
    meta: Meta,
    headers: &HeaderMap,
    generation: Generation<'_>,
) -> Result<Response, GatewayError> {
    let answer = generation.answer;
    let stream = answer.stream;
    let body_for = body_for(generation.body, "model");
    let call = Call {
        route: generation.route,
        kind: Kind::Chat,
        provider_kind: ProviderKind::Openai,
        model: generation.model,
        routed: true,
        worst_case: generation.worst_case,
        cache: generation.cache,
        answer: Answer::Chat(answer),
        outbound: Outbound {
            method: Method::POST,
            path: generation.path,
            headers,
            stream,
            media: if stream {
                Media::EventStream
            } else {
                Media::Any
            },
            accept: generation.accept,
        },
        body_for: &body_for,
        usage_of: generation.usage_of,
        pinned: generation.pinned,
    };
    let done = pipeline::run(gateway, meta, call).await?;
    Ok(render(gateway, done, Answer::Chat(answer)))
}

/// A completion request's cache keys (`key` of its object, when `keyed`) and the
/// body to send: a stream's also asks for the usage chunk, which the gateway
/// bills it from and drops again for a client that did not ask. The object is
/// built once, only when the keys or a stream's options need it.
pub fn keys_and_body(
    body: Bytes,
    keyed: bool,
    stream: bool,
    key: impl FnOnce(&Value) -> Option<ChatKeys>,
) -> (Option<ChatKeys>, Bytes) {
    if !(keyed || stream) {
        return (None, body);
    }
    let mut request = object(&body);
    let keys = if keyed { key(&request) } else { None };
    if !stream {
        return (keys, body);
    }
    if let Some(fields) = request.as_object_mut() {
        fields.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    let asking = Bytes::from(serde_json::to_vec(&request).unwrap_or_default());
    (keys, asking)
}

/// A refusal of a request without a model, in OpenAI's words.
pub fn check_model(model: &str) -> Result<(), GatewayError> {
    if model.trim().is_empty() {
        return Err(GatewayError::bad_request(
            "Missing required parameter: 'model'.",
            Some("model"),
        ));
    }
    Ok(())
}
