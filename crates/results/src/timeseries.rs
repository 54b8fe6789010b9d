//! The per-second time series: throughput, latency percentiles, errors, in-flight
//! requests, drops and VUs, for the whole run and per scenario.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

impl TimePoint {
    /// The whole run's figures of this second, as the degradation detector reads
    /// them.
    pub fn second(&self) -> gatebench_analysis::Second {
        let p = &self.total;
        gatebench_analysis::Second {
            t: self.t,
            requests: p.requests,
            errors: p.errors,
            rps: p.rps,
            p95_ms: p.p95_ms,
            vus: p.vus,
        }
    }
}
