//! The outcome of one threshold, as a run's results carry it. Thresholds
//! themselves (their syntax and evaluation) are the driver's.

use serde::{Deserialize, Serialize};

/// The outcome of one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Key as written.
    pub key: String,
    /// Expression as written.
    pub expression: String,
    /// Metric name.
    pub metric: String,
    /// Measured value in the metric's base unit (ms, fraction, count); `null` when
    /// nothing was measured.
    pub value: Option<f64>,
    /// The threshold held. A threshold with nothing to measure fails.
    pub passed: bool,
    /// The threshold may abort the run.
    pub abort_on_fail: bool,
    /// This threshold aborted the run.
    pub aborted: bool,
}

impl ThresholdResult {
    /// Whether `value` is a time in ms (a time metric's percentile, min, max or
    /// mean; not its count).
    pub fn in_ms(&self) -> bool {
        matches!(
            self.metric.as_str(),
            "latency" | "latency_uncorrected" | "ttfb" | "ttft" | "itl"
        ) && !self.expression.trim_start().starts_with("count")
    }
}
