//! Parsing threshold keys (`latency{request:x}`) and expressions (`p95 < 8s`).

use std::time::Duration;

use super::{Aggregation, Metric, Op, Selector, StatusFilter, Threshold, ThresholdResult};

/// A threshold key or expression cannot be understood.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThresholdError {
    /// Unknown metric name.
    #[error(
        "unknown metric `{0}`: expected latency, latency_uncorrected, ttfb, ttft, itl, tokens_per_s, errors, requests, dropped, cache_hit_rate or cost_usd"
    )]
    UnknownMetric(String),
    /// The selector is malformed.
    #[error("bad selector `{0}`: expected `{{key:value,...}}` with keys request, scenario, status")]
    Selector(String),
    /// The expression is malformed.
    #[error("bad expression `{text}`: {reason}")]
    Expression {
        /// The expression.
        text: String,
        /// Why.
        reason: String,
    },
    /// The aggregation does not apply to the metric.
    #[error("`{aggregation}` does not apply to `{metric}` (use {allowed})")]
    Aggregation {
        /// Aggregation as written.
        aggregation: String,
        /// Metric name.
        metric: &'static str,
        /// What does apply.
        allowed: &'static str,
    },
    /// A 2xx status code, which the driver does not keep: a response with a 2xx
    /// status is counted by its outcome.
    #[error(
        "status:{0}: a response with a 2xx status is counted by its outcome, not its code: select successes with status:ok, or every 2xx answer (those that failed validation too) with status:2xx"
    )]
    SuccessCode(u16),
    /// The value is not a threshold (string, list or table).
    #[error("{0}")]
    Value(String),
}

/// Parses `metric` or `metric{key:value,...}`.
pub fn parse_key(key: &str) -> Result<(Metric, Selector), ThresholdError> {
    let key = key.trim();
    let (name, selector) = match key.find('{') {
        None => (key, None),
        Some(open) => {
            let inner = key[open + 1..]
                .strip_suffix('}')
                .ok_or_else(|| ThresholdError::Selector(key[open..].to_owned()))?;
            (key[..open].trim(), Some(inner))
        }
    };
    let metric = Metric::ALL
        .into_iter()
        .find(|m| m.name() == name)
        .ok_or_else(|| ThresholdError::UnknownMetric(name.to_owned()))?;
    let mut sel = Selector::default();
    for part in selector.into_iter().flat_map(|s| s.split(',')) {
        let bad = || ThresholdError::Selector(part.to_owned());
        let (k, v) = part.split_once(':').ok_or_else(bad)?;
        let (k, v) = (k.trim(), v.trim().trim_matches('"'));
        if v.is_empty() {
            return Err(bad());
        }
        let slot_taken = match k {
            "request" | "name" => sel.request.replace(v.to_owned()).is_some(),
            "scenario" => sel.scenario.replace(v.to_owned()).is_some(),
            "status" => match v.parse::<u16>() {
                Ok(code) if (200..300).contains(&code) => {
                    return Err(ThresholdError::SuccessCode(code));
                }
                _ => sel.status.replace(parse_status(v).ok_or_else(bad)?),
            }
            .is_some(),
            _ => return Err(bad()),
        };
        if slot_taken {
            return Err(bad());
        }
    }
    Ok((metric, sel))
}

fn parse_status(v: &str) -> Option<StatusFilter> {
    let lower = v.to_ascii_lowercase();
    match lower.as_str() {
        "ok" => return Some(StatusFilter::Ok),
        "failed" | "error" | "errors" => return Some(StatusFilter::Failed),
        _ => {}
    }
    if lower.len() == 3 && lower.ends_with("xx") {
        let class = lower[..1]
            .parse::<u16>()
            .ok()
            .filter(|c| (1..=5).contains(c))?;
        return Some(StatusFilter::Class(class));
    }
    if let Ok(code) = lower.parse::<u16>() {
        return (100..=599)
            .contains(&code)
            .then_some(StatusFilter::Code(code));
    }
    let known = [
        "timeout",
        "connect_error",
        "tls_error",
        "reset",
        "malformed_body",
        "stream_cut",
        "stream_error",
        "validation_failure",
        "interrupted",
    ];
    known
        .contains(&lower.as_str())
        .then_some(StatusFilter::Outcome(lower))
}

/// Parses `AGG OP VALUE[UNIT]` for `metric`; returns the value in the metric's base
/// unit (ms for times, a fraction for percentages).
pub fn parse_expression(
    metric: Metric,
    text: &str,
) -> Result<(Aggregation, Op, f64), ThresholdError> {
    let err = |reason: &str| ThresholdError::Expression {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let t = text.trim();
    let op_at = t
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| err("no operator (< <= > >= == !=)"))?;
    let agg_text = t[..op_at].trim();
    let rest = &t[op_at..];
    let (op, rest) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .into_iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (op, r)))
    .ok_or_else(|| err("no operator (< <= > >= == !=)"))?;
    let aggregation = parse_aggregation(agg_text).ok_or_else(|| {
        err("unknown aggregation (a percentile p0 to p100 such as p95, p99.9 or p999, or min max avg count rate sum)")
    })?;
    check_applies(metric, agg_text, aggregation)?;
    let value_text = rest.trim();
    let split = value_text
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
        })
        .unwrap_or(value_text.len());
    let (number, unit) = value_text.split_at(split);
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| err("the value is not a number"))?;
    if !number.is_finite() {
        return Err(err("the value is not finite"));
    }
    let unit = unit.trim();
    let value = match unit {
        "" => number,
        "us" | "µs" if metric.is_time() && is_value_agg(aggregation) => number / 1000.0,
        "ms" if metric.is_time() && is_value_agg(aggregation) => number,
        "s" if metric.is_time() && is_value_agg(aggregation) => number * 1000.0,
        "m" if metric.is_time() && is_value_agg(aggregation) => number * 60_000.0,
        "h" if metric.is_time() && is_value_agg(aggregation) => number * 3_600_000.0,
        "%" if aggregation == Aggregation::Rate && metric != Metric::Requests => number / 100.0,
        "/s" if aggregation == Aggregation::Rate && metric == Metric::Requests => number,
        other => return Err(err(&format!("unit `{other}` does not apply here"))),
    };
    // every figure a threshold judges is ≥ 0, and a share is at most all: a value
    // outside that makes a threshold that always holds or never does
    if value < 0.0 || (value == 0.0 && op == Op::Lt) {
        return Err(err("no figure here is below zero"));
    }
    if aggregation == Aggregation::Rate && metric != Metric::Requests && value > 1.0 {
        return Err(err("a rate is a share, at most 100%"));
    }
    Ok((aggregation, op, value))
}

fn is_value_agg(a: Aggregation) -> bool {
    !matches!(a, Aggregation::Count | Aggregation::Rate | Aggregation::Sum)
}

fn parse_aggregation(text: &str) -> Option<Aggregation> {
    match text {
        "min" => Some(Aggregation::Min),
        "max" => Some(Aggregation::Max),
        "avg" | "mean" => Some(Aggregation::Avg),
        "count" => Some(Aggregation::Count),
        "rate" => Some(Aggregation::Rate),
        "sum" => Some(Aggregation::Sum),
        "med" => Some(Aggregation::Percentile(0.5)),
        p => {
            let digits = p.strip_prefix('p')?;
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return None;
            }
            // p95, p99.9, and the short forms p999 (99.9) and p9999 (99.99)
            let q = if digits.contains('.') || digits == "100" || digits.len() <= 2 {
                digits.parse::<f64>().ok()?
            } else if let Some(rest) = digits.strip_prefix("99") {
                format!("99.{rest}").parse::<f64>().ok()?
            } else {
                return None;
            };
            (0.0..=100.0)
                .contains(&q)
                .then_some(Aggregation::Percentile(q / 100.0))
        }
    }
}

fn check_applies(metric: Metric, text: &str, a: Aggregation) -> Result<(), ThresholdError> {
    let (ok, allowed) = match metric {
        m if m.is_time() || m == Metric::TokensPerS => (
            !matches!(a, Aggregation::Rate | Aggregation::Sum),
            "p50 p90 p95 p99 p999 min max avg count",
        ),
        Metric::Errors | Metric::Dropped | Metric::Requests => (
            matches!(a, Aggregation::Rate | Aggregation::Count),
            "rate or count",
        ),
        Metric::CacheHitRate => (matches!(a, Aggregation::Rate), "rate"),
        _ => (
            matches!(
                a,
                Aggregation::Sum | Aggregation::Avg | Aggregation::Max | Aggregation::Count
            ),
            "sum avg max count",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(ThresholdError::Aggregation {
            aggregation: text.to_owned(),
            metric: metric.name(),
            allowed,
        })
    }
}

/// Builds the thresholds of one `[thresholds]` entry: a string, a list of strings or
/// tables, or one table `{threshold, abort_on_fail, delay_abort_eval}`.
pub fn from_toml(key: &str, value: &toml::Value) -> Result<Vec<Threshold>, ThresholdError> {
    let (metric, selector) = parse_key(key)?;
    let items: Vec<&toml::Value> = match value {
        toml::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    if items.is_empty() {
        return Err(ThresholdError::Value("an empty list of thresholds".into()));
    }
    items
        .into_iter()
        .map(|item| {
            let (expression, abort_on_fail, delay) = match item {
                toml::Value::String(s) => (s.clone(), false, Duration::ZERO),
                toml::Value::Table(t) => table_item(t)?,
                _ => {
                    return Err(ThresholdError::Value(
                        "a threshold is a string such as \"p95 < 1s\" or a table {threshold = \"...\", abort_on_fail = true}".into(),
                    ));
                }
            };
            let (aggregation, op, value) = parse_expression(metric, &expression)?;
            Ok(Threshold {
                key: key.to_owned(),
                expression,
                metric,
                selector: selector.clone(),
                aggregation,
                op,
                value,
                abort_on_fail,
                delay_abort_eval: delay,
            })
        })
        .collect()
}

/// Rebuilds the thresholds a run was judged by from its results (key, expression,
/// `abort_on_fail`), to judge merged results by the same criteria.
pub fn from_results(results: &[ThresholdResult]) -> Result<Vec<Threshold>, ThresholdError> {
    results
        .iter()
        .map(|r| {
            let (metric, selector) = parse_key(&r.key)?;
            let (aggregation, op, value) = parse_expression(metric, &r.expression)?;
            Ok(Threshold {
                key: r.key.clone(),
                expression: r.expression.clone(),
                metric,
                selector,
                aggregation,
                op,
                value,
                abort_on_fail: r.abort_on_fail,
                delay_abort_eval: Duration::ZERO,
            })
        })
        .collect()
}

fn table_item(t: &toml::Table) -> Result<(String, bool, Duration), ThresholdError> {
    if let Some(k) = t
        .keys()
        .find(|k| !["threshold", "abort_on_fail", "delay_abort_eval"].contains(&k.as_str()))
    {
        return Err(ThresholdError::Value(format!(
            "unknown field `{k}` in a threshold table: expected threshold, abort_on_fail, delay_abort_eval"
        )));
    }
    let expression = t
        .get("threshold")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            ThresholdError::Value("a threshold table needs `threshold = \"...\"`".into())
        })?
        .to_owned();
    let abort = match t.get("abort_on_fail") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ThresholdError::Value("`abort_on_fail` must be true or false".into()))?,
    };
    let delay = match t.get("delay_abort_eval") {
        None => Duration::ZERO,
        Some(v) => {
            let s = v.as_str().ok_or_else(|| {
                ThresholdError::Value(
                    "`delay_abort_eval` must be a duration such as \"10s\"".into(),
                )
            })?;
            gatebench_distr::parse_duration(s).map_err(|e| ThresholdError::Value(e.to_string()))?
        }
    };
    Ok((expression, abort, delay))
}
