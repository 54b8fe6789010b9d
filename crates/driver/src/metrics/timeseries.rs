//! The interval in progress of the per-second time series; each closes into a
//! [`Point`].

use super::{Hist, Point, US_TO_MS, round3};

/// Counters of the interval in progress.
#[derive(Debug, Default)]
pub(crate) struct Interval {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub latency: Hist,
}

impl Interval {
    /// Closes the interval into a point and starts the next one.
    pub fn close(&mut self, seconds: f64, in_flight: u64, vus: u64) -> Point {
        let q = |p: f64| {
            self.latency
                .get()
                .map(|h| round3(h.value_at_quantile(p) as f64 * US_TO_MS))
        };
        let point = Point {
            requests: self.requests,
            errors: self.errors,
            dropped: self.dropped,
            rps: if seconds > 0.0 {
                round3(self.requests as f64 / seconds)
            } else {
                0.0
            },
            in_flight,
            vus,
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        };
        self.requests = 0;
        self.errors = 0;
        self.dropped = 0;
        self.latency.reset();
        point
    }
}
