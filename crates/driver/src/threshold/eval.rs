//! Evaluating thresholds against a run's metrics.

use std::time::Duration;

use hdrhistogram::Histogram;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{Aggregation, Metric, Selector, Threshold, ThresholdResult};

/// Counters of the selected requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// Requests sent that match the whole selector (status included).
    pub sent: u64,
    /// Requests sent that match the selector without its status part: the
    /// denominator of an error rate.
    pub sent_any_status: u64,
    /// Of `sent`, failed ones.
    pub failed: u64,
    /// Iterations dropped (they have no status).
    pub dropped: u64,
    /// Responses that said `x-gatebench-cache: hit`.
    pub cache_hits: u64,
    /// Responses that said `x-gatebench-cache: miss`.
    pub cache_misses: u64,
    /// Sum of `x-gatebench-cost-usd`.
    pub cost_usd: Decimal,
    /// Largest `x-gatebench-cost-usd`.
    pub cost_max: Decimal,
    /// Responses that carried a cost.
    pub cost_responses: u64,
    /// Time the run has lasted (for per-second rates).
    pub elapsed: Duration,
}

/// What thresholds are evaluated against: the live aggregator during a run, the
/// final store after it.
pub trait MetricSource {
    /// The selected requests' histogram of a time or rate metric, merged, and the factor
    /// that turns its raw values into the metric's unit (ms, tokens/s); `None` when
    /// nothing was recorded.
    fn histogram(&self, metric: Metric, selector: &Selector) -> Option<(Histogram<u64>, f64)>;
    /// The selected requests' counters.
    fn counts(&self, selector: &Selector) -> Counts;
}

/// Measures one threshold's value.
pub fn measure(t: &Threshold, source: &dyn MetricSource) -> Option<f64> {
    let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
    match t.metric {
        m if m.is_time() || m == Metric::TokensPerS => {
            let Some((h, scale)) = source
                .histogram(m, &t.selector)
                .filter(|(h, _)| !h.is_empty())
            else {
                return (t.aggregation == Aggregation::Count).then_some(0.0);
            };
            Some(match t.aggregation {
                Aggregation::Percentile(q) => h.value_at_quantile(q) as f64 * scale,
                Aggregation::Min => h.min() as f64 * scale,
                Aggregation::Max => h.max() as f64 * scale,
                Aggregation::Avg => h.mean() * scale,
                Aggregation::Count => h.len() as f64,
                Aggregation::Rate | Aggregation::Sum => return None,
            })
        }
        Metric::Errors => {
            let c = source.counts(&t.selector);
            match t.aggregation {
                Aggregation::Count => Some(c.failed as f64),
                _ => ratio(c.failed, c.sent_any_status),
            }
        }
        Metric::Requests => {
            let c = source.counts(&t.selector);
            match t.aggregation {
                Aggregation::Count => Some(c.sent as f64),
                _ => {
                    let secs = c.elapsed.as_secs_f64();
                    (secs > 0.0).then(|| c.sent as f64 / secs)
                }
            }
        }
        Metric::Dropped => {
            let c = source.counts(&t.selector);
            match t.aggregation {
                Aggregation::Count => Some(c.dropped as f64),
                _ => ratio(c.dropped, c.dropped + c.sent_any_status),
            }
        }
        Metric::CacheHitRate => {
            let c = source.counts(&t.selector);
            ratio(c.cache_hits, c.cache_hits + c.cache_misses)
        }
        _ => {
            let c = source.counts(&t.selector);
            match t.aggregation {
                Aggregation::Count => Some(c.cost_responses as f64),
                Aggregation::Sum => c.cost_usd.to_f64(),
                Aggregation::Max if c.cost_responses > 0 => c.cost_max.to_f64(),
                Aggregation::Avg if c.cost_responses > 0 => {
                    (c.cost_usd / Decimal::from(c.cost_responses)).to_f64()
                }
                _ => None,
            }
        }
    }
}

/// Evaluates one threshold.
pub fn evaluate(t: &Threshold, source: &dyn MetricSource) -> ThresholdResult {
    let value = measure(t, source);
    ThresholdResult {
        key: t.key.clone(),
        expression: t.expression.clone(),
        metric: t.metric.name().to_owned(),
        value,
        passed: value.is_some_and(|v| t.op.holds(v, t.value)),
        abort_on_fail: t.abort_on_fail,
        aborted: false,
    }
}

/// Evaluates every threshold.
pub fn evaluate_all(thresholds: &[Threshold], source: &dyn MetricSource) -> Vec<ThresholdResult> {
    thresholds.iter().map(|t| evaluate(t, source)).collect()
}
