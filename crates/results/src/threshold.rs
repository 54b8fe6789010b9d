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

    /// The unit of the threshold's value as a report's figure ([`Self::figure`]):
    /// a time in `ms`, a share (an error or hit rate) in `%`, a request rate in
    /// `req/s`, a cost in `USD`, tokens per second, or a `count`. A comparison
    /// with a baseline judges a change by its unit (half a percentage point of a
    /// share, five of a count).
    pub fn unit(&self) -> &'static str {
        let expr = self.expression.trim_start();
        match self.metric.as_str() {
            _ if self.in_ms() => "ms",
            _ if expr.starts_with("count") => "count",
            "errors" | "dropped" | "cache_hit_rate" if expr.starts_with("rate") => "%",
            "requests" if expr.starts_with("rate") => "req/s",
            "cost_usd" => "USD",
            "tokens_per_s" => "tokens/s",
            _ => "count",
        }
    }

    /// The measured value in [`Self::unit`] (a share as a percentage).
    pub fn figure(&self) -> Option<f64> {
        let v = self.value.filter(|v| v.is_finite())?;
        Some(if self.unit() == "%" { v * 100.0 } else { v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(metric: &str, expression: &str, value: f64) -> ThresholdResult {
        ThresholdResult {
            key: metric.into(),
            expression: expression.into(),
            metric: metric.into(),
            value: Some(value),
            passed: true,
            abort_on_fail: false,
            aborted: false,
        }
    }

    /// A share is a figure in percent: a baseline comparison then judges its
    /// change in percentage points, not as a count.
    #[test]
    fn each_threshold_is_a_figure_in_its_unit() {
        for (metric, expression, value, figure) in [
            ("latency", "p95 < 2s", 812.5, (812.5, "ms")),
            ("latency", "count > 10", 40.0, (40.0, "count")),
            ("errors", "rate < 1%", 0.0866, (8.66, "%")),
            ("cache_hit_rate", "rate > 50%", 0.5, (50.0, "%")),
            ("errors", "count < 3", 2.0, (2.0, "count")),
            ("requests", "rate > 10", 12.5, (12.5, "req/s")),
            ("cost_usd", "sum < 1", 0.25, (0.25, "USD")),
            ("tokens_per_s", "p50 > 500", 59.5, (59.5, "tokens/s")),
        ] {
            let t = threshold(metric, expression, value);
            let v = t.figure().unwrap();
            assert!((v - figure.0).abs() < 1e-9, "{metric} {expression}: {v}");
            assert_eq!(t.unit(), figure.1, "{metric} {expression}");
        }
        let mut none = threshold("errors", "rate < 1%", 0.0);
        none.value = None;
        assert_eq!((none.figure(), none.unit()), (None, "%"));
    }
}
