//! Threshold parsing and evaluation.

use std::time::Duration;

use hdrhistogram::Histogram;
use rust_decimal::Decimal;

use super::*;

fn expr(metric: Metric, text: &str) -> (Aggregation, Op, f64) {
    let (a, op, v) = parse_expression(metric, text).unwrap_or_else(|e| panic!("{text}: {e}"));
    // quantiles such as 99.9 / 100 are not exact in binary
    let a = match a {
        Aggregation::Percentile(q) => Aggregation::Percentile((q * 1e6).round() / 1e6),
        other => other,
    };
    (a, op, v)
}

#[test]
fn expressions_parse_with_units() {
    assert_eq!(
        expr(Metric::Latency, "p95 < 8s"),
        (Aggregation::Percentile(0.95), Op::Lt, 8000.0)
    );
    assert_eq!(
        expr(Metric::Latency, "p99<=250ms"),
        (Aggregation::Percentile(0.99), Op::Le, 250.0)
    );
    assert_eq!(
        expr(Metric::Latency, "p999 > 1.5s"),
        (Aggregation::Percentile(0.999), Op::Gt, 1500.0)
    );
    assert_eq!(
        expr(Metric::Ttft, "p50 >= 300"),
        (Aggregation::Percentile(0.5), Op::Ge, 300.0)
    );
    assert_eq!(
        expr(Metric::Itl, "max == 20ms"),
        (Aggregation::Max, Op::Eq, 20.0)
    );
    assert_eq!(
        expr(Metric::Itl, "avg != 500us"),
        (Aggregation::Avg, Op::Ne, 0.5)
    );
    assert_eq!(
        expr(Metric::Latency, "min < 1s"),
        (Aggregation::Min, Op::Lt, 1000.0)
    );
    // long streams: minutes and hours, as durations elsewhere take them
    assert_eq!(
        expr(Metric::Latency, "p95 < 2m"),
        (Aggregation::Percentile(0.95), Op::Lt, 120_000.0)
    );
    assert_eq!(
        expr(Metric::Latency, "max < 0.5h"),
        (Aggregation::Max, Op::Lt, 1_800_000.0)
    );
    assert_eq!(
        expr(Metric::Latency, "p90 < 1e3"),
        (Aggregation::Percentile(0.9), Op::Lt, 1000.0)
    );
    assert_eq!(
        expr(Metric::Latency, "p100 < 2s"),
        (Aggregation::Percentile(1.0), Op::Lt, 2000.0)
    );
    assert_eq!(
        expr(Metric::Latency, "count > 10"),
        (Aggregation::Count, Op::Gt, 10.0)
    );
    assert_eq!(
        expr(Metric::Errors, "rate < 1%"),
        (Aggregation::Rate, Op::Lt, 0.01)
    );
    assert_eq!(
        expr(Metric::Errors, "rate<0.05"),
        (Aggregation::Rate, Op::Lt, 0.05)
    );
    assert_eq!(
        expr(Metric::Errors, "count == 0"),
        (Aggregation::Count, Op::Eq, 0.0)
    );
    assert_eq!(
        expr(Metric::Requests, "rate > 50/s"),
        (Aggregation::Rate, Op::Gt, 50.0)
    );
    assert_eq!(
        expr(Metric::Dropped, "count < 5"),
        (Aggregation::Count, Op::Lt, 5.0)
    );
    assert_eq!(
        expr(Metric::CacheHitRate, "rate >= 40%"),
        (Aggregation::Rate, Op::Ge, 0.4)
    );
    assert_eq!(
        expr(Metric::CostUsd, "sum < 0.5"),
        (Aggregation::Sum, Op::Lt, 0.5)
    );
    assert_eq!(
        expr(Metric::TokensPerS, "p50 > 40"),
        (Aggregation::Percentile(0.5), Op::Gt, 40.0)
    );
}

#[test]
fn bad_expressions_are_rejected() {
    for (metric, text) in [
        (Metric::Latency, "p95 8s"),
        (Metric::Latency, "p95 < "),
        (Metric::Latency, "p95 < fast"),
        (Metric::Latency, "q95 < 1s"),
        (Metric::Latency, "p95 < 1%"),
        (Metric::Latency, "rate < 1%"),
        (Metric::Latency, "p95 < 1d"),
        (Metric::Latency, "p101 < 1s"),
        (Metric::Errors, "p95 < 1%"),
        (Metric::Errors, "rate < 1s"),
        (Metric::CacheHitRate, "count > 1"),
        (Metric::CostUsd, "p95 < 1"),
        (Metric::TokensPerS, "p50 > 40ms"),
        (Metric::Requests, "rate > 5%"),
        (Metric::Latency, "p95 < inf"),
        // thresholds that always hold or never do
        (Metric::Requests, "count == -1"),
        (Metric::Latency, "avg < -1s"),
        (Metric::Latency, "p95 < 0s"),
        (Metric::Errors, "rate < 200%"),
        (Metric::CacheHitRate, "rate > 1.5"),
        (Metric::CostUsd, "sum < -0.01"),
    ] {
        assert!(
            parse_expression(metric, text).is_err(),
            "{text} should not parse"
        );
    }
}

#[test]
fn keys_parse_selectors() {
    let (m, s) = parse_key("latency{request:story,status:4xx,scenario:peak}").unwrap();
    assert_eq!(m, Metric::Latency);
    assert_eq!(s.request.as_deref(), Some("story"));
    assert_eq!(s.scenario.as_deref(), Some("peak"));
    assert_eq!(s.status, Some(StatusFilter::Class(4)));
    assert_eq!(
        parse_key("errors{status:429}").unwrap().1.status,
        Some(StatusFilter::Code(429))
    );
    // a 2xx code would select nothing: successes are kept by outcome
    let refused = parse_key("latency{status:200}").unwrap_err();
    assert!(
        matches!(refused, ThresholdError::SuccessCode(200)),
        "{refused}"
    );
    assert!(refused.to_string().contains("status:ok"), "{refused}");
    assert_eq!(
        parse_key("errors{status:timeout}").unwrap().1.status,
        Some(StatusFilter::Outcome("timeout".into()))
    );
    assert_eq!(
        parse_key("latency{status:ok}").unwrap().1.status,
        Some(StatusFilter::Ok)
    );
    assert_eq!(
        parse_key(" ttft ").unwrap(),
        (Metric::Ttft, Selector::default())
    );
    for bad in [
        "latency{request}",
        "latency{colour:red}",
        "latency{request:a",
        "latency{status:7xx}",
        "latency{status:teapot}",
        "latency{request:a,request:b}",
        "latencies",
        "latency{request:}",
    ] {
        assert!(parse_key(bad).is_err(), "{bad} should not parse");
    }
}

#[test]
fn toml_values_take_three_forms() {
    let v: toml::Value = toml::from_str::<toml::Table>("a = \"p95 < 1s\"").unwrap()["a"].clone();
    assert_eq!(from_toml("latency", &v).unwrap().len(), 1);
    let t: toml::Table = toml::from_str("a = [\"p95 < 1s\", { threshold = \"p99 < 2s\", abort_on_fail = true, delay_abort_eval = \"10s\" }]").unwrap();
    let list = from_toml("latency", &t["a"]).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[1].abort_on_fail);
    assert_eq!(list[1].delay_abort_eval, Duration::from_secs(10));
    let t: toml::Table = toml::from_str("a = 3\nb = []\nc = { abort_on_fail = true }\nd = { threshold = \"p95 < 1s\", abort_on_fail = \"yes\" }").unwrap();
    for key in ["a", "b", "c", "d"] {
        assert!(from_toml("latency", &t[key]).is_err(), "{key}");
    }
}

/// A metric source with fixed numbers.
struct Fixed {
    latency_us: Vec<u64>,
    counts: Counts,
}

impl MetricSource for Fixed {
    fn histogram(&self, _: Metric, _: &Selector) -> Option<(Histogram<u64>, f64)> {
        let mut h = Histogram::new(3).ok()?;
        for &v in &self.latency_us {
            h.record(v).ok()?;
        }
        Some((h, 0.001))
    }

    fn counts(&self, _: &Selector) -> Counts {
        self.counts.clone()
    }
}

fn threshold(key: &str, expression: &str) -> Threshold {
    let v = toml::Value::String(expression.to_owned());
    from_toml(key, &v).unwrap().remove(0)
}

#[test]
fn evaluation_against_known_numbers() {
    // 1..=100 ms: p50 = 50 ms, p95 = 95 ms, max = 100 ms
    let source = Fixed {
        latency_us: (1..=100).map(|ms| ms * 1000).collect(),
        counts: Counts {
            sent: 200,
            sent_any_status: 200,
            failed: 3,
            dropped: 2,
            cache_hits: 30,
            cache_misses: 70,
            cost_usd: Decimal::new(125, 2),
            cost_max: Decimal::new(5, 2),
            cost_responses: 100,
            elapsed: Duration::from_secs(10),
        },
    };
    let check = |key: &str, e: &str, pass: bool| {
        let r = evaluate(&threshold(key, e), &source);
        assert_eq!(r.passed, pass, "{key} {e}: value {:?}", r.value);
        r.value
    };
    assert!((check("latency", "p95 < 100ms", true).unwrap() - 95.0).abs() < 0.1);
    check("latency", "p95 < 90ms", false);
    // HDR reports the highest value equivalent to the median within 3 digits
    check("latency", "p50 <= 50.1ms", true);
    check("latency", "p50 < 50ms", false);
    check("latency", "max >= 0.1s", true);
    check("latency", "min > 2ms", false);
    check("latency", "avg < 51ms", true);
    check("latency", "count == 100", true);
    assert_eq!(check("errors", "rate < 2%", true), Some(0.015));
    check("errors", "rate < 1%", false);
    check("errors", "count != 0", true);
    assert_eq!(check("requests", "rate >= 20/s", true), Some(20.0));
    check("requests", "count > 200", false);
    check("dropped", "count <= 2", true);
    check("dropped", "rate < 0.5%", false);
    assert_eq!(check("cache_hit_rate", "rate > 25%", true), Some(0.3));
    check("cost_usd", "sum < 1.5", true);
    check("cost_usd", "max > 0.05", false);
    check("cost_usd", "avg == 0.0125", true);
}

#[test]
fn nothing_measured_fails() {
    let empty = Fixed {
        latency_us: Vec::new(),
        counts: Counts::default(),
    };
    for (key, e) in [
        ("latency", "p95 < 1s"),
        ("errors", "rate < 1%"),
        ("cache_hit_rate", "rate > 0%"),
        ("requests", "rate > 0"),
    ] {
        let r = evaluate(&threshold(key, e), &empty);
        assert!(!r.passed && r.value.is_none(), "{key} {e}");
    }
    // counts are well defined at zero
    assert!(evaluate(&threshold("errors", "count == 0"), &empty).passed);
    assert!(evaluate(&threshold("latency", "count == 0"), &empty).passed);
}
