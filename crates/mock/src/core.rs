//! What every mock shares: its settings, fault state, limits, stats, and the
//! per-request context handlers receive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use http::StatusCode;
use http::request::Parts;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::capacity::{Capacity, CapacityConfig, LoadPermit};
use crate::error::{ApiError, ErrorStyle};
use crate::faults::{FaultSpec, FaultState};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::rng::{self, Occurrences};
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
            limits: RateLimiter::new(settings.rate_limits.clone()),
            capacity: Capacity::new(settings.capacity.clone()),
            occurrences: Occurrences::default(),
            forget: OnceLock::new(),
            settings,
        })
    }

    /// A generator for content that must depend only on what was asked (the same
    /// prompt always gets the same completion), not on when or how often.
    pub fn content_rng(&self, parts: &[&[u8]]) -> StdRng {
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
#[derive(Clone, Debug)]
pub struct RequestCtx {
    inner: Arc<CtxInner>,
}

#[derive(Debug)]
struct CtxInner {
    id: String,
    seed: u64,
    api_key: Option<String>,
    time_scale: f64,
    slow_down: f64,
    stream_cut: Option<f64>,
    cut_claimed: AtomicBool,
    received: Instant,
}

impl RequestCtx {
    pub(crate) fn new(
        seed: u64,
        api_key: Option<String>,
        time_scale: f64,
        slow_down: f64,
        stream_cut: Option<f64>,
    ) -> Self {
        RequestCtx {
            inner: Arc::new(CtxInner {
                id: format!("req_{:016x}{:016x}", seed, rng::mix(seed, &[b"id"])),
                seed,
                api_key,
                time_scale,
                slow_down,
                stream_cut,
                cut_claimed: AtomicBool::new(false),
                received: Instant::now(),
            }),
        }
    }

    /// The request id sent back in `x-request-id` / `request-id`.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The caller's API key, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.inner.api_key.as_deref()
    }

    /// The key rate limits are counted against (`anonymous` without a key).
    pub fn limit_key(&self) -> &str {
        self.api_key().unwrap_or("anonymous")
    }

    /// A generator for one purpose (`latency`, `length`, ...), repeatable for the same
    /// seed and workload.
    pub fn rng(&self, purpose: &str) -> StdRng {
        rng::stream(self.inner.seed, purpose)
    }

    /// When the request arrived.
    pub fn received(&self) -> Instant {
        self.inner.received
    }

    /// `d` as this request will wait it: times the time scale and any slow-down fault.
    pub fn scaled(&self, d: Duration) -> Duration {
        let factor = self.inner.time_scale * self.inner.slow_down;
        if factor == 0.0 {
            Duration::ZERO
        } else {
            d.mul_f64(factor)
        }
    }

    /// Waits `d`, scaled (see [`RequestCtx::scaled`]).
    pub async fn sleep(&self, d: Duration) {
        let d = self.scaled(d);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// If a stream-cut fault was drawn, the share of the stream to send before cutting
    /// (between 0.2 and 0.8). A handler that streams calls this and cuts its stream
    /// itself; otherwise the middleware cuts the body.
    pub fn take_stream_cut(&self) -> Option<f64> {
        let cut = self.inner.stream_cut?;
        self.inner.cut_claimed.store(true, Ordering::Release);
        Some(cut)
    }

    /// A stream cut was drawn and the handler did not cut its stream itself.
    pub(crate) fn stream_cut_pending(&self) -> bool {
        self.inner.stream_cut.is_some() && !self.inner.cut_claimed.load(Ordering::Acquire)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestCtx>().cloned().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "route served without the mock middleware",
        ))
    }
}
