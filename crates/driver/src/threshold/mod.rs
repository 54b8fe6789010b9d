//! Thresholds in k6's syntax: pass/fail criteria over the run's metrics.
//!
//! A threshold is a key naming a metric, optionally with a selector, and one or more
//! expressions:
//!
//! ```toml
//! [thresholds]
//! "latency{request:story,status:ok}" = ["p95 < 8s", "p99 < 12s"]
//! errors = [{ threshold = "rate < 1%", abort_on_fail = true, delay_abort_eval = "10s" }]
//! cache_hit_rate = "rate > 40%"
//! ```
//!
//! Metrics: `latency` (from the intended send time), `latency_uncorrected`, `ttfb`,
//! `ttft`, `itl`, `tokens_per_s`, `errors`, `requests`, `dropped`, `cache_hit_rate`,
//! `cost_usd`. Aggregations: `p50 p90 p95 p99 p999` (and any `pNN`), `min max avg
//! count rate sum`. Operators: `< <= > >= == !=`. Units: `us ms s` for times (no unit
//! means milliseconds), `%` for rates. Selector keys: `request`, `scenario`, `status`
//! (`ok`, `failed`, `2xx`/`4xx`/`5xx`, a code such as `429`, or an outcome class such
//! as `timeout`).

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::Serialize;

pub use eval::{Counts, MetricSource, evaluate, evaluate_all};
pub use gatebench_results::ThresholdResult;
pub use parse::{ThresholdError, from_results, from_toml, parse_expression, parse_key};

/// A metric thresholds can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Latency from the intended send time (corrected for coordinated omission).
    Latency,
    /// Latency from the actual send time.
    LatencyUncorrected,
    /// Time to the response headers.
    Ttfb,
    /// Time to the first non-empty content delta of a stream.
    Ttft,
    /// Time between content chunks of a stream (after the first).
    Itl,
    /// Completion tokens per second of generation.
    TokensPerS,
    /// Failed requests.
    Errors,
    /// Requests sent.
    Requests,
    /// Iterations dropped for want of a free VU.
    Dropped,
    /// Cache hits among responses that said hit or miss.
    CacheHitRate,
    /// Cost the gateway reported.
    CostUsd,
}

impl Metric {
    /// Every metric, for messages.
    pub const ALL: [Metric; 11] = [
        Metric::Latency,
        Metric::LatencyUncorrected,
        Metric::Ttfb,
        Metric::Ttft,
        Metric::Itl,
        Metric::TokensPerS,
        Metric::Errors,
        Metric::Requests,
        Metric::Dropped,
        Metric::CacheHitRate,
        Metric::CostUsd,
    ];

    /// Name in threshold keys.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Latency => "latency",
            Metric::LatencyUncorrected => "latency_uncorrected",
            Metric::Ttfb => "ttfb",
            Metric::Ttft => "ttft",
            Metric::Itl => "itl",
            Metric::TokensPerS => "tokens_per_s",
            Metric::Errors => "errors",
            Metric::Requests => "requests",
            Metric::Dropped => "dropped",
            Metric::CacheHitRate => "cache_hit_rate",
            Metric::CostUsd => "cost_usd",
        }
    }

    /// Whether values are times (in milliseconds).
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Metric::Latency
                | Metric::LatencyUncorrected
                | Metric::Ttfb
                | Metric::Ttft
                | Metric::Itl
        )
    }
}

/// How a metric is reduced to one number.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// A percentile; the quantile is in 0..=1 (p95 → 0.95).
    Percentile(f64),
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean.
    Avg,
    /// Number of values or events.
    Count,
    /// A ratio (errors, dropped, cache hits) or, for `requests`, per second.
    Rate,
    /// Sum (cost).
    Sum,
}

/// Comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// Applies the operator.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            // values come from histograms with 3 significant digits: compare as such
            Op::Eq => (left - right).abs() <= 1e-9 * right.abs().max(1.0),
            Op::Ne => (left - right).abs() > 1e-9 * right.abs().max(1.0),
        }
    }
}

/// Which responses a status selector keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// Outcome `ok`.
    Ok,
    /// Every outcome but `ok`.
    Failed,
    /// HTTP status class (2 for 2xx, 4 for 4xx, ...) of responses that got a status.
    Class(u16),
    /// One HTTP status code.
    Code(u16),
    /// One outcome class by name (`timeout`, `reset`, `stream_cut`, ...).
    Outcome(String),
}

/// Which requests a threshold looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Request name.
    pub request: Option<String>,
    /// Scenario name.
    pub scenario: Option<String>,
    /// Status or outcome.
    pub status: Option<StatusFilter>,
}

/// One threshold expression on one metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Threshold {
    /// The key as written (`latency{request:story}`).
    pub key: String,
    /// The expression as written (`p95 < 8s`).
    pub expression: String,
    /// Metric.
    pub metric: Metric,
    /// Selector.
    pub selector: Selector,
    /// Aggregation.
    pub aggregation: Aggregation,
    /// Operator.
    pub op: Op,
    /// Right-hand side in the metric's base unit (ms for times, a fraction for `%`).
    pub value: f64,
    /// Stop the run as soon as this fails.
    pub abort_on_fail: bool,
    /// Do not abort before this much of the run has passed.
    #[serde(serialize_with = "crate::results::ser_duration")]
    pub delay_abort_eval: Duration,
}
