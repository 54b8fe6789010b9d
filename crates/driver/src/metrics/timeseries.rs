//! The per-second time series: throughput, latency percentiles, errors, in-flight
//! requests, drops and VUs, for the whole run and per scenario.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hist::Hist;
use super::store::US_TO_MS;

/// Figures of one second (of the run or of one scenario).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Requests finished in the second.
    pub requests: u64,
    /// Of them, failed.
    pub errors: u64,
    /// Iterations dropped in the second.
    pub dropped: u64,
    /// Requests per second (finished ÷ interval length).
    pub rps: f64,
    /// Requests in flight at the end of the second.
    pub in_flight: u64,
    /// Active VUs at the end of the second.
    pub vus: u64,
    /// Median latency (from the intended time) of the second's requests, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

/// One second of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// End of the interval, seconds since the run started.
    pub t: f64,
    /// Whole run.
    #[serde(flatten)]
    pub total: Point,
    /// Per scenario.
    pub scenarios: BTreeMap<String, Point>,
}

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
                .map(|h| super::hist::round3(h.value_at_quantile(p) as f64 * US_TO_MS))
        };
        let point = Point {
            requests: self.requests,
            errors: self.errors,
            dropped: self.dropped,
            rps: if seconds > 0.0 {
                super::hist::round3(self.requests as f64 / seconds)
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
