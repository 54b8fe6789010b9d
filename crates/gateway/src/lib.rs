//! An OpenAI- and ElevenLabs-compatible gateway in front of AI providers.
//!
//! Every request goes through the same steps: auth ([`auth`]), a budget
//! reservation ([`gatebench_cost`]), the cache (semantic for chat, exact for
//! embeddings and text-to-speech), the provider's priority queue
//! ([`gatebench_queue`]), the upstream call with retries, circuit breakers and
//! fallbacks ([`dispatch`]), and billing to the ledger ([`billing`]). Responses
//! tell the caller what happened in `x-gatebench-*` headers ([`report`]).

mod account;
pub mod auth;
pub mod billing;
mod chat;
mod chat_stream;
pub mod config;
pub mod dispatch;
mod embeddings;
pub mod error;
pub mod health;
pub mod meta;
pub mod metrics;
mod ops;
pub mod report;
pub mod request;
mod respond;
pub mod retry;
mod services;
pub mod sse;
pub mod state;
pub mod timing;
mod tts;
pub mod upstream;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use chat::DEFAULT_MAX_OUTPUT;
pub use config::{ConfigError, GatewayConfig, ProviderKind};
pub use error::GatewayError;
pub use state::{Gateway, StartError};

/// The gateway's routes.
pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/models", get(ops::models))
        .route("/v1/text-to-speech/{voice_id}", post(tts::convert))
        .route("/v1/text-to-speech/{voice_id}/stream", post(tts::stream))
        .route(
            "/v1/text-to-speech/{voice_id}/with-timestamps",
            post(tts::with_timestamps),
        )
        .route(
            "/v1/text-to-speech/{voice_id}/stream/with-timestamps",
            post(tts::stream_with_timestamps),
        )
        .route("/v1/personality", post(services::personality))
        .route("/v1/webvtt", post(services::webvtt))
        .route("/v1/gatebench/usage", get(account::usage))
        .route("/v1/gatebench/ledger", get(account::ledger))
        .route("/v1/gatebench/config", get(account::config))
        .route("/metrics", get(ops::metrics))
        .route("/healthz", get(ops::healthz))
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
        .layer(axum::middleware::from_fn(
            gatebench_serve::close_if_body_unread,
        ))
        .with_state(gateway)
}

/// A gateway serving in the background.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    /// Binds `addr` and serves `gateway` until [`RunningGateway::shutdown`].
    pub async fn start(
        gateway: Arc<Gateway>,
        addr: SocketAddr,
    ) -> Result<RunningGateway, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(serve(listener, Arc::clone(&gateway), async move {
            let _ = stopped.changed().await;
        }));
        Ok(RunningGateway {
            addr,
            gateway,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state (ledger, caches, queues).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Stops accepting, lets open requests finish, and flushes the ledger.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Ok(Err(error)) = self.task.await {
            tracing::warn!(%error, "gateway server ended with an error");
        }
        flush(&self.gateway).await;
    }
}

/// Serves `gateway` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(gateway))
        .with_graceful_shutdown(shutdown)
        .await
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
