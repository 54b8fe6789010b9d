//! What every mock shares: its settings, fault state, limits, stats, and the
//! per-request context handlers receive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::{Deserialize, Serialize};

use gatebench_wire::books::{CallUsage, hash};

use crate::books::{self, Books, Entry};
use crate::capacity::{Capacity, CapacityConfig, LoadPermit};
use crate::delay;
use crate::error::{ApiError, ErrorStyle};
use crate::faults::{FaultSpec, FaultState};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::rng::{self, MockRng, Occurrences};
use crate::stats::Stats;

/// Settings every mock has, whatever it simulates. Each provider's profile section
/// carries these fields next to its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// Refuse requests without an API key (401).
    pub require_key: bool,
    /// If not empty, the only API keys accepted.
    pub api_keys: Vec<String>,
    /// Largest request body accepted, in bytes (413 beyond).
    pub body_limit: usize,
    /// Concurrency per model.
    pub capacity: CapacityConfig,
    /// Limits per API key.
    pub rate_limits: RateLimitConfig,
    /// Faults in force at start.
    pub faults: FaultSpec,
    /// Calls the raw call log keeps (`GET /_mock/calls`); totals are kept whatever
    /// the log drops.
    pub call_log_capacity: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            require_key: false,
            api_keys: Vec::new(),
            body_limit: 4 * 1024 * 1024,
            capacity: CapacityConfig::default(),
            rate_limits: RateLimitConfig::default(),
            faults: FaultSpec::default(),
            call_log_capacity: books::DEFAULT_CAPACITY,
        }
    }
}

/// Where a mock reads the caller's API key from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer KEY`.
    Bearer,
    /// `xi-api-key: KEY` (or `Authorization: Bearer KEY`).
    XiApiKey,
}

/// The state one mock shares between its handlers.
#[derive(Debug)]
pub struct MockCore {
    /// Which mock (`openai`, `elevenlabs`, `personality`, `webvtt`).
    pub name: &'static str,
    /// Its error shapes.
    pub style: ErrorStyle,
    /// Where it reads API keys from.
    pub key_header: KeyHeader,
    /// This mock's seed (derived from the run's seed and the mock's name).
    pub seed: u64,
    /// Every delay is multiplied by this (0 = no delays).
    pub time_scale: f64,
    /// Settings it started with.
    pub settings: ServiceSettings,
    /// Faults in force.
    pub faults: FaultState,
    /// Requests by route and outcome.
    pub stats: Arc<Stats>,
    /// Every call served, with its usage (the provider's books).
    pub books: Arc<Books>,
    /// Per-key limits.
    pub limits: RateLimiter,
    /// Per-model capacity.
    pub capacity: Capacity,
    pub(crate) occurrences: Occurrences,
    /// What a provider keeps beyond the shared machinery and must forget on reset.
    forget: OnceLock<Forget>,
}

struct Forget(Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Forget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Forget")
    }
}

impl MockCore {
    /// The one model of a service whose requests name none (the personality and
    /// WebVTT services, booked under their own names).
    pub(crate) fn fixed_model(&self) -> Option<&'static str> {
        matches!(self.name, "personality" | "webvtt").then_some(self.name)
    }

    /// A mock core. `seed` is the run's seed; each mock derives its own from it.
    pub fn new(
        name: &'static str,
        style: ErrorStyle,
        key_header: KeyHeader,
        settings: ServiceSettings,
        seed: u64,
        time_scale: f64,
    ) -> Arc<Self> {
        Arc::new(MockCore {
            name,
            style,
            key_header,
            seed: rng::mix(seed, &[name.as_bytes()]),
            time_scale: time_scale.max(0.0),
            faults: FaultState::new(settings.faults.clone()),
            stats: Arc::default(),
            books: Arc::new(Books::new(name, settings.call_log_capacity)),
            limits: RateLimiter::new(settings.rate_limits.clone()),
            capacity: Capacity::new(settings.capacity.clone()),
            occurrences: Occurrences::default(),
            forget: OnceLock::new(),
            settings,
        })
    }

    /// A generator for content that must depend only on what was asked (the same
    /// prompt always gets the same completion), not on when or how often.
    pub fn content_rng(&self, parts: &[&[u8]]) -> MockRng {
        rng::stream(rng::mix(self.seed, parts), "content")
    }

    /// Takes a capacity slot on `model`, or the provider's overload error.
    pub fn enter(&self, model: &str) -> Result<LoadPermit, ApiError> {
        self.capacity
            .enter(model)
            .map_err(|_| self.style.overloaded())
    }

    /// Back to the state at start: faults from the profile, no stats, full buckets,
    /// and whatever the provider registered with [`MockCore::on_reset`].
    pub fn reset(&self) {
        self.faults.set(self.settings.faults.clone());
        self.stats.clear();
        self.books.clear();
        self.limits.clear();
        self.occurrences.clear();
        if let Some(Forget(forget)) = self.forget.get() {
            forget();
        }
    }

    /// Registers what a provider must forget on reset (once; later calls are ignored).
    pub fn on_reset(&self, forget: impl Fn() + Send + Sync + 'static) {
        let _ = self.forget.set(Forget(Box::new(forget)));
    }
}

/// What a handler knows about the request it serves, set up by the shared middleware.
///
/// The context also carries the call's entry in the books: handlers say what they
/// served ([`RequestCtx::serve`]), the middleware says how it ended, and when the
/// last copy of the context is dropped (the answer's body sent, or the call
/// abandoned) the entry is written.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    inner: Arc<CtxInner>,
}

/// Who asked, for the books.
#[derive(Debug, Default)]
pub(crate) struct Caller {
    pub api_key: Option<String>,
    pub traceparent: Option<String>,
    pub client_request_id: Option<String>,
}

/// How a request is to be served: what the middleware drew for it.
#[derive(Debug)]
pub(crate) struct Draws {
    pub seed: u64,
    pub time_scale: f64,
    pub slow_down: f64,
    pub stream_cut: Option<f64>,
}

impl Draws {
    /// For a request refused before its body was read: no faults, no delays, a seed
    /// of its own (so its request id is its own).
    pub(crate) fn unfaulted(core: &MockCore, route: &str) -> Draws {
        let hash = rng::request_hash(route, b"refused");
        let n = core.occurrences.next(hash);
        Draws {
            seed: rng::mix(core.seed, &[&hash.to_le_bytes(), &n.to_le_bytes()]),
            time_scale: 0.0,
            slow_down: 1.0,
            stream_cut: None,
        }
    }
}

#[derive(Debug)]
struct CtxInner {
    id: String,
    draws: Draws,
    caller: Caller,
    cut_claimed: AtomicBool,
    received: Instant,
    at_ms: u64,
    route: String,
    books: Arc<Books>,
    /// Counted with the books, when the call ends, so the two always agree.
    stats: Arc<Stats>,
    call: Mutex<Call>,
}

/// Longest model name taken from a body the handler did not serve: names a
/// provider has are far shorter, and the books keep what they take.
const MAX_BOOKED_MODEL: usize = 256;

/// What a handler served: what goes on the bill when the call ends.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// Model (or `model_id`), shared: most calls name one of a handful.
    pub model: Option<Arc<str>>,
    /// Voice.
    pub voice: Option<String>,
    /// Units as reported to the client (or, for a stream, as delivered so far).
    pub usage: CallUsage,
    /// Hash of the content delivered ([`gatebench_wire::books::hash`]).
    pub content_digest: Option<u64>,
    /// Hash of the prompt.
    pub prompt_digest: Option<u64>,
    /// Id of the answer.
    pub response_id: Option<String>,
    /// A streamed answer.
    pub stream: bool,
    /// A chat stream: if it ends early, `usage` holds what was delivered (set by the
    /// stream itself), and is billed as such.
    pub partial_billing: bool,
}

#[derive(Debug, Default)]
struct Call {
    served: Option<Served>,
    outcome: Option<&'static str>,
    status: u16,
    complete: bool,
}

impl RequestCtx {
    pub(crate) fn new(core: &MockCore, route: String, draws: Draws, caller: Caller) -> Self {
        let seed = draws.seed;
        RequestCtx {
            inner: Arc::new(CtxInner {
                id: {
                    let mut id = gatebench_wire::hex::with_prefix("req_", seed, 16);
                    gatebench_wire::hex::push(&mut id, rng::mix(seed, &[b"id"]), 16);
                    id
                },
                draws,
                caller,
                cut_claimed: AtomicBool::new(false),
                received: Instant::now(),
                at_ms: books::unix_ms(),
                route,
                books: Arc::clone(&core.books),
                stats: Arc::clone(&core.stats),
                call: Mutex::default(),
            }),
        }
    }

    /// The route pattern the request matched.
    pub fn route(&self) -> &str {
        &self.inner.route
    }

    /// The request id sent back in `x-request-id` / `request-id`.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The caller's API key, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.inner.caller.api_key.as_deref()
    }

    /// The key rate limits are counted against (`anonymous` without a key).
    pub fn limit_key(&self) -> &str {
        self.api_key().unwrap_or("anonymous")
    }

    /// A generator for one purpose (`latency`, `length`, ...), repeatable for the same
    /// seed and workload.
    pub fn rng(&self, purpose: &str) -> MockRng {
        rng::stream(self.inner.draws.seed, purpose)
    }

    /// When the request arrived.
    pub fn received(&self) -> Instant {
        self.inner.received
    }

    /// `d` as this request will wait it: times the time scale and any slow-down fault
    /// (at most a day, see [`crate::delay`]).
    pub fn scaled(&self, d: Duration) -> Duration {
        let factor = self.inner.draws.time_scale * self.inner.draws.slow_down;
        delay::scale(d, factor)
    }

    /// Waits `d`, scaled (see [`RequestCtx::scaled`]).
    pub async fn sleep(&self, d: Duration) {
        let d = self.scaled(d);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Waits until `d`, scaled, has passed since the request was received: the
    /// mock's own work on it (parsing, counting, planning, admission) is part of the
    /// delay rather than added to it, unless it takes longer.
    pub async fn sleep_from_received(&self, d: Duration) {
        let d = self.scaled(d);
        if let Some(at) = self.inner.received.checked_add(d).filter(|_| !d.is_zero()) {
            tokio::time::sleep_until(at.into()).await;
        }
    }

    /// If a stream-cut fault was drawn, the share of the stream to send before cutting
    /// (between 0.2 and 0.8). A handler that streams calls this and cuts its stream
    /// itself; otherwise the middleware cuts the body.
    pub fn take_stream_cut(&self) -> Option<f64> {
        let cut = self.inner.draws.stream_cut?;
        self.inner.cut_claimed.store(true, Ordering::Release);
        Some(cut)
    }

    /// A stream cut was drawn and the handler did not cut its stream itself.
    pub(crate) fn stream_cut_pending(&self) -> bool {
        self.inner.draws.stream_cut.is_some() && !self.inner.cut_claimed.load(Ordering::Acquire)
    }

    fn call(&self) -> std::sync::MutexGuard<'_, Call> {
        self.inner.call.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says what the call served (or changes it as a stream goes on). A call that
    /// served nothing is not billed.
    pub fn serve(&self, update: impl FnOnce(&mut Served)) {
        update(self.call().served.get_or_insert_with(Served::default));
    }

    /// Names the model a call asked for, from `asked` (its body's), when its
    /// handler named none: a call refused or faulted before it was served is
    /// still booked under the model it was for.
    pub(crate) fn name_model(&self, asked: impl FnOnce() -> Option<String>) {
        let mut call = self.call();
        if call.served.as_ref().is_some_and(|s| s.model.is_some()) {
            return;
        }
        if let Some(model) = asked().filter(|m| m.len() <= MAX_BOOKED_MODEL) {
            call.served.get_or_insert_with(Served::default).model = Some(Arc::from(model));
        }
    }

    /// How the answer was classified when it left (see [`crate::stats`]).
    pub(crate) fn set_outcome(&self, outcome: &'static str, status: u16) {
        let mut call = self.call();
        call.outcome = Some(outcome);
        call.status = status;
    }

    /// The answer's body was sent to its end.
    pub(crate) fn set_complete(&self) {
        self.call().complete = true;
    }
}

impl Drop for CtxInner {
    fn drop(&mut self) {
        let call = std::mem::take(self.call.get_mut().unwrap_or_else(|e| e.into_inner()));
        let complete = call.complete;
        // An answer that left as a success but did not arrive whole, or a handler
        // dropped before it answered: the client went away.
        let answered_ok = matches!(call.outcome, None | Some("ok" | "fault_slow_down"));
        let outcome = match call.outcome {
            Some(outcome) if complete || !answered_ok => outcome,
            _ => "client_closed",
        };
        let partial = |s: &Served| s.partial_billing && !complete;
        let billed = call
            .served
            .as_ref()
            .is_some_and(|s| answered_ok || partial(s));
        let delivered = call.served.as_ref().is_some_and(|s| complete || partial(s));
        let served = call.served.unwrap_or_default();
        self.stats.record(&self.route, outcome);
        self.books.record(Entry {
            at_ms: self.at_ms,
            duration_ms: self.received.elapsed().as_secs_f64() * 1000.0,
            route: std::mem::take(&mut self.route),
            api_key: self.caller.api_key.as_deref().map(|k| hash(k.as_bytes())),
            model: served.model,
            voice: served.voice,
            outcome,
            status: call.status,
            stream: served.stream,
            complete,
            billed,
            usage: served.usage,
            content: served.content_digest.filter(|_| delivered),
            prompt: served.prompt_digest,
            response_id: served.response_id,
            request_id: std::mem::take(&mut self.id),
            traceparent: self.caller.traceparent.take(),
            client_request_id: self.caller.client_request_id.take(),
        });
    }
}

/// A provider request's body, read by the middleware (within the body limit) and
/// handed to the route as is: with this extractor a handler takes it without
/// collecting the request's body a second time, as `Bytes` would.
#[derive(Clone, Debug)]
pub struct Buffered(pub Bytes);

impl<S: Send + Sync> FromRequestParts<S> for Buffered {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.remove::<Buffered>().ok_or(UNWRAPPED)
    }
}

/// What a provider route answers when it is served without the mock middleware.
const UNWRAPPED: (StatusCode, &str) = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "route served without the mock middleware",
);

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestCtx>()
            .cloned()
            .ok_or(UNWRAPPED)
    }
}
