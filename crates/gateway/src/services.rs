//! gatebench's own services behind the gateway: `POST /v1/personality` and
//! `POST /v1/webvtt`, billed per request, not cached.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cost::{CacheOutcome, Kind, Usage};
use http::{HeaderMap, Method};

use crate::billing::{Charge, charge, reserve};
use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Media, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::report::{Report, passthrough};
use crate::request::{json_object, observed, read, to_the_end};
use crate::respond::{Billed, send, upstream_error};
use crate::state::Gateway;

/// `POST /v1/personality`.
pub async fn personality(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gw = &gateway;
    observed(gw, "personality", |id| async move {
        let body = read(body, gw.config.body_limit)
            .await
            .map_err(GatewayError::detail_shaped)?;
        let gw = Arc::clone(gw);
        to_the_end(async move { serve(&gw, Service::Personality, &headers, body, id).await }).await
    })
    .await
}

/// `POST /v1/webvtt`.
pub async fn webvtt(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let gw = &gateway;
    observed(gw, "webvtt", |id| async move {
        let body = read(body, gw.config.body_limit)
            .await
            .map_err(GatewayError::detail_shaped)?;
        let gw = Arc::clone(gw);
        to_the_end(async move { serve(&gw, Service::Webvtt, &headers, body, id).await }).await
    })
    .await
}

#[derive(Clone, Copy)]
enum Service {
    Personality,
    Webvtt,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Personality => "personality",
            Service::Webvtt => "webvtt",
        }
    }

    fn kind(self) -> (ProviderKind, Kind) {
        match self {
            Service::Personality => (ProviderKind::Personality, Kind::Personality),
            Service::Webvtt => (ProviderKind::Webvtt, Kind::Webvtt),
        }
    }
}

async fn serve(
    gateway: &Arc<Gateway>,
    service: Service,
    headers: &HeaderMap,
    body: Bytes,
    id: String,
) -> Result<Response, GatewayError> {
    let mut meta = Meta::read(gateway, headers, false, id).map_err(GatewayError::detail_shaped)?;
    json_object(&body).map_err(GatewayError::detail_shaped)?;
    let model = service.name();
    let (provider_kind, kind) = service.kind();
    let one = Usage {
        requests: 1,
        ..Usage::default()
    };
    let reservation = reserve(gateway, &meta, model, &one)?;
    gateway.metrics.cache(model, "bypass");
    let path = format!("/v1/{model}");
    let accept = move |body: &[u8]| match service {
        Service::Personality => serde_json::from_slice::<serde_json::Value>(body).is_ok(),
        Service::Webvtt => {
            body.starts_with(b"WEBVTT") || serde_json::from_slice::<serde_json::Value>(body).is_ok()
        }
    };
    let outbound = Outbound {
        method: Method::POST,
        path: &path,
        headers,
        stream: false,
        media: Media::Any,
        accept: &accept,
    };
    let plan = gateway.upstreams.plan(provider_kind, None);
    let billed = Billed {
        route: model,
        model,
        kind,
        outcome: CacheOutcome::Bypass,
    };
    let (dispatched, reservation) = match send(
        gateway,
        &mut meta,
        billed,
        reservation,
        plan,
        outbound,
        |_| body.clone(),
    )
    .await
    {
        Ok(sent) => sent,
        Err(response) => return Ok(response),
    };
    let provider = dispatched.target.provider.name().to_owned();
    let UpstreamBody::Buffered(bytes) = dispatched.body else {
        unreachable!("services are never streamed");
    };
    let mut report = Report {
        cache: Some(CacheOutcome::Bypass),
        provider: Some(provider.clone()),
        model: Some(model.to_owned()),
        attempts: dispatched.attempts,
        ..Report::default()
    };
    let mut response_headers = passthrough(&dispatched.headers);
    if !dispatched.status.is_success() {
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
    let entry = charge(
        gateway,
        &meta,
        Some(reservation),
        Charge {
            provider: Some(&provider),
            model,
            kind,
            usage: one,
            cache: CacheOutcome::Bypass,
            attempts: dispatched.attempts,
            estimated: false,
            failed: false,
        },
    );
    report.cost = entry.map(|e| e.cost_usd);
    report.write(&meta, &mut response_headers);
    Ok((dispatched.status, response_headers, bytes).into_response())
}
