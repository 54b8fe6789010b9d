//! The steps every route ends with: sending upstream (and answering when no upstream
//! could), passing an upstream error on, and answering from the exact-match cache.
//! Each records the call in the ledger and reports it in the response headers.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cache::ExactKey;
use gatebench_cost::{CacheOutcome, Kind, Reservation, Usage};
use http::{HeaderMap, StatusCode};

use crate::billing::{Charge, charge, failed};
use crate::dispatch::{Dispatched, Outbound, dispatch};
use crate::meta::Meta;
use crate::report::Report;
use crate::state::{CachedBody, Gateway};
use crate::upstream::Target;

/// What the ledger needs to know about a call before it is sent.
#[derive(Clone, Copy, Debug)]
pub struct Billed<'a> {
    /// Route label for metrics.
    pub route: &'static str,
    /// Model asked for.
    pub model: &'a str,
    /// Kind of call.
    pub kind: Kind,
    /// Cache outcome (miss or bypass).
    pub outcome: CacheOutcome,
}

/// Dispatches; when no upstream answered, records the failed call and returns the
/// error response, reporting the attempts and the provider tried last.
pub async fn send(
    gateway: &Gateway,
    meta: &mut Meta,
    billed: Billed<'_>,
    reservation: Reservation,
    plan: Vec<Target>,
    outbound: Outbound<'_>,
    body_for: impl Fn(&Target) -> Bytes,
) -> Result<(Dispatched, Reservation), Response> {
    let ticket = meta.ticket();
    let result = dispatch(
        &gateway.upstreams,
        &gateway.config.retry,
        &gateway.metrics,
        plan,
        ticket,
        outbound,
        body_for,
        &mut meta.timing,
    )
    .await;
    match result {
        Ok(dispatched) => {
            gateway.metrics.attempts(billed.route, dispatched.attempts);
            Ok((dispatched, reservation))
        }
        Err(undispatched) => {
            gateway
                .metrics
                .attempts(billed.route, undispatched.attempts);
            let provider = undispatched.provider.as_deref();
            failed(
                gateway,
                meta,
                reservation,
                provider,
                billed.model,
                billed.kind,
                undispatched.attempts,
            );
            let report = Report {
                cache: Some(billed.outcome),
                provider: undispatched.provider.clone(),
                attempts: undispatched.attempts,
                ..Report::default()
            };
            let mut response = undispatched.error.into_response();
            report.write(meta, response.headers_mut());
            Err(response)
        }
    }
}

/// Passes an upstream's error response on as it came, recording the failed call.
#[allow(clippy::too_many_arguments)]
pub fn upstream_error(
    gateway: &Gateway,
    meta: &Meta,
    reservation: Reservation,
    billed: Billed<'_>,
    report: &Report,
    status: StatusCode,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response {
    failed(
        gateway,
        meta,
        reservation,
        report.provider.as_deref(),
        billed.model,
        billed.kind,
        report.attempts,
    );
    report.write(meta, &mut headers);
    (status, headers, body).into_response()
}

/// Answers from an exact-match cache entry: the call costs nothing and saves the
/// price of `usage`, this request's units.
pub fn exact_hit(
    gateway: &Gateway,
    meta: &Meta,
    reservation: Reservation,
    key: ExactKey,
    cached: CachedBody,
    kind: Kind,
    usage: Usage,
) -> Response {
    let entry = charge(
        gateway,
        meta,
        Some(reservation),
        Charge {
            provider: Some(&cached.provider),
            model: &cached.model,
            kind,
            usage,
            cache: CacheOutcome::Hit,
            attempts: 0,
            estimated: false,
            failed: false,
        },
    );
    let report = Report {
        cache: Some(CacheOutcome::Hit),
        similarity: Some(1.0),
        cache_key: Some(key.to_string()),
        cost: entry.map(|e| e.cost_usd),
        provider: Some(cached.provider.clone()),
        model: Some(cached.model.clone()),
        attempts: 0,
    };
    let mut headers = cached.headers;
    report.write(meta, &mut headers);
    (cached.status, headers, cached.body).into_response()
}
