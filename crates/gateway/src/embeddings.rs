//! `POST /v1/embeddings`: exact-match cache, queue, upstream, billing by input tokens.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cache::exact_key;
use gatebench_cost::{CacheOutcome, Kind, Usage};
use gatebench_tokens::Encoding;
use gatebench_wire::openai::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use http::{HeaderMap, Method};

use crate::billing::{Charge, charge, reserve};
use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Media, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::report::{Report, passthrough};
use crate::request::{json_object, observed, read, to_the_end, typed, with_field};
use crate::respond::{Billed, exact_hit, send, upstream_error};
use crate::state::{CachedBody, Gateway};

/// The route handler.
pub async fn handle(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gw = &gateway;
    observed(gw, "embeddings", |id| async move {
        let body = read(body, gw.config.body_limit).await?;
        let gw = Arc::clone(gw);
        to_the_end(async move { serve(&gw, &headers, body, id).await }).await
    })
    .await
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
    headers: &HeaderMap,
    body: Bytes,
    id: String,
) -> Result<Response, GatewayError> {
    let mut meta = Meta::read(gateway, headers, false, id)?;
    let value = json_object(&body)?;
    let request: EmbeddingRequest = typed(&value)?;
    let usage = Usage {
        prompt_tokens: input_tokens(&request.input),
        ..Usage::default()
    };
    let reservation = reserve(gateway, &meta, &request.model, &usage)?;

    let key = exact_key(&meta.tenant.id, "/v1/embeddings", &value);
    let cacheable = gateway.config.cache.enabled;
    let outcome = if cacheable && !meta.no_cache {
        CacheOutcome::Miss
    } else {
        CacheOutcome::Bypass
    };
    if outcome == CacheOutcome::Miss {
        let looked = Instant::now();
        let found = gateway.exact_cache.get(&meta.tenant.id, &key);
        meta.timing.cache += looked.elapsed();
        if let Some(cached) = found {
            gateway.metrics.cache("embeddings", "hit");
            let usage = billed_usage(&cached.body).unwrap_or(usage);
            return Ok(exact_hit(
                gateway,
                &meta,
                reservation,
                key,
                cached,
                Kind::Embeddings,
                usage,
            ));
        }
    }
    gateway.metrics.cache("embeddings", outcome.as_str());

    let plan = gateway
        .upstreams
        .plan(ProviderKind::Openai, Some(&request.model));
    let accept = |body: &[u8]| serde_json::from_slice::<EmbeddingResponse>(body).is_ok();
    let outbound = Outbound {
        method: Method::POST,
        path: "/v1/embeddings",
        headers,
        stream: false,
        media: Media::Any,
        accept: &accept,
    };
    let billed = Billed {
        route: "embeddings",
        model: &request.model,
        kind: Kind::Embeddings,
        outcome,
    };
    let (dispatched, reservation) = match send(
        gateway,
        &mut meta,
        billed,
        reservation,
        plan,
        outbound,
        |target| with_field(&value, "model", target.model.as_deref()),
    )
    .await
    {
        Ok(sent) => sent,
        Err(response) => return Ok(response),
    };
    let provider = dispatched.target.provider.name().to_owned();
    let model = dispatched
        .target
        .model
        .clone()
        .unwrap_or_else(|| request.model.clone());
    let UpstreamBody::Buffered(bytes) = dispatched.body else {
        unreachable!("embeddings are never streamed");
    };
    let mut report = Report {
        cache: Some(outcome),
        provider: Some(provider.clone()),
        model: Some(model.clone()),
        attempts: dispatched.attempts,
        ..Report::default()
    };
    let mut response_headers = passthrough(&dispatched.headers);
    if !dispatched.status.is_success() {
        let billed = Billed {
            model: &model,
            ..billed
        };
        return Ok(upstream_error(
            gateway,
            &meta,
            reservation,
            billed,
            &report,
            dispatched.status,
            response_headers,
            bytes,
        ));
    }
    let (usage, estimated) = match billed_usage(&bytes) {
        Some(reported) => (reported, false),
        None => (usage, true),
    };
    let entry = charge(
        gateway,
        &meta,
        Some(reservation),
        Charge {
            provider: Some(&provider),
            model: &model,
            kind: Kind::Embeddings,
            usage,
            cache: outcome,
            attempts: dispatched.attempts,
            estimated,
            failed: false,
        },
    );
    report.cost = entry.map(|e| e.cost_usd);
    if cacheable && !meta.no_store {
        let cached = CachedBody {
            status: dispatched.status,
            headers: response_headers.clone(),
            body: bytes.clone(),
            model,
            provider,
        };
        gateway.exact_cache.insert(&meta.tenant.id, key, cached);
        report.cache_key = Some(key.to_string());
    }
    report.write(&meta, &mut response_headers);
    Ok((dispatched.status, response_headers, bytes).into_response())
}

/// The input tokens an embeddings response reports.
fn billed_usage(body: &[u8]) -> Option<Usage> {
    let response: EmbeddingResponse = serde_json::from_slice(body).ok()?;
    Some(Usage {
        prompt_tokens: u64::from(response.usage.prompt_tokens),
        ..Usage::default()
    })
}
