//! Upstream providers: where a request can go, in which order, and how one attempt
//! is sent.
//!
//! A request's plan is its model's route (the provider serving it, then its
//! fallbacks), or, for a model without a route, the first provider of the kind the
//! route needs. Each provider has its own admission queue and circuit breaker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt as _;
use gatebench_queue::{QueueConfig, Scheduler};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::{GatewayConfig, ProviderConfig, ProviderKind};
use crate::health::Circuit;

mod pool;

pub use pool::Body;

/// One upstream provider.
#[derive(Debug)]
pub struct Provider {
    /// Its configuration.
    pub config: ProviderConfig,
    /// The header carrying its key upstream, built once: the same on every attempt.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Its own connections, for a plain-HTTP provider; a TLS provider's go
    /// through the shared client.
    pool: Option<Arc<pool::Pool>>,
    /// Its admission queue.
    pub queue: Arc<Scheduler>,
    /// Its circuit breaker.
    pub circuit: Circuit,
}

impl Provider {
    /// Name, as in the ledger and `x-gatebench-provider`.
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

/// Where one attempt goes: a provider and the model name to send it.
#[derive(Clone, Debug)]
pub struct Target {
    /// The provider.
    pub provider: Arc<Provider>,
    /// Model to put in the body (`None`: leave the body's model alone).
    pub model: Option<String>,
}

/// A provider's answer: its head, and its body, which may still be arriving.
pub type Response = http::Response<Body>;

/// All providers and routes.
#[derive(Debug)]
pub struct Upstreams {
    /// hyper's pooled client, for TLS providers (plain-HTTP ones have a [`pool`]
    /// each): reqwest's layers above it (a URL parsed twice per request, a redirect
    /// policy) cost more than the rest of a proxied call's client side.
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    providers: Vec<Arc<Provider>>,
    routes: HashMap<String, Vec<(usize, Option<String>)>, foldhash::fast::RandomState>,
}

/// An upstream setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// A queue setting is invalid.
    #[error("provider `{provider}`: {source}")]
    Queue {
        /// Provider.
        provider: String,
        /// Cause.
        source: gatebench_queue::QueueConfigError,
    },
    /// `api_key_env` names a variable that is not set.
    #[error("provider `{provider}`: its api_key_env names {var}, which is not set")]
    MissingKey {
        /// Provider.
        provider: String,
        /// Variable.
        var: String,
    },
    /// The key cannot be sent in a header (a line break, a control character).
    #[error("provider `{provider}`: its API key is not a valid HTTP header value")]
    InvalidKey {
        /// Provider.
        provider: String,
    },
}

impl Upstreams {
    /// Builds providers, their queues and circuits, and the route table.
    pub fn new(config: &GatewayConfig) -> Result<Upstreams, UpstreamError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(
            config
                .providers
                .iter()
                .map(|p| p.connect_timeout)
                .max()
                .unwrap_or(Duration::from_secs(3)),
        ));
        let mut tls = gatebench_tls::platform_config();
        // offered by the connector itself, for the protocols enabled below
        tls.alpn_protocols.clear();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        // No redirect is followed: a provider's redirect is passed on to the
        // client, as any proxy does.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        let mut providers = Vec::with_capacity(config.providers.len());
        for p in &config.providers {
            let api_key = match &p.api_key_env {
                Some(var) => Some(std::env::var(var).map_err(|_| UpstreamError::MissingKey {
                    provider: p.name.clone(),
                    var: var.clone(),
                })?),
                None => p.api_key.clone(),
            };
            let auth = api_key
                .map(|key| {
                    auth_header(p.kind, &key).ok_or_else(|| UpstreamError::InvalidKey {
                        provider: p.name.clone(),
                    })
                })
                .transpose()?;
            let queue = Scheduler::new(QueueConfig {
                concurrency: p.concurrency,
                capacity: p.queue_capacity,
                aging: config.queue.aging,
                initial_service_time: Duration::from_millis(500),
            })
            .map_err(|source| UpstreamError::Queue {
                provider: p.name.clone(),
                source,
            })?;
            let circuit = Circuit::new(config.health.failure_threshold, config.health.open_for);
            providers.push(Arc::new(Provider {
                config: p.clone(),
                auth,
                pool: pool::Pool::new(&p.base_url, p.connect_timeout),
                queue,
                circuit,
            }));
        }
        let index = |name: &str| {
            providers
                .iter()
                .position(|p: &Arc<Provider>| p.config.name == name)
        };
        let mut routes = HashMap::default();
        for route in &config.routes {
            let mut plan = Vec::new();
            // Validation has checked that every provider named exists.
            if let Some(i) = index(&route.provider) {
                plan.push((i, route.upstream_model.clone()));
            }
            for fallback in &route.fallbacks {
                if let Some(i) = index(&fallback.provider) {
                    plan.push((i, Some(fallback.model.clone())));
                }
            }
            routes.insert(route.model.clone(), plan);
        }
        Ok(Upstreams {
            client,
            providers,
            routes,
        })
    }

    /// Every provider.
    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    /// The provider named `name`, if configured.
    pub fn provider(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// Models with a route.
    pub fn routed_models(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// The models a call for `model` may be billed as: the model itself and every
    /// model its route falls back to.
    pub fn candidate_models<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a str> {
        let fallbacks = self
            .routes
            .get(model)
            .into_iter()
            .flatten()
            .filter_map(|(_, m)| m.as_deref());
        std::iter::once(model).chain(fallbacks)
    }

    /// The targets to try for `model` on a route of `kind`, in order. Empty when no
    /// provider of that kind exists.
    pub fn plan(&self, kind: ProviderKind, model: Option<&str>) -> Vec<Target> {
        let routed = model.and_then(|m| self.routes.get(m)).filter(|plan| {
            plan.iter()
                .all(|(i, _)| self.providers[*i].config.kind == kind)
        });
        match routed {
            Some(plan) => plan
                .iter()
                .map(|(i, m)| Target {
                    provider: Arc::clone(&self.providers[*i]),
                    model: m.clone(),
                })
                .collect(),
            None => self
                .providers
                .iter()
                .find(|p| p.config.kind == kind)
                .map(|p| Target {
                    provider: Arc::clone(p),
                    model: None,
                })
                .into_iter()
                .collect(),
        }
    }

    /// Sends one attempt and waits for the response head. `path_and_query` starts
    /// with `/`. The caller bounds the wait (see [`by`]).
    pub async fn send(
        &self,
        provider: &Provider,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, AttemptError> {
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.headers_mut() = forwarded(headers);
        if let Some((name, value)) = &provider.auth {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let base = match &provider.pool {
            Some(pool) => &pool.prefix,
            None => &provider.config.base_url,
        };
        // the text moves into the URI as it is, uncopied
        *request.uri_mut() = http::Uri::try_from([base, path_and_query].concat()).map_err(|e| {
            AttemptError::Connection(format!("invalid upstream URL {base}{path_and_query}: {e}"))
        })?;
        match &provider.pool {
            // boxed: the exchange's state is kilobytes, and every future that holds
            // this one would be copied with it on each move
            Some(pool) => Box::pin(pool.send(request)).await,
            None => self
                .client
                .request(request)
                .await
                .map(|response| response.map(Body::shared))
                .map_err(|e| AttemptError::Connection(chain(&e))),
        }
    }

    /// Sends a health probe: `GET` of the kind's probe path with the provider's key,
    /// within the provider's timeout.
    pub async fn probe(&self, provider: &Provider) -> Result<StatusCode, AttemptError> {
        let path = provider.config.kind.probe_path();
        let headers = HeaderMap::new();
        let deadline = Instant::now() + provider.config.timeout;
        let sent = self.send(provider, Method::GET, path, &headers, Bytes::new());
        let (head, body) = by(deadline, sent).await?.into_parts();
        // read, so that its connection can serve again; the status is the answer
        let _ = by(deadline, read(body)).await;
        Ok(head.status)
    }
}

/// The header that carries `key` to a provider of `kind` (ElevenLabs' `xi-api-key`,
/// everyone else's `authorization: Bearer`), marked sensitive; `None` if the key
/// cannot be a header value.
fn auth_header(kind: ProviderKind, key: &str) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match kind {
        ProviderKind::Elevenlabs => (HeaderName::from_static("xi-api-key"), key.to_owned()),
        _ => (http::header::AUTHORIZATION, format!("Bearer {key}")),
    };
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// `attempt`, if it ends by `deadline`. A plain function: an `async fn` would hold
/// `attempt` twice in its state, as its argument and inside the timeout.
pub fn by<T>(
    deadline: Instant,
    attempt: impl Future<Output = Result<T, AttemptError>>,
) -> impl Future<Output = Result<T, AttemptError>> {
    tokio::time::timeout_at(deadline.into(), attempt)
        .map(|result| result.unwrap_or(Err(AttemptError::Timeout)))
}

/// A response's whole body.
pub async fn read(body: Body) -> Result<Bytes, AttemptError> {
    gatebench_serve::body::collect(body)
        .await
        .map_err(|e| AttemptError::Connection(chain(&e)))
}

/// An attempt that got no response.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// No response within the provider's timeout.
    #[error("upstream timed out")]
    Timeout,
    /// The connection could not be made, or broke before a response.
    #[error("upstream connection failed: {0}")]
    Connection(String),
}

/// An error and all its causes: "connection reset", "connection refused" are in
/// the sources.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Request headers passed upstream: content type and the provider-meaningful
/// ones; never the client's credentials (the provider's own key is added instead),
/// never hop-by-hop or gateway headers.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    // Correlation headers too, so a provider's logs (and the mocks' books) name the
    // client's request on every attempt.
    const PASS: [HeaderName; 7] = [
        http::header::CONTENT_TYPE,
        http::header::ACCEPT,
        HeaderName::from_static("openai-beta"),
        http::header::USER_AGENT,
        HeaderName::from_static("x-request-id"),
        HeaderName::from_static("traceparent"),
        HeaderName::from_static("tracestate"),
    ];
    // one pass over the client's few headers, comparing names, rather than a
    // hashed lookup for each name passed; the first value of a name is the one sent
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if PASS.contains(name) {
            out.entry(name).or_insert_with(|| value.clone());
        }
    }
    if !out.contains_key(http::header::CONTENT_TYPE) {
        out.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: &str, key: &str) -> GatewayConfig {
        let text = format!(
            "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n\n[[provider]]\nname = \"p\"\nkind = \"{kind}\"\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"{key}\"\n"
        );
        GatewayConfig::from_toml(&text, "gw.toml").unwrap()
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_at_startup() {
        let error = Upstreams::new(&config("openai", "sk-1\\nX-Injected: 1")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "provider `p`: its API key is not a valid HTTP header value"
        );
    }

    #[test]
    fn each_kind_carries_its_key_in_its_own_header() {
        for (kind, name, value) in [
            ("openai", "authorization", "Bearer sk-1"),
            ("elevenlabs", "xi-api-key", "sk-1"),
        ] {
            let upstreams = Upstreams::new(&config(kind, "sk-1")).unwrap();
            let (n, v) = upstreams.providers[0].auth.clone().unwrap();
            assert_eq!((n.as_str(), v.to_str().unwrap()), (name, value));
            assert!(v.is_sensitive());
        }
    }
}
