//! What every call route shares before its own work: the [`Observe`] layer
//! (a request id, the in-flight gauge and request count, the gateway's own faults
//! logged), and the extractors that read a request's directives ([`Meta`]) and its
//! JSON body ([`Incoming`]). Their errors come in the shape of the route's
//! provider: OpenAI's `error` object, or FastAPI's `detail` on the ElevenLabs-style
//! routes.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;
use bytes::Bytes;
use gatebench_wire::gateway::REQUEST_ID;
use http::HeaderValue;
use http::request::Parts;
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower::{Layer, Service};

use crate::error::{GatewayError, OwnError, detail_route};
use crate::meta::Meta;
use crate::request::{read, typed_object};
use crate::state::Gateway;
use crate::timing::Timing;

/// Status counted for a request whose client hung up before the answer (nginx's
/// "client closed request").
pub const CLIENT_CLOSED: u16 = 499;

/// The route labels of the ElevenLabs-style routes, whose errors take the
/// `{"detail": ...}` shape ([`detail_route`]'s paths).
const DETAIL_ROUTES: [&str; 3] = ["tts", "personality", "webvtt"];

/// The header a provider names its answer by, which SDKs read as the request's id.
pub(crate) const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The gateway's id of a request, set by [`Observe`].
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A fault of the gateway itself behind a response, for [`Observe`] to log.
#[derive(Clone, Debug)]
pub struct Fault(pub String);

/// Observes each request of a route (`route_layer`): gives it an id (stamped on the
/// response, errors included), counts it in flight until it ends and in the
/// requests total when it does (with [`CLIENT_CLOSED`] when the client hangs up
/// first), and logs a fault of the gateway's own behind the response. A named
/// service and future, so a request pays no boxed future and no boxed clone of its
/// route for it.
#[derive(Clone)]
pub struct Observe {
    /// The gateway.
    pub gateway: Arc<Gateway>,
    /// The route's label in metrics.
    pub route: &'static str,
}

impl<S> Layer<S> for Observe {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            observe: self.clone(),
        }
    }
}

/// A route's service behind [`Observe`].
#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    observe: Observe,
}

impl<S> Service<Request> for Observed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observing<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let Observe { gateway, route } = &self.observe;
        let id = gateway.request_id();
        request.extensions_mut().insert(RequestId(id.clone()));
        let in_flight = InFlight::new(Arc::clone(gateway), route);
        Observing {
            answer: self.inner.call(request),
            request: Some((id, in_flight)),
        }
    }
}

pin_project! {
    /// A request's answer under [`Observe`]: the request stays in flight until the
    /// answer is in, or until this is dropped (the client gone).
    pub struct Observing<F> {
        #[pin]
        answer: F,
        request: Option<(String, InFlight)>,
    }
}

impl<F> Future for Observing<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.answer.poll(cx));
        let Some((id, mut in_flight)) = this.request.take() else {
            return Poll::Ready(Ok(response));
        };
        if let Ok(value) = HeaderValue::from_str(&id) {
            let headers = response.headers_mut();
            // an answer the gateway gave itself (an error, a refusal) is named by
            // its id where SDKs look for the provider's (`x-request-id`)
            if !headers.contains_key(X_REQUEST_ID) {
                headers.insert(X_REQUEST_ID, value.clone());
            }
            if !headers.contains_key(REQUEST_ID) {
                headers.insert(REQUEST_ID, value);
            }
        }
        if let Some(Fault(detail)) = response.extensions_mut().remove::<Fault>() {
            tracing::error!(request_id = %id, route = in_flight.route, %detail, "internal error");
        }
        // the gateway's own refusals (a budget, a full queue, no upstream) in the
        // shape of the route's provider, as its other errors are
        if let Some(own) = response.extensions_mut().remove::<OwnError>()
            && DETAIL_ROUTES.contains(&in_flight.route)
        {
            *response.body_mut() = Body::from(own.detail_body());
        }
        in_flight.status = response.status().as_u16();
        Poll::Ready(Ok(response))
    }
}

/// A request in flight: counted in the gauge until it ends, and in the requests
/// total when it does, also when the client hangs up and the request's future is
/// dropped mid-`await` (then with [`CLIENT_CLOSED`]).
struct InFlight {
    gateway: Arc<Gateway>,
    route: &'static str,
    started: Instant,
    status: u16,
}

impl InFlight {
    fn new(gateway: Arc<Gateway>, route: &'static str) -> Self {
        gateway.metrics.in_flight().inc();
        InFlight {
            gateway,
            route,
            started: Instant::now(),
            status: CLIENT_CLOSED,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let metrics = &self.gateway.metrics;
        metrics.in_flight().dec();
        metrics.request(self.route, self.status, self.started.elapsed());
    }
}

/// `error` in the shape of the route at `path`.
fn shaped(path: &str, error: GatewayError) -> GatewayError {
    if detail_route(path) {
        error.detail_shaped()
    } else {
        error
    }
}

impl FromRequestParts<Arc<Gateway>> for Meta {
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Meta, GatewayError> {
        let id = match parts.extensions.get::<RequestId>() {
            Some(RequestId(id)) => id.clone(),
            None => gateway.request_id(),
        };
        let path = parts.uri.path();
        // ElevenLabs clients authenticate with `xi-api-key`
        let xi = path.starts_with("/v1/text-to-speech/");
        Meta::read(gateway, &parts.headers, xi, id).map_err(|e| shaped(path, e))
    }
}

/// A request's JSON body: its bytes (a JSON object; [`crate::request::object`]
/// builds it where a route needs it) and the typed request.
pub struct JsonBody<T> {
    /// The bytes as received.
    pub bytes: Bytes,
    /// The typed request (`serde::de::IgnoredAny` for a route that only needs an
    /// object), boxed: a chat request is hundreds of bytes, which every future
    /// holding it would otherwise copy on each move.
    pub request: Box<T>,
}

/// A call as it comes in: its directives, read (and the caller authenticated)
/// before the body is, and its JSON body. Bodies past the gateway's limit, bodies
/// that are not a JSON object, and fields of the wrong type are refused with an
/// error naming what is wrong. The request's timing starts once the body is in:
/// waiting for a slow client's body is not the gateway's time.
pub struct Incoming<T> {
    /// Who is calling and what it asks of the gateway.
    pub meta: Meta,
    /// The body.
    pub body: JsonBody<T>,
}

impl<T: DeserializeOwned> Incoming<T> {
    /// The call whose head is `parts` and whose body is `body`; the head is left
    /// in `parts` for the route.
    pub async fn read(
        parts: &mut Parts,
        body: Body,
        gateway: &Arc<Gateway>,
    ) -> Result<Incoming<T>, GatewayError> {
        let mut meta = Meta::from_request_parts(parts, gateway).await?;
        let path = parts.uri.path();
        let parse = async {
            let bytes = read(body, gateway.config.body_limit).await?;
            meta.timing = Timing::start();
            let request = Box::new(typed_object(&bytes)?);
            Ok(JsonBody { bytes, request })
        };
        let body = parse.await.map_err(|e| shaped(path, e))?;
        Ok(Incoming { meta, body })
    }
}

impl<T: DeserializeOwned> FromRequest<Arc<Gateway>> for Incoming<T> {
    type Rejection = GatewayError;

    async fn from_request(
        request: Request,
        gateway: &Arc<Gateway>,
    ) -> Result<Incoming<T>, GatewayError> {
        let (mut parts, body) = request.into_parts();
        Incoming::read(&mut parts, body, gateway).await
    }
}
