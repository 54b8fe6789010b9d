//! Per-key rate limits: requests and tokens per minute, and concurrent requests.
//!
//! Buckets refill continuously, like OpenAI's: a limit of 60 requests per minute
//! allows one more request every second, not 60 at the top of each minute. Limits
//! are kept per API key and model, since providers count them per organisation and
//! model. Rate limits run on wall-clock time; the time scale does not shrink a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// Limits per API key (and model). Zero means no limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per minute.
    pub requests_per_minute: u64,
    /// Tokens (or characters, for text-to-speech) per minute.
    pub tokens_per_minute: u64,
    /// Requests in flight at once.
    pub concurrent_requests: u32,
}

/// Where a key stands after a request was admitted (for the `x-ratelimit-*` headers).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateReport {
    /// Requests limit and what remains, and when the bucket is full again.
    pub requests: Option<Level>,
    /// Tokens limit and what remains.
    pub tokens: Option<Level>,
}

/// One bucket's level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Capacity per minute.
    pub limit: u64,
    /// What can still be spent now.
    pub remaining: u64,
    /// Time until the bucket is full again.
    pub reset: Duration,
}

/// A request refused by a limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    /// `requests`, `tokens` or `concurrency`.
    pub which: &'static str,
    /// The limit.
    pub limit: u64,
    /// How much was used.
    pub used: u64,
    /// How much the request asked for.
    pub requested: u64,
    /// How long until it would be admitted.
    pub retry_after: Duration,
    /// Bucket levels, for the headers.
    pub report: RateReport,
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    level: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_minute: u64, now: Instant) -> Self {
        Bucket {
            capacity: per_minute as f64,
            level: per_minute as f64,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let rate = self.capacity / 60.0;
        self.level =
            (self.level + rate * now.duration_since(self.last).as_secs_f64()).min(self.capacity);
        self.last = now;
    }

    fn wait_for(&self, amount: f64) -> Duration {
        let missing = (amount.min(self.capacity) - self.level).max(0.0);
        Duration::from_secs_f64(missing * 60.0 / self.capacity)
    }

    fn level(&self) -> Level {
        Level {
            limit: self.capacity as u64,
            remaining: self.level.max(0.0) as u64,
            reset: self.wait_for(self.capacity),
        }
    }
}

#[derive(Debug)]
struct KeyState {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    concurrent: Arc<AtomicU32>,
}

/// Rate limits of one mock.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    keys: Mutex<HashMap<String, KeyState, foldhash::fast::RandomState>>,
}

/// A request counted against a key's concurrency limit until dropped.
#[derive(Debug)]
pub struct ConcurrencyPermit(Option<Arc<AtomicU32>>);

impl Drop for ConcurrencyPermit {
    fn drop(&mut self) {
        if let Some(counter) = &self.0 {
            counter.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl RateLimiter {
    /// Limits from `config`.
    pub fn new(config: RateLimitConfig) -> Self {
        RateLimiter {
            config,
            keys: Mutex::default(),
        }
    }

    /// The configured limits.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    fn with_key<T>(&self, key: &str, f: impl FnOnce(&mut KeyState, Instant) -> T) -> T {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        // a key seen before is looked up without being copied
        if let Some(state) = keys.get_mut(key) {
            return f(state, now);
        }
        let state = keys.entry(key.to_owned()).or_insert(KeyState {
            requests: (self.config.requests_per_minute > 0)
                .then(|| Bucket::new(self.config.requests_per_minute, now)),
            tokens: (self.config.tokens_per_minute > 0)
                .then(|| Bucket::new(self.config.tokens_per_minute, now)),
            concurrent: Arc::default(),
        });
        f(state, now)
    }

    /// Admits one request of `tokens` tokens for `key`, or says why not. Nothing is
    /// spent when the request is refused.
    pub fn check(&self, key: &str, tokens: u64) -> Result<RateReport, Refused> {
        if self.config.requests_per_minute == 0 && self.config.tokens_per_minute == 0 {
            return Ok(RateReport::default());
        }
        self.with_key(key, |state, now| {
            for bucket in [&mut state.requests, &mut state.tokens]
                .into_iter()
                .flatten()
            {
                bucket.refill(now);
            }
            let report = |s: &KeyState| RateReport {
                requests: s.requests.as_ref().map(Bucket::level),
                tokens: s.tokens.as_ref().map(Bucket::level),
            };
            if let Some(b) = &state.requests
                && b.level < 1.0
            {
                return Err(Refused {
                    which: "requests",
                    limit: b.capacity as u64,
                    used: (b.capacity - b.level).ceil() as u64,
                    requested: 1,
                    retry_after: b.wait_for(1.0),
                    report: report(state),
                });
            }
            if let Some(b) = &state.tokens
                && b.level < tokens as f64
            {
                return Err(Refused {
                    which: "tokens",
                    limit: b.capacity as u64,
                    used: (b.capacity - b.level).ceil() as u64,
                    requested: tokens,
                    retry_after: b.wait_for(tokens as f64),
                    report: report(state),
                });
            }
            if let Some(b) = &mut state.requests {
                b.level -= 1.0;
            }
            if let Some(b) = &mut state.tokens {
                b.level -= tokens as f64;
            }
            Ok(report(state))
        })
    }

    /// Counts a request against `key`'s concurrency limit, or refuses it.
    pub fn acquire(&self, key: &str) -> Result<ConcurrencyPermit, Refused> {
        let limit = self.config.concurrent_requests;
        if limit == 0 {
            return Ok(ConcurrencyPermit(None));
        }
        self.with_key(key, |state, _| {
            let counter = Arc::clone(&state.concurrent);
            let before = counter.fetch_add(1, Ordering::AcqRel);
            if before >= limit {
                counter.fetch_sub(1, Ordering::AcqRel);
                return Err(Refused {
                    which: "concurrency",
                    limit: u64::from(limit),
                    used: u64::from(before),
                    requested: 1,
                    retry_after: Duration::from_secs(1),
                    report: RateReport::default(),
                });
            }
            Ok(ConcurrencyPermit(Some(counter)))
        })
    }

    /// Forgets every key's usage.
    pub fn clear(&self) {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl RateReport {
    /// OpenAI's `x-ratelimit-*` headers.
    pub fn openai_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, level) in [("requests", &self.requests), ("tokens", &self.tokens)] {
            let Some(level) = level else { continue };
            let mut put = |field: &str, value: HeaderValue| {
                if let Ok(name) = HeaderName::try_from(format!("x-ratelimit-{field}-{name}")) {
                    headers.insert(name, value);
                }
            };
            put("limit", HeaderValue::from(level.limit));
            put("remaining", HeaderValue::from(level.remaining));
            if let Ok(value) = HeaderValue::try_from(go_duration(level.reset)) {
                put("reset", value);
            }
        }
        headers
    }
}

/// Formats like Go's `time.Duration` (`"20ms"`, `"1.5s"`, `"6m0s"`), as OpenAI's
/// `x-ratelimit-reset-*` headers do.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = format!("{:.3}", d.as_secs_f64());
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        let total = d.as_secs();
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else {
            format!("{m}m{s}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_per_minute_refuse_the_extra_request() {
        let limiter = RateLimiter::new(RateLimitConfig {
            requests_per_minute: 3,
            ..Default::default()
        });
        for _ in 0..3 {
            limiter.check("k", 0).unwrap();
        }
        let refused = limiter.check("k", 0).unwrap_err();
        assert_eq!(refused.which, "requests");
        assert!(
            refused.retry_after > Duration::from_secs(19)
                && refused.retry_after <= Duration::from_secs(20)
        );
        // Other keys are not affected.
        limiter.check("other", 0).unwrap();
    }

    #[test]
    fn tokens_per_minute_count_what_the_request_asks_for() {
        let limiter = RateLimiter::new(RateLimitConfig {
            tokens_per_minute: 1000,
            ..Default::default()
        });
        let report = limiter.check("k", 600).unwrap();
        assert_eq!(report.tokens.unwrap().remaining, 400);
        let refused = limiter.check("k", 600).unwrap_err();
        assert_eq!((refused.which, refused.requested), ("tokens", 600));
        // A refused request spends nothing.
        limiter.check("k", 300).unwrap();
    }

    #[test]
    fn concurrency_permits_are_returned_on_drop() {
        let limiter = RateLimiter::new(RateLimitConfig {
            concurrent_requests: 2,
            ..Default::default()
        });
        let a = limiter.acquire("k").unwrap();
        let _b = limiter.acquire("k").unwrap();
        assert_eq!(limiter.acquire("k").unwrap_err().which, "concurrency");
        drop(a);
        limiter.acquire("k").unwrap();
    }

    #[test]
    fn headers_look_like_openai_s() {
        let limiter = RateLimiter::new(RateLimitConfig {
            requests_per_minute: 60,
            tokens_per_minute: 150_000,
            ..Default::default()
        });
        let headers = limiter.check("k", 100).unwrap().openai_headers();
        assert_eq!(headers["x-ratelimit-limit-requests"], "60");
        assert_eq!(headers["x-ratelimit-remaining-tokens"], "149900");
        assert_eq!(headers["x-ratelimit-reset-requests"], "1s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_millis(40)), "40ms");
    }
}
