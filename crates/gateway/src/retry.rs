//! When to retry an upstream call, and how long to wait first.
//!
//! Retried: connection errors, timeouts, 408, 409, 429 and 5xx. Never retried: any
//! other 4xx, which is the caller's fault and would fail again. Waits use exponential
//! backoff with full jitter (a random time in `[0, base × 2^n]`, capped), and honour
//! the upstream's `retry-after-ms` or `retry-after` when it is longer; a `retry-after`
//! beyond `max_retry_after` is not waited out: the request moves on to its fallbacks.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use rand::Rng;

use crate::config::RetrySettings;

/// What an attempt's outcome means for the next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Done: pass the response on.
    Final,
    /// Try the same provider again (after a wait) if attempts remain, else fall back.
    Retry,
    /// Do not wait for this provider: go to the next fallback now.
    FallBack,
}

/// Is a response with this status worth another attempt?
pub fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
}

/// The upstream's requested wait: `retry-after-ms`, else `retry-after` in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    if let Some(ms) = read("retry-after-ms").filter(|ms| ms.is_finite() && *ms >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    read("retry-after")
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The wait before attempt `attempt + 1` (0-based `attempt` is the one that failed),
/// or `None` if the upstream asks for more than `max_retry_after`.
pub fn backoff<R: Rng + ?Sized>(
    settings: &RetrySettings,
    attempt: u32,
    asked: Option<Duration>,
    rng: &mut R,
) -> Option<Duration> {
    let ceiling = settings
        .base
        .saturating_mul(1u32 << attempt.min(20))
        .min(settings.max_backoff);
    let jitter = ceiling.mul_f64((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64);
    match asked {
        Some(wait) if wait > settings.max_retry_after => None,
        Some(wait) => Some(wait.max(jitter)),
        None => Some(jitter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn only_transient_statuses_are_retried() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 413, 422] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn retry_after_reads_milliseconds_first() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.insert("retry-after-ms", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
    }

    #[test]
    fn backoff_is_jittered_capped_and_honours_retry_after() {
        let s = RetrySettings {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(2),
        };
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in 0..8 {
            let wait = backoff(&s, attempt, None, &mut rng).unwrap();
            assert!(wait <= Duration::from_millis(100 << attempt.min(2)).min(s.max_backoff));
        }
        assert_eq!(
            backoff(&s, 0, Some(Duration::from_secs(1)), &mut rng),
            Some(Duration::from_secs(1))
        );
        assert_eq!(backoff(&s, 0, Some(Duration::from_secs(3)), &mut rng), None);
    }
}
