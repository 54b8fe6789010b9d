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

/// [`threshold_value`], with what was measured beside a time judged on its
/// real-time equivalent (a run at a time scale between 0 and 1):
/// `9.44s real time (943.6ms measured at time scale 0.1)`.
pub fn threshold_value_at(t: &ThresholdResult, time_scale: Option<f64>) -> String {
    let value = threshold_value(t);
    match (t.value, time_scale) {
        (Some(v), Some(scale)) if t.in_ms() && scale > 0.0 && scale < 1.0 => format!(
            "{value} real time ({} measured at time scale {scale})",
            fmt_ms(v * scale)
        ),
        _ => value,
    }
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
    }
}
