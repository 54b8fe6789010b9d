//! How results show figures to people: short durations and threshold values, the
//! same in the run's summary and in every report.

use crate::threshold::ThresholdResult;

/// Formats milliseconds short: `0.42ms`, `87.3ms`, `1.24s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.2}ms")
    }
}

/// A threshold's measured value in its metric's unit (`1.20 s`, `2.50%`, `no data`).
pub fn threshold_value(t: &ThresholdResult) -> String {
    let Some(v) = t.value else {
        return "no data".to_owned();
    };
    if t.in_ms() {
        return fmt_ms(v);
    }
    let expr = t.expression.trim_start();
    match t.metric.as_str() {
        "errors" | "dropped" | "cache_hit_rate" if expr.starts_with("rate") => {
            format!("{:.2}%", v * 100.0)
        }
        "requests" if expr.starts_with("rate") => format!("{v:.1}/s"),
        "cost_usd" => format!("${v}"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

/// [`threshold_value`], with what was measured beside a figure judged on its
/// real-time equivalent (a run at a time scale between 0 and 1): a time
/// (`9.44s real time (943.6ms measured at time scale 0.1)`), tokens per second
/// or a request rate (measured faster than real time by the scale).
pub fn threshold_value_at(t: &ThresholdResult, time_scale: Option<f64>) -> String {
    let value = threshold_value(t);
    let (Some(v), Some(scale)) = (t.value, time_scale.filter(|s| *s > 0.0 && *s < 1.0)) else {
        return value;
    };
    let expr = t.expression.trim_start();
    let measured = match t.metric.as_str() {
        _ if t.in_ms() => fmt_ms(v * scale),
        "tokens_per_s" if !expr.starts_with("count") => format!("{:.2}", v / scale),
        "requests" if expr.starts_with("rate") => format!("{:.1}/s", v / scale),
        _ => return value,
    };
    format!("{value} real time ({measured} measured at time scale {scale})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(value: f64) -> ThresholdResult {
        ThresholdResult {
            key: "latency".into(),
            expression: "p95 < 8s".into(),
            metric: "latency".into(),
            value: Some(value),
            passed: false,
            abort_on_fail: false,
            aborted: false,
        }
    }

    /// A time judged on its real-time equivalent shows what was measured beside
    /// it; in real time, or with nothing waiting (scale 0), it stands alone.
    #[test]
    fn a_scaled_time_shows_what_was_measured() {
        let t = latency(9436.0);
        assert_eq!(
            threshold_value_at(&t, Some(0.1)),
            "9.44s real time (943.6ms measured at time scale 0.1)"
        );
        for scale in [None, Some(1.0), Some(0.0)] {
            assert_eq!(threshold_value_at(&t, scale), "9.44s");
        }
        // a rate is judged slower than measured: the measured one is beside it
        let tokens = ThresholdResult {
            key: "tokens_per_s".into(),
            expression: "p50 > 500".into(),
            metric: "tokens_per_s".into(),
            ..latency(59.52)
        };
        assert_eq!(
            threshold_value_at(&tokens, Some(0.05)),
            "59.52 real time (1190.40 measured at time scale 0.05)"
        );
        let count = ThresholdResult {
            expression: "count > 5".into(),
            ..tokens
        };
        assert_eq!(threshold_value_at(&count, Some(0.05)), "59.52");
        let requests = ThresholdResult {
            key: "requests".into(),
            expression: "rate > 10".into(),
            metric: "requests".into(),
            ..latency(2.5)
        };
        assert_eq!(
            threshold_value_at(&requests, Some(0.1)),
            "2.5/s real time (25.0/s measured at time scale 0.1)"
        );
    }
}
