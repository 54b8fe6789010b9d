//! The steps of a call on a route with an exact-match cache or none (embeddings,
//! speech, the services): reserve the worst case, look in the cache, send, pass an
//! upstream error on, bill what the provider reports, store, report. A route says
//! what is particular to it in a [`Call`]; chat, with its semantic cache and its
//! stream relay, uses the same [`send`](crate::respond::send) and
//! [`upstream_error`](crate::respond::upstream_error).

use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cache::ExactKey;
use gatebench_cost::{CacheOutcome, Kind, Usage};
use gatebench_queue::Permit;
use http::{HeaderMap, StatusCode};

use crate::billing::{Charge, charge, reserve};
use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::report::{Report, passthrough};
use crate::respond::{Billed, exact_hit, send, upstream_error};
use crate::state::{CachedBody, Gateway};
use crate::upstream::Target;

/// Reads the billed units from an answer's headers and body (the body is empty
/// for a streamed answer); `None` when the answer does not say.
pub type UsageOf = dyn Fn(&HeaderMap, &[u8]) -> Option<Usage> + Send + Sync;

/// What a route tells the pipeline about one request.
pub struct Call<'a> {
    /// Route label for metrics.
    pub route: &'static str,
    /// Kind of call, for prices.
    pub kind: Kind,
    /// Which providers can serve it.
    pub provider_kind: ProviderKind,
    /// The model asked for (the ledger's, unless a fallback serves another).
    pub model: &'a str,
    /// Whether the model picks the route (`false`: the kind's first provider).
    pub routed: bool,
    /// The most this request can be billed, reserved against the budget before it
    /// is sent, and billed (flagged estimated) when the answer reports no usage.
    pub worst_case: Usage,
    /// The exact-match cache key, when the route caches.
    pub cache: Option<ExactKey>,
    /// The request upstream.
    pub outbound: Outbound<'a>,
    /// The body for each target (a fallback may name another model).
    pub body_for: &'a (dyn Fn(&Target) -> Bytes + Send + Sync),
    /// The billed units of an answer.
    pub usage_of: &'a UsageOf,
}

/// A call the provider answered with a stream: billed, its headers written; the
/// route relays the body.
pub struct Streaming {
    /// Status for the client.
    pub status: StatusCode,
    /// Headers for the client, the gateway's report included.
    pub headers: HeaderMap,
    /// The provider's answer, its body still arriving.
    pub upstream: reqwest::Response,
    /// The upstream slot, to hold until the stream ends.
    pub permit: Option<Permit>,
    /// Longest silence to wait for between chunks (the provider's timeout).
    pub idle: Duration,
    /// The tenant the stored entry belongs to.
    pub tenant: String,
    /// Where to store the stream once it completes, and the entry to store it as.
    pub store: Option<(ExactKey, CachedBody)>,
}

/// How a call ended.
pub enum Outcome {
    /// Answered (from the cache, the upstream, or with an error).
    Answered(Response),
    /// The provider's stream is to be relayed.
    Streaming(Box<Streaming>),
}

/// Runs `call` for the request `meta` describes.
pub async fn run(
    gateway: &Gateway,
    mut meta: Meta,
    call: Call<'_>,
) -> Result<Outcome, GatewayError> {
    let reservation = reserve(gateway, &meta, call.model, &call.worst_case)?;
    let cacheable = gateway.config.cache.enabled && call.cache.is_some();
    let outcome = if cacheable && !meta.no_cache {
        CacheOutcome::Miss
    } else {
        CacheOutcome::Bypass
    };
    if let (CacheOutcome::Miss, Some(key)) = (outcome, call.cache) {
        let looked = Instant::now();
        let found = gateway.exact_cache.get(&meta.tenant.id, &key);
        meta.timing.cache += looked.elapsed();
        if let Some(cached) = found {
            gateway.metrics.cache(call.route, "hit");
            let usage = (call.usage_of)(&cached.headers, &cached.body).unwrap_or(call.worst_case);
            let response = exact_hit(gateway, &meta, reservation, key, cached, call.kind, usage);
            return Ok(Outcome::Answered(response));
        }
    }
    gateway.metrics.cache(call.route, outcome.as_str());

    let plan = gateway
        .upstreams
        .plan(call.provider_kind, call.routed.then_some(call.model));
    let billed = Billed {
        route: call.route,
        model: call.model,
        kind: call.kind,
        outcome,
    };
    let (dispatched, reservation) = match send(
        gateway,
        &mut meta,
        billed,
        reservation,
        plan,
        call.outbound,
        call.body_for,
    )
    .await
    {
        Ok(sent) => sent,
        Err(response) => return Ok(Outcome::Answered(response)),
    };
    let provider = dispatched.target.provider.name().to_owned();
    let model = dispatched
        .target
        .model
        .clone()
        .unwrap_or_else(|| call.model.to_owned());
    let mut report = Report {
        cache: Some(outcome),
        provider: Some(provider.clone()),
        model: Some(model.clone()),
        attempts: dispatched.attempts,
        ..Report::default()
    };
    let mut headers = passthrough(&dispatched.headers);
    let body = match &dispatched.body {
        UpstreamBody::Buffered(bytes) => bytes.clone(),
        UpstreamBody::Streaming(_) => Bytes::new(),
    };
    if !dispatched.status.is_success() {
        let billed = Billed {
            model: &model,
            ..billed
        };
        let response = upstream_error(
            gateway,
            &meta,
            reservation,
            billed,
            &report,
            dispatched.status,
            headers,
            body,
        );
        return Ok(Outcome::Answered(response));
    }
    let (usage, estimated) = match (call.usage_of)(&dispatched.headers, &body) {
        Some(reported) => (reported, false),
        None => (call.worst_case, true),
    };
    let entry = charge(
        gateway,
        &meta,
        Some(reservation),
        Charge {
            provider: Some(&provider),
            model: &model,
            kind: call.kind,
            usage,
            cache: outcome,
            attempts: dispatched.attempts,
            estimated,
            failed: false,
        },
    );
    report.cost = entry.map(|e| e.cost_usd);
    let store = call.cache.filter(|_| cacheable && !meta.no_store);
    report.cache_key = store.map(|key| key.to_string());
    let entry_of = |body: Bytes, headers: &HeaderMap| CachedBody {
        status: dispatched.status,
        headers: headers.clone(),
        body,
        model: model.clone(),
        provider: provider.clone(),
    };
    match dispatched.body {
        UpstreamBody::Buffered(_) => {
            if let Some(key) = store {
                let cached = entry_of(body.clone(), &headers);
                gateway.exact_cache.insert(&meta.tenant.id, key, cached);
            }
            report.write(&meta, &mut headers);
            Ok(Outcome::Answered(
                (dispatched.status, headers, body).into_response(),
            ))
        }
        UpstreamBody::Streaming(upstream) => {
            let store = store.map(|key| (key, entry_of(Bytes::new(), &headers)));
            report.write(&meta, &mut headers);
            Ok(Outcome::Streaming(Box::new(Streaming {
                status: dispatched.status,
                headers,
                upstream,
                permit: dispatched.permit,
                idle: dispatched.target.provider.config.timeout,
                tenant: meta.tenant.id.to_string(),
                store,
            })))
        }
    }
}

impl Outcome {
    /// The response, for a route that never streams.
    pub fn answered(self) -> Response {
        match self {
            Outcome::Answered(response) => response,
            Outcome::Streaming(streaming) => {
                tracing::error!("a route that never streams got a stream");
                (StatusCode::BAD_GATEWAY, streaming.headers).into_response()
            }
        }
    }
}
