//! gatebench's own services behind the gateway: `POST /v1/personality` and
//! `POST /v1/webvtt`, billed per request, not cached.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use gatebench_cost::{Kind, Usage};
use http::{HeaderMap, Method};
use serde::de::IgnoredAny;

use crate::config::ProviderKind;
use crate::dispatch::{Accepted, Media, Outbound};
use crate::error::GatewayError;
use crate::extract::{Incoming, JsonBody};
use crate::meta::Meta;
use crate::pipeline::{self, Answer, Cache, Call};
use crate::render::render;
use crate::request::to_the_end;
use crate::state::Gateway;

/// `POST /v1/personality`.
pub fn personality(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<IgnoredAny>,
) -> impl Future<Output = Result<Response, GatewayError>> + Send {
    to_the_end(serve(gateway, Service::Personality, meta, headers, body))
}

/// `POST /v1/webvtt`.
pub fn webvtt(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Incoming { meta, body }: Incoming<IgnoredAny>,
) -> impl Future<Output = Result<Response, GatewayError>> + Send {
    to_the_end(serve(gateway, Service::Webvtt, meta, headers, body))
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
    gateway: Arc<Gateway>,
    service: Service,
    meta: Meta,
    headers: HeaderMap,
    body: JsonBody<IgnoredAny>,
) -> Result<Response, GatewayError> {
    // owned, so that the handler's future is this one: a wrapper holding the
    // arguments would carry them twice
    let (gateway, headers) = (&gateway, &headers);
    let body = body.bytes;
    let model = service.name();
    let (provider_kind, kind) = service.kind();
    let one = Usage {
        requests: 1,
        ..Usage::default()
    };
    let path = format!("/v1/{model}");
    let usage_of = move |_: &HeaderMap, _: &[u8]| Some(one);
    let accept = move |body: &[u8]| {
        let json = || serde_json::from_slice::<serde_json::Value>(body).is_ok();
        let valid = match service {
            Service::Personality => json(),
            Service::Webvtt => body.starts_with(b"WEBVTT") || json(),
        };
        valid.then_some(Accepted::default())
    };
    let call = Call {
        route: model,
        kind,
        provider_kind,
        model,
        routed: false,
        worst_case: one,
        cache: Cache::None,
        answer: Answer::Body,
        outbound: Outbound {
            method: Method::POST,
            path: &path,
            headers,
            stream: false,
            media: Media::Any,
            accept: &accept,
        },
        body_for: &|_| body.clone(),
        usage_of: &usage_of,
        pinned: None,
    };
    let done = pipeline::run(gateway, meta, call)
        .await
        .map_err(GatewayError::detail_shaped)?;
    Ok(render(gateway, done, Answer::Body))
}
