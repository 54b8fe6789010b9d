//! The `server-timing` header: where a request's time went inside the gateway.
//!
//! `server-timing: queue;dur=0.012, cache;dur=0.210, upstream;dur=85.104, total;dur=85.530`
//! with durations in milliseconds, as the W3C Server Timing spec writes them.

use std::time::{Duration, Instant};

use http::HeaderValue;

/// Time spent in each stage of one request.
#[derive(Clone, Debug)]
pub struct Timing {
    start: Instant,
    /// Waiting for an upstream slot.
    pub queue: Duration,
    /// Cache lookup (including the query embedding).
    pub cache: Duration,
    /// Upstream calls, retries and backoff included.
    pub upstream: Duration,
}

impl Timing {
    /// Starts the clock.
    pub fn start() -> Self {
        Timing {
            start: Instant::now(),
            queue: Duration::ZERO,
            cache: Duration::ZERO,
            upstream: Duration::ZERO,
        }
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The header value, with `total` measured now.
    pub fn header(&self) -> HeaderValue {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let text = format!(
            "queue;dur={:.3}, cache;dur={:.3}, upstream;dur={:.3}, total;dur={:.3}",
            ms(self.queue),
            ms(self.cache),
            ms(self.upstream),
            ms(self.start.elapsed())
        );
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("total;dur=0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_lists_every_stage_in_milliseconds() {
        let mut t = Timing::start();
        t.queue = Duration::from_micros(1500);
        t.upstream = Duration::from_millis(80);
        let h = t.header();
        let text = h.to_str().unwrap();
        assert!(
            text.starts_with("queue;dur=1.500, cache;dur=0.000, upstream;dur=80.000, total;dur="),
            "{text}"
        );
    }
}
