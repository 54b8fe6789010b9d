//! An OpenAI- and ElevenLabs-compatible gateway in front of AI providers.
//!
//! Every request goes through the same steps: auth ([`auth`]), a budget
//! reservation ([`gatebench_cost`]), the cache (semantic for chat and text
//! completions, exact for embeddings and text-to-speech), the provider's
//! priority queue ([`gatebench_queue`]), the upstream call with retries, circuit
//! breakers and fallbacks ([`dispatch`]), and billing to the ledger. One [`pipeline`] runs
//! these steps for every route; one [`record`] per request tells the caller what
//! happened in `x-gatebench-*` headers and yields the ledger entry.

mod account;
pub mod auth;
mod chat;
mod chat_stream;
mod checked;
mod completions;
pub mod config;
pub mod dispatch;
mod embeddings;
pub mod error;
pub mod extract;
mod generate;
pub mod health;
pub mod meta;
pub mod metrics;
mod ops;
pub mod pipeline;
pub mod record;
mod render;
pub mod request;
mod responses;
pub mod retry;
mod services;
pub mod sse;
pub mod state;
pub mod stored;
pub mod timing;
mod tts;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use gatebench_serve::admin::AdminToken;
use gatebench_serve::front::{Front, Handler, Route};
use gatebench_serve::head::{Checked, HeadTooLarge, Refuse};
use gatebench_serve::server::{self, App, Limits, ServerHandle, ServerOptions};
use http::{Method, Uri};
use tower::Layer as _;

pub use chat::DEFAULT_MAX_OUTPUT;
pub use config::{ConfigError, GatewayConfig, ProviderKind};
pub use error::GatewayError;
pub use state::{Gateway, StartError};

/// The gateway's routes, `/metrics` guarded by `admin`.
pub fn router(gateway: Arc<Gateway>, admin: AdminToken) -> impl App {
    // Building the tokenizers takes most of a tenth of a second, and every chat
    // call arriving meanwhile would wait for it: build them before the first one.
    std::thread::spawn(gatebench_tokens::warm_up);
    // every call route is observed: a request id, in-flight and request counts,
    // faults logged
    let observed = |route| extract::Observe {
        gateway: Arc::clone(&gateway),
        route,
    };
    let routes = Router::new()
        .route(
            "/v1/chat/completions",
            post(|State(gateway), request| chat::handle(gateway, request))
                .route_layer(observed("chat")),
        )
        .route(
            "/v1/completions",
            post(completions::handle).route_layer(observed("completions")),
        )
        .route(
            "/v1/responses",
            post(responses::handle).route_layer(observed("responses")),
        )
        .route(
            "/v1/responses/{id}",
            get(stored::retrieve).delete(stored::delete),
        )
        .route("/v1/responses/{id}/input_items", get(stored::input_items))
        .route(
            "/v1/embeddings",
            post(embeddings::handle).route_layer(observed("embeddings")),
        )
        .route("/v1/models", get(ops::models))
        .route("/v1/models/{model}", get(ops::model))
        .route(
            "/v1/text-to-speech/{voice_id}",
            post(tts::convert).route_layer(observed("tts")),
        )
        .route(
            "/v1/text-to-speech/{voice_id}/stream",
            post(tts::stream).route_layer(observed("tts")),
        )
        .route(
            "/v1/text-to-speech/{voice_id}/with-timestamps",
            post(tts::with_timestamps).route_layer(observed("tts")),
        )
        .route(
            "/v1/text-to-speech/{voice_id}/stream/with-timestamps",
            post(tts::stream_with_timestamps).route_layer(observed("tts")),
        )
        .route(
            "/v1/personality",
            post(services::personality).route_layer(observed("personality")),
        )
        .route(
            "/v1/webvtt",
            post(services::webvtt).route_layer(observed("webvtt")),
        )
        .route("/v1/gatebench/usage", get(account::usage))
        .route("/v1/gatebench/ledger", get(account::ledger))
        .route("/v1/gatebench/config", get(account::config))
        .route(
            "/metrics",
            get(ops::metrics).route_layer(from_fn(gatebench_serve::admin::guard)),
        )
        .route("/healthz", get(ops::healthz))
        // benchmark tools written for vLLM-style servers (guidellm) probe
        // `/health` before they start, and stop at a 404
        .route("/health", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .method_not_allowed_fallback(|method: http::Method, uri: http::Uri| async move {
            GatewayError::MethodNotAllowed {
                method: method.to_string(),
                path: uri.path().to_owned(),
            }
        })
        .fallback(|method: http::Method, uri: http::Uri| async move {
            GatewayError::NotFound {
                method: method.to_string(),
                path: uri.path().to_owned(),
            }
        })
        .with_state(Arc::clone(&gateway));
    let front = Front::new(Some(chat(gateway)), Extension(admin).layer(routes));
    Checked::new(front, HeadRefusal)
}

/// The chat route's path, as the router names it.
const CHAT: &str = "/v1/chat/completions";

/// The chat `POST`, served ahead of the router ([`Front`]) straight to its
/// handler, under the same [`extract::Observe`] layer as in the router. Through
/// the router a chat call paid for the route lookup, its path parameters and
/// matched path, the admin token's extension, boxed service clones and future
/// mappings at each layer and a copy of its header map: 5.7 % of the gateway's
/// instructions per call (callgrind).
fn chat(gateway: Arc<Gateway>) -> Route<extract::Observed<Handler>> {
    Route {
        method: Method::POST,
        path: CHAT,
        service: extract::Observe {
            gateway: Arc::clone(&gateway),
            route: "chat",
        }
        .layer(Handler::new(move |request| {
            let gateway = Arc::clone(&gateway);
            Box::pin(async move { Ok(chat::handle(gateway, request).await) })
        })),
    }
}

/// How the gateway answers a request line or headers past
/// [`gatebench_serve::head`]'s limits: 414 or 431 in the shape of the route's
/// provider.
#[derive(Clone, Copy, Debug)]
struct HeadRefusal;

impl Refuse for HeadRefusal {
    fn refuse(&self, uri: &Uri, too_large: HeadTooLarge) -> Response {
        let error = GatewayError::Refused {
            status: too_large.status,
            code: too_large.code,
            message: too_large.message,
        };
        if error::detail_route(uri.path()) {
            error.detail_shaped().into_response()
        } else {
            error.into_response()
        }
    }
}

/// How long a gateway's shutdown lets open requests (streams included) finish:
/// inside the 30 s Kubernetes and systemd give a process after SIGTERM.
pub const DRAIN: Duration = Duration::from_secs(25);

/// A gateway serving in the background.
#[derive(Debug)]
pub struct RunningGateway {
    gateway: Arc<Gateway>,
    server: ServerHandle,
    probe: Option<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    /// Binds `addr` and serves `gateway` with the default limits, operator routes
    /// open, until [`RunningGateway::shutdown`].
    pub async fn start(
        gateway: Arc<Gateway>,
        addr: SocketAddr,
    ) -> Result<RunningGateway, StartError> {
        Self::start_with(gateway, addr, Limits::default(), AdminToken::open()).await
    }

    /// Binds `addr` and serves `gateway`, each client connection held to `limits`
    /// and `/metrics` to `admin`.
    pub async fn start_with(
        gateway: Arc<Gateway>,
        addr: SocketAddr,
        limits: Limits,
        admin: AdminToken,
    ) -> Result<RunningGateway, StartError> {
        let bind = |source| StartError::Bind {
            addr: addr.to_string(),
            source,
        };
        let listener = server::bind(addr).map_err(bind)?;
        let router = router(Arc::clone(&gateway), admin);
        let options = ServerOptions {
            drain: DRAIN,
            limits,
            resettable: false,
            // a call waits on two sockets, its client's and its provider's: on one
            // core its wake-ups are cheap (see `gatebench_serve::cores`)
            cores: gatebench_serve::cores::available(),
            thread_name: "gateway",
        };
        let server = server::spawn(listener, router, options).map_err(bind)?;
        let health = &gateway.config.health;
        let probe = health.probe.then(|| {
            let period = health::probe_period(health.open_for);
            tokio::spawn(health::probe_half_open(Arc::downgrade(&gateway), period))
        });
        Ok(RunningGateway {
            gateway,
            server,
            probe,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The shared state (ledger, caches, queues).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Stops accepting, lets open requests finish (up to [`DRAIN`]), and flushes
    /// the ledger.
    pub async fn shutdown(self) {
        if let Some(probe) = &self.probe {
            probe.abort();
        }
        self.server.stop().await;
        flush(&self.gateway).await;
    }
}

/// Writes every pending ledger entry to disk.
pub async fn flush(gateway: &Arc<Gateway>) {
    let gw = Arc::clone(gateway);
    match tokio::task::spawn_blocking(move || gw.ledger.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "ledger flush failed"),
        Err(error) => tracing::error!(%error, "ledger flush panicked"),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::Body;
    use axum::extract::Request;
    use tower::ServiceExt as _;

    use super::*;

    /// A chat `POST` goes to the chat route (here a 401 in OpenAI's shape, as no
    /// key is given), any other request to the router behind (here a teapot).
    #[tokio::test]
    async fn the_front_serves_a_chat_post_and_hands_the_rest_to_the_router() {
        let gateway = Gateway::new(GatewayConfig::demo(), ":memory:").unwrap();
        let teapot = tower::service_fn(|_: Request| async {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = http::StatusCode::IM_A_TEAPOT;
            Ok::<_, Infallible>(response)
        });
        let front = Front::new(Some(chat(gateway)), teapot);
        let send = |method: Method, path: &str| {
            let request = http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::from("{}"))
                .unwrap();
            front.clone().oneshot(request)
        };
        let chat = send(Method::POST, CHAT).await.unwrap();
        assert_eq!(chat.status(), http::StatusCode::UNAUTHORIZED);
        assert!(
            chat.headers()
                .contains_key(gatebench_wire::gateway::REQUEST_ID)
        );
        for (method, path) in [
            (Method::GET, CHAT),
            (Method::POST, "/v1/embeddings"),
            (Method::POST, "/v1/chat/completions/"),
        ] {
            let other = send(method, path).await.unwrap();
            assert_eq!(other.status(), http::StatusCode::IM_A_TEAPOT, "{path}");
        }
    }

    /// Settings that only fail when the gateway starts name their key.
    #[test]
    fn a_start_error_names_the_setting_behind_it() {
        let mut config = GatewayConfig::demo();
        config.pricing.dir = Some("no-such-folder/pricing".to_owned());
        let error = Gateway::new(config, ":memory:").unwrap_err().to_string();
        assert!(
            error.starts_with(
                "pricing.dir = \"no-such-folder/pricing\" (a path from the working directory): "
            ),
            "{error}"
        );

        let mut config = GatewayConfig::demo();
        config.providers[0].api_key_env = Some("GATEBENCH_TEST_SURELY_UNSET".to_owned());
        let error = Gateway::new(config, ":memory:").unwrap_err().to_string();
        assert!(
            error.contains("api_key_env names GATEBENCH_TEST_SURELY_UNSET, which is not set"),
            "{error}"
        );
    }
}
