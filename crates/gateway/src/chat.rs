//! `POST /v1/chat/completions`: auth, budget reservation, semantic cache, queue,
//! upstream with retries and fallbacks, billing.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cache::{ChatKeys, Lookup};
use gatebench_cost::{CacheOutcome, Kind, Reservation, Usage};
use gatebench_tokens::{Encoding, count_chat_prompt};
use gatebench_wire::openai::{ChatCompletion, ChatCompletionRequest};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::billing::{Charge, charge, reserve};
use crate::chat_stream::{self, Relay};
use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Dispatched, Media, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::report::{Report, passthrough};
use crate::request::{json_object, observed, read, to_the_end, typed, with_field};
use crate::respond::{Billed, send, upstream_error};
use crate::state::{CachedChat, CachedChoice, Gateway};

/// Completion tokens reserved for a request that sets no cap (OpenAI's own default
/// maximum output for current chat models is in this range).
pub const DEFAULT_MAX_OUTPUT: u64 = 4096;

/// The route handler.
pub async fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gw = &gateway;
    observed(gw, "chat", |id| async move {
        let body = read(body, gw.config.body_limit).await?;
        let gw = Arc::clone(gw);
        to_the_end(async move { serve(&gw, &headers, body, id).await }).await
    })
    .await
}

/// A parsed chat request and what the gateway derives from it.
pub(crate) struct ChatCall {
    pub value: Value,
    pub model: String,
    pub stream: bool,
    pub client_usage: bool,
    pub encoding: Encoding,
    pub prompt_tokens: u64,
    pub keys: Option<ChatKeys>,
}

async fn serve(
    gateway: &Arc<Gateway>,
    headers: &HeaderMap,
    body: Bytes,
    id: String,
) -> Result<Response, GatewayError> {
    let meta = Meta::read(gateway, headers, false, id)?;
    let value = json_object(&body)?;
    let request: ChatCompletionRequest = typed(&value)?;
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
    let worst = Usage {
        prompt_tokens,
        completion_tokens: cap.saturating_mul(choices),
        ..Usage::default()
    };
    let reservation = reserve(gateway, &meta, &request.model, &worst)?;

    // Nothing to look up and nothing to store: no keys to compute.
    let uses_cache = !(meta.no_cache && meta.no_store);
    let keys = (gateway.config.cache.enabled && choices == 1 && uses_cache)
        .then(|| ChatKeys::from_request(&meta.tenant.id, &value))
        .flatten();
    let call = ChatCall {
        model: request.model.clone(),
        stream: request.is_stream(),
        client_usage: request.include_usage(),
        encoding,
        prompt_tokens,
        keys,
        value,
    };
    answer(gateway, meta, call, reservation, headers).await
}

async fn answer(
    gateway: &Arc<Gateway>,
    mut meta: Meta,
    call: ChatCall,
    reservation: Reservation,
    headers: &HeaderMap,
) -> Result<Response, GatewayError> {
    // Cache lookup.
    let mut outcome = CacheOutcome::Bypass;
    let mut vector: Option<Vec<f32>> = None;
    if let Some(keys) = &call.keys
        && !meta.no_cache
    {
        let looked = Instant::now();
        let lookup = gateway
            .chat_cache
            .lookup(&meta.tenant.id, keys, |q| gateway.embedder.embed(q));
        meta.timing.cache += looked.elapsed();
        match lookup {
            Lookup::Hit(hit) => {
                gateway.metrics.cache("chat", "hit");
                return Ok(serve_hit(gateway, &meta, &call, reservation, hit));
            }
            Lookup::Miss(miss) => {
                gateway.metrics.cache("chat", "miss");
                outcome = CacheOutcome::Miss;
                vector = Some(miss.vector);
            }
        }
    } else {
        gateway.metrics.cache("chat", "bypass");
    }

    // Upstream: always ask for the usage of a stream, to bill it.
    let mut upstream_value = call.value.clone();
    if call.stream
        && let Some(object) = upstream_value.as_object_mut()
    {
        object.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    let plan = gateway
        .upstreams
        .plan(ProviderKind::Openai, Some(&call.model));
    let accept = |body: &[u8]| serde_json::from_slice::<ChatCompletion>(body).is_ok();
    let outbound = Outbound {
        method: Method::POST,
        path: "/v1/chat/completions",
        headers,
        stream: call.stream,
        media: if call.stream {
            Media::EventStream
        } else {
            Media::Any
        },
        accept: &accept,
    };
    let billed = Billed {
        route: "chat",
        model: &call.model,
        kind: Kind::Chat,
        outcome,
    };
    let sent = send(
        gateway,
        &mut meta,
        billed,
        reservation,
        plan,
        outbound,
        |target| with_field(&upstream_value, "model", target.model.as_deref()),
    )
    .await;
    let (dispatched, reservation) = match sent {
        Ok(sent) => sent,
        Err(response) => return Ok(response),
    };
    let Dispatched {
        status,
        headers: upstream_headers,
        body,
        target,
        permit,
        attempts,
    } = dispatched;
    let provider = target.provider.name().to_owned();
    let served_model = target.model.clone().unwrap_or_else(|| call.model.clone());
    let mut report = Report {
        cache: Some(outcome),
        provider: Some(provider.clone()),
        model: Some(served_model.clone()),
        attempts,
        ..Report::default()
    };

    let bytes = match body {
        UpstreamBody::Streaming(response) => {
            let store = (!meta.no_store).then(|| call.keys.clone()).flatten();
            if let Some(keys) = &store {
                report.cache_key = Some(keys.exact.to_string());
            }
            let mut response_headers = passthrough(&upstream_headers);
            report.write(&meta, &mut response_headers);
            let relay = Relay::new(
                Arc::clone(gateway),
                meta,
                reservation,
                permit,
                response,
                chat_stream::Billing {
                    provider,
                    model: served_model,
                    outcome,
                    attempts,
                },
                call,
                store.map(|keys| (keys, vector)),
            );
            return Ok(relay.into_response(status, response_headers));
        }
        UpstreamBody::Buffered(bytes) => bytes,
    };
    drop(permit);

    if !status.is_success() {
        let billed = Billed {
            model: &served_model,
            ..billed
        };
        let response_headers = passthrough(&upstream_headers);
        return Ok(upstream_error(
            gateway,
            &meta,
            reservation,
            billed,
            &report,
            status,
            response_headers,
            bytes,
        ));
    }

    let completion: ChatCompletion = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(_) => unreachable!("dispatch accepts only bodies that parse"),
    };
    let (usage, estimated) = match &completion.usage {
        Some(u) => (billed_usage(u), false),
        None => {
            let text: String = completion
                .choices
                .iter()
                .filter_map(|c| c.message.content.clone())
                .collect();
            let counted = call.encoding.count(&text) as u64;
            (
                Usage {
                    prompt_tokens: call.prompt_tokens,
                    completion_tokens: counted,
                    ..Usage::default()
                },
                true,
            )
        }
    };
    let entry = charge(
        gateway,
        &meta,
        Some(reservation),
        Charge {
            provider: Some(&provider),
            model: &served_model,
            kind: Kind::Chat,
            usage,
            cache: outcome,
            attempts,
            estimated,
            failed: false,
        },
    );
    report.cost = entry.map(|e| e.cost_usd);

    if let Some(keys) = &call.keys
        && !meta.no_store
    {
        let vector = vector.unwrap_or_else(|| gateway.embedder.embed(&keys.query));
        let cached = CachedChat {
            model: served_model.clone(),
            provider: provider.clone(),
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
            system_fingerprint: completion.system_fingerprint.clone(),
        };
        match gateway
            .chat_cache
            .insert(&meta.tenant.id, keys, &vector, cached)
        {
            Ok(key) => report.cache_key = Some(key.to_string()),
            Err(error) => tracing::warn!(%error, "cache insert failed"),
        }
    }
    let mut response_headers = passthrough(&upstream_headers);
    report.write(&meta, &mut response_headers);
    Ok((status, response_headers, bytes).into_response())
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

/// Answers from the cache: usage is this request's prompt (with as many tokens
/// from the provider's prompt cache as the original call had) and the cached
/// completion; the call costs nothing and saves what it would have cost.
fn serve_hit(
    gateway: &Arc<Gateway>,
    meta: &Meta,
    call: &ChatCall,
    reservation: Reservation,
    hit: gatebench_cache::Hit<CachedChat>,
) -> Response {
    let cached = hit.value;
    let usage = Usage {
        prompt_tokens: call.prompt_tokens,
        cached_tokens: cached.cached_tokens.min(call.prompt_tokens),
        completion_tokens: cached.completion_tokens,
        ..Usage::default()
    };
    let entry = charge(
        gateway,
        meta,
        Some(reservation),
        Charge {
            provider: Some(&cached.provider),
            model: &cached.model,
            kind: Kind::Chat,
            usage,
            cache: CacheOutcome::Hit,
            attempts: 0,
            estimated: false,
            failed: false,
        },
    );
    let report = Report {
        cache: Some(CacheOutcome::Hit),
        similarity: Some(hit.similarity),
        cache_key: Some(hit.key.to_string()),
        cost: entry.map(|e| e.cost_usd),
        provider: Some(cached.provider.clone()),
        model: Some(cached.model.clone()),
        attempts: 0,
    };
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
    if call.stream {
        let body = chat_stream::replay(
            &id,
            created,
            &cached,
            call.client_usage.then_some(&usage_json),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        report.write(meta, &mut headers);
        return (StatusCode::OK, headers, Body::from_stream(body)).into_response();
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
    report.write(meta, &mut headers);
    (
        StatusCode::OK,
        headers,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}
