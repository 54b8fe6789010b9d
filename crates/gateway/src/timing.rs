//! The `server-timing` header: where a request's time went inside the gateway.
//!
//! `server-timing: queue;dur=0.012, cache;dur=0.210, upstream;dur=85.104, total;dur=85.530`
//! with durations in milliseconds, as the W3C Server Timing spec writes them.

use std::time::{Duration, Instant};

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

    /// Writes the header's value into `text`, with `total` measured now.
    pub fn write(&self, text: &mut String) {
        let mut digits = itoa::Buffer::new();
        let stages = [
            ("queue", self.queue),
            ("cache", self.cache),
            ("upstream", self.upstream),
            ("total", self.start.elapsed()),
        ];
        for (i, (stage, took)) in stages.into_iter().enumerate() {
            // Whole microseconds, rounded, as milliseconds with three decimals:
            // integers format at a fraction of a float's cost, and itoa at a
            // fraction of core::fmt's (this runs on every response).
            let micros = took.as_secs() * 1_000_000 + u64::from(took.subsec_nanos() + 500) / 1000;
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(stage);
            text.push_str(";dur=");
            text.push_str(digits.format(micros / 1000));
            text.push('.');
            let fraction = digits.format(micros % 1000);
            text.push_str(&"00"[..3 - fraction.len()]);
            text.push_str(fraction);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(timing: &Timing) -> String {
        let mut text = String::new();
        timing.write(&mut text);
        text
    }

    #[test]
    fn the_header_lists_every_stage_in_milliseconds() {
        let mut t = Timing::start();
        t.queue = Duration::from_micros(1500);
        t.upstream = Duration::from_millis(80);
        let text = header(&t);
        assert!(
            text.starts_with("queue;dur=1.500, cache;dur=0.000, upstream;dur=80.000, total;dur="),
            "{text}"
        );
    }

    #[test]
    fn durations_round_to_the_nearest_microsecond() {
        let mut t = Timing::start();
        t.queue = Duration::from_nanos(1_499);
        t.cache = Duration::from_nanos(2_500);
        t.upstream = Duration::from_nanos(12_345_678_901);
        let text = header(&t);
        assert!(
            text.starts_with(
                "queue;dur=0.001, cache;dur=0.003, upstream;dur=12345.679, total;dur="
            ),
            "{text}"
        );
    }
}
