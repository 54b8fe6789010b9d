//! The middleware every provider route goes through: request id, body limit, auth,
//! fault injection, stats. Handlers take the body it read as [`Buffered`], and a
//! [`RequestCtx`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode, header};
use http_body_util::BodyExt as _;

use crate::core::{Buffered, Caller, Draws, KeyHeader, MockCore, RequestCtx};
use crate::error::{ErrorStyle, Outcome};
use crate::faults::FaultKind;
use crate::rng;
use crate::server::Connection;
use crate::tracked::Tracked;
use gatebench_serve::body::{BodyError, classify};

/// Runs before every provider route (installed with `route_layer`).
pub async fn mock_layer(
    State(core): State<Arc<MockCore>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.as_ref().map_or_else(
        || request.uri().path().to_owned(),
        |m| m.as_str().to_owned(),
    );
    serve(&core, route, request, |mut parts, ctx, bytes| {
        parts.extensions.insert(ctx);
        parts.extensions.insert(Buffered(bytes.clone()));
        // The body is still there for a route that reads it whole (`Bytes`).
        next.run(Request::from_parts(parts, Body::from(bytes)))
    })
    .await
}

/// The middleware's work around a route's own, `inner`, which is given the
/// request's head, its context and its body once they are let in: what
/// [`mock_layer`] runs for a route of the router, and a route served ahead of the
/// router ([`crate::control::assemble`]'s `front`) for its own.
pub(crate) async fn serve<F, Fut>(
    core: &MockCore,
    route: String,
    request: Request,
    inner: F,
) -> Response
where
    F: FnOnce(Parts, RequestCtx, Bytes) -> Fut,
    Fut: Future<Output = Response>,
{
    let in_flight = core.stats.enter();
    let (response, outcome, ctx) = handle(core, route, request, inner).await;
    ctx.set_outcome(outcome, response.status().as_u16());
    let (parts, body) = response.into_parts();
    // The request stays in flight, and its books entry open, until its body has
    // been sent.
    Response::from_parts(parts, Body::new(Tracked::new(body, ctx, in_flight)))
}

/// Whether the profile's key settings let `key` in.
fn admitted(core: &MockCore, key: Option<&str>) -> bool {
    if !core.settings.require_key && core.settings.api_keys.is_empty() {
        return true;
    }
    key.is_some_and(|k| {
        core.settings.api_keys.is_empty() || core.settings.api_keys.iter().any(|a| a == k)
    })
}

/// Runs before the account routes (usage and cost reports): the provider's key
/// check only; they are not faulted, limited, counted or booked.
pub async fn account_layer(
    State(core): State<Arc<MockCore>>,
    request: Request,
    next: Next,
) -> Response {
    let key = api_key(request.headers(), core.key_header);
    if !admitted(&core, key.as_deref()) {
        return core.style.unauthorized(key.is_some()).into_response();
    }
    next.run(request).await
}

/// Longest correlation header kept in the books.
const MAX_CORRELATION: usize = 256;

/// Longest API key taken (OpenAI's project keys are about 170 bytes).
const MAX_KEY: usize = 512;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const XI_API_KEY: HeaderName = HeaderName::from_static("xi-api-key");

fn caller(headers: &http::HeaderMap, source: KeyHeader) -> Caller {
    let correlation = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= MAX_CORRELATION)
            .map(str::to_owned)
    };
    Caller {
        api_key: api_key(headers, source),
        traceparent: correlation(&TRACEPARENT),
        client_request_id: correlation(&REQUEST_ID),
    }
}

/// A request refused before anything was drawn for it.
fn refused(
    core: &MockCore,
    route: String,
    response: Response,
    caller: Caller,
) -> (Response, &'static str, RequestCtx) {
    let (response, outcome) = finish(response, None);
    let draws = Draws::unfaulted(core, &route);
    let ctx = RequestCtx::new(core, route, draws, caller);
    (with_ids(response, core, &ctx), outcome, ctx)
}

async fn handle<F, Fut>(
    core: &MockCore,
    route: String,
    request: Request,
    inner: F,
) -> (Response, &'static str, RequestCtx)
where
    F: FnOnce(Parts, RequestCtx, Bytes) -> Fut,
    Fut: Future<Output = Response>,
{
    let style = core.style;
    let (parts, body) = request.into_parts();
    let caller = caller(&parts.headers, core.key_header);

    // a key is kept in the books: one longer than any provider issues is refused
    let overlong = caller.api_key.as_ref().is_some_and(|k| k.len() > MAX_KEY);
    if overlong || !admitted(core, caller.api_key.as_deref()) {
        let response = style.unauthorized(caller.api_key.is_some()).into_response();
        let caller = Caller {
            api_key: caller.api_key.filter(|_| !overlong),
            ..caller
        };
        return refused(core, route, response, caller);
    }

    let limit = core.settings.body_limit;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return refused(core, route, style.too_large(limit).into_response(), caller);
    }
    let bytes = match gatebench_serve::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let refusal = match classify(&*error) {
                BodyError::TooLarge => style.too_large(limit),
                BodyError::TimedOut(_) => style
                    .refusal(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        error.to_string(),
                    )
                    .outcome("body_timeout"),
                BodyError::Other => style
                    .refusal(
                        StatusCode::BAD_REQUEST,
                        "body_unreadable",
                        format!("Could not read the request body: {error}"),
                    )
                    .outcome("aborted"),
            };
            return refused(core, route, refusal.into_response(), caller);
        }
    };

    let hash = rng::request_hash(&route, &bytes);
    let seed = rng::mix(
        core.seed,
        &[
            &hash.to_le_bytes(),
            &core.occurrences.next(hash).to_le_bytes(),
        ],
    );
    let asked = || body_model(&bytes).or_else(|| core.fixed_model().map(str::to_owned));
    let draw = core.faults.draw_with(
        [&route, parts.uri.path()],
        asked,
        &mut rng::stream(seed, "fault"),
    );

    let ctx = RequestCtx::new(
        core,
        route,
        Draws {
            seed,
            time_scale: core.time_scale,
            slow_down: draw.slow_down.unwrap_or(1.0),
            stream_cut: (draw.fault == Some(FaultKind::StreamCut)).then(|| 0.2 + 0.6 * unit(seed)),
        },
        caller,
    );
    let fault_outcome = draw
        .fault
        .or(draw.slow_down.map(|_| FaultKind::SlowDown))
        .map(FaultKind::outcome);
    // Known now, so that a call abandoned while a fault holds it (a hang, a
    // reset) is booked as such, under the model it asked for.
    if let Some(outcome) = fault_outcome.filter(|_| draw.fault.is_some()) {
        ctx.set_outcome(outcome, 0);
        ctx.name_model(asked);
    }
    let scaled = |d: Duration| ctx.scaled(d);

    let early = match draw.fault {
        Some(FaultKind::RateLimit) => Some(
            style
                .rate_limited(
                    draw.retry_after,
                    "Rate limit reached (injected). Please try again later.",
                    Default::default(),
                )
                .into_response(),
        ),
        Some(FaultKind::ServerError) => Some(
            style
                .server_fault(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
        ),
        Some(FaultKind::BadGateway) => {
            Some(style.server_fault(StatusCode::BAD_GATEWAY).into_response())
        }
        Some(FaultKind::Unavailable) => Some(
            style
                .server_fault(StatusCode::SERVICE_UNAVAILABLE)
                .into_response(),
        ),
        Some(FaultKind::Timeout) => {
            tokio::time::sleep(scaled(draw.timeout_after)).await;
            Some(
                style
                    .server_fault(StatusCode::GATEWAY_TIMEOUT)
                    .into_response(),
            )
        }
        Some(FaultKind::Hang) => {
            // Not scaled: a hang is no answer at all, even at time scale 0; `hang_for`
            // only bounds how long the connection is held.
            tokio::time::sleep(draw.hang_for).await;
            Some(reset_connection(parts.extensions.get::<Connection>()).await)
        }
        Some(FaultKind::Reset) => {
            Some(reset_connection(parts.extensions.get::<Connection>()).await)
        }
        Some(FaultKind::Malformed) => Some(malformed(style)),
        Some(FaultKind::StreamCut | FaultKind::SlowDown) | None => None,
    };
    let response = match early {
        Some(response) => response,
        None => {
            let response = inner(parts, ctx.clone(), bytes.clone()).await;
            if ctx.stream_cut_pending() {
                cut_body(response).await
            } else {
                response
            }
        }
    };
    if !response.status().is_success() {
        ctx.name_model(asked);
    }
    let (response, outcome) = finish(with_ids(response, core, &ctx), fault_outcome);
    (response, outcome, ctx)
}

fn finish(response: Response, fault: Option<&'static str>) -> (Response, &'static str) {
    let outcome = fault.unwrap_or_else(|| match response.extensions().get::<Outcome>() {
        Some(Outcome(label)) => label,
        None if response.status().is_success() => "ok",
        None if response.status() == StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        None if response.status().is_client_error() => "client_error",
        None => "server_error",
    });
    (response, outcome)
}

const PROCESSING_MS: HeaderName = HeaderName::from_static("openai-processing-ms");
const OPENAI_VERSION: HeaderName = HeaderName::from_static("openai-version");
const DETAIL_REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
const API_VERSION: HeaderValue = HeaderValue::from_static("2020-10-01");
const UNKNOWN_ID: HeaderValue = HeaderValue::from_static("req_unknown");

fn with_ids(mut response: Response, core: &MockCore, ctx: &RequestCtx) -> Response {
    let headers = response.headers_mut();
    let id = HeaderValue::from_str(ctx.id()).unwrap_or(UNKNOWN_ID);
    match core.style {
        ErrorStyle::OpenAi => {
            headers.insert(REQUEST_ID, id);
            let ms = ctx.received().elapsed().as_millis() as u64;
            headers.insert(PROCESSING_MS, HeaderValue::from(ms));
            headers.insert(OPENAI_VERSION, API_VERSION);
        }
        ErrorStyle::Detail => {
            headers.insert(DETAIL_REQUEST_ID, id);
        }
    }
    response
}

pub(crate) fn api_key(headers: &http::HeaderMap, source: KeyHeader) -> Option<String> {
    let bearer = || {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?
            .trim();
        (!key.is_empty()).then(|| key.to_owned())
    };
    match source {
        KeyHeader::Bearer => bearer(),
        KeyHeader::XiApiKey => headers
            .get(&XI_API_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .or_else(bearer),
    }
}

/// Resets the TCP connection. Without a connection handle (a router called in-process
/// by a test), the closest thing is a body that fails at once.
async fn reset_connection(connection: Option<&Connection>) -> Response {
    match connection {
        Some(connection) => {
            connection.reset();
            // The connection task drops this future with the connection.
            std::future::pending::<()>().await;
            unreachable_response()
        }
        None => {
            let failing = futures::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("connection reset"))
            });
            Response::new(Body::from_stream(failing))
        }
    }
}

fn unreachable_response() -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

fn malformed(style: ErrorStyle) -> Response {
    let body: &'static str = match style {
        ErrorStyle::OpenAi => {
            r#"{"id":"chatcmpl-malformed","object":"chat.completion","created":1700000000,"choices":[{"index":0,"message":{"role":"assistant","content":"The answer is"#
        }
        ErrorStyle::Detail => r#"{"audio_base64":"SUQzBAAAAAAA","alignment":{"characters":["H","e"#,
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Sends the first half of the body, then fails: the client sees the connection drop
/// mid-body (fewer bytes than announced, or no final chunk). Streaming handlers cut
/// their own streams (see [`RequestCtx::take_stream_cut`]); this is for the others.
async fn cut_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    let chunks = futures::stream::iter([Ok(half)]).chain(futures::stream::once(async {
        // Pending once, so the server flushes the head and the first half before failing.
        tokio::task::yield_now().await;
        Err(std::io::Error::other("stream cut"))
    }));
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// The `model` (OpenAI) or `model_id` (ElevenLabs) of a JSON body, for faults scoped
/// by model (parsed only when such a fault is configured) and for the books of a
/// call that was not served.
fn body_model(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Model {
        model: Option<String>,
        model_id: Option<String>,
    }
    let parsed: Model = serde_json::from_slice(body).ok()?;
    parsed.model.or(parsed.model_id)
}

fn unit(seed: u64) -> f64 {
    (rng::mix(seed, &[b"cut"]) >> 11) as f64 / (1u64 << 53) as f64
}
