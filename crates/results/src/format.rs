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
