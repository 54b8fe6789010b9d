//! Durations written the way people write them in config files: `390ms`, `1.5s`, `2m`.

use std::time::Duration;

/// Why a duration could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "invalid duration `{text}`: {reason} (expected a number and a unit: us, ms, s, m or h, e.g. `250ms`)"
)]
pub struct ParseDurationError {
    text: String,
    reason: &'static str,
}

/// Parses `250ms`, `1.5s`, `2m`, `1h`, `800us` (also `µs`). A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, ParseDurationError> {
    let t = text.trim();
    let err = |reason| ParseDurationError {
        text: text.to_owned(),
        reason,
    };
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("missing unit"))?;
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(err("missing number"));
    }
    let value: f64 = number.parse().map_err(|_| err("not a number"))?;
    let scale = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(err("unknown unit")),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs > 1e9 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration in the largest unit that keeps it short: `390ms`, `1.2s`, `2m`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    if secs == 0.0 {
        "0ms".to_owned()
    } else if secs < 1e-3 {
        format!("{}us", trim(secs * 1e6))
    } else if secs < 1.0 {
        format!("{}ms", trim(secs * 1e3))
    } else if secs < 60.0 || secs % 60.0 != 0.0 {
        format!("{}s", trim(secs))
    } else if secs % 3600.0 == 0.0 {
        format!("{}h", trim(secs / 3600.0))
    } else {
        format!("{}m", trim(secs / 60.0))
    }
}
