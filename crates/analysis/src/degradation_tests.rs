//! The detector on series with known shapes.

use super::*;

/// A steady second: 40 requests, p95 around 100 ms with a deterministic wobble of
/// up to ±20 %.
fn steady(t: usize) -> Second {
    let wobble = ((t * 7919 % 41) as f64 / 40.0 - 0.5) * 0.4;
    Second {
        t: t as f64,
        requests: 40,
        errors: 0,
        rps: 40.0 + wobble * 10.0,
        p95_ms: Some(100.0 * (1.0 + wobble)),
        vus: 4,
    }
}

fn run(series: impl IntoIterator<Item = Second>, config: DegradationConfig) -> Vec<Finding> {
    let mut d = Detector::new(config);
    series.into_iter().flat_map(|s| d.push(s)).collect()
}

fn degradations(found: &[Finding]) -> Vec<(f64, Metric)> {
    found
        .iter()
        .filter_map(|f| match f {
            Finding::Degradation { t, metric, .. } => Some((*t, *metric)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_steady_run_raises_nothing() {
    let found = run((1..=120).map(steady), DegradationConfig::default());
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn latency_raised_mid_run_is_found_within_two_seconds() {
    let series = (1..=40).map(|t| {
        let mut s = steady(t);
        if t > 20 {
            s.p95_ms = s.p95_ms.map(|p| p * 4.0);
        }
        s
    });
    let found = run(series, DegradationConfig::default());
    let d = degradations(&found);
    assert_eq!(d.len(), 1, "reported once while it lasts: {found:?}");
    assert_eq!(d[0].1, Metric::LatencyP95);
    assert!(d[0].0 <= 22.0, "{found:?}");
    let Some(Finding::Degradation { factor, .. }) = found
        .iter()
        .find(|f| matches!(f, Finding::Degradation { .. }))
    else {
        unreachable!()
    };
    assert!(factor.unwrap() >= 3.0, "{factor:?}");
}

#[test]
fn throughput_falling_while_vus_stay_is_degradation_but_a_ramp_down_is_not() {
    let falling = (1..=30).map(|t| {
        let mut s = steady(t);
        if t > 15 {
            s.rps /= 3.0;
            s.requests = 13;
        }
        s
    });
    let d = degradations(&run(falling, DegradationConfig::default()));
    assert_eq!(
        d.iter().map(|x| x.1).collect::<Vec<_>>(),
        [Metric::Throughput]
    );
    let ramp_down = (1..=30).map(|t| {
        let mut s = steady(t);
        if t > 15 {
            s.rps /= 3.0;
            s.requests = 13;
            s.vus = 1;
        }
        s
    });
    assert!(degradations(&run(ramp_down, DegradationConfig::default())).is_empty());
}

#[test]
fn errors_rising_from_none_are_reported_without_a_factor() {
    let series = (1..=30).map(|t| {
        let mut s = steady(t);
        if t > 15 {
            s.errors = 8;
        }
        s
    });
    let found = run(series, DegradationConfig::default());
    let Some(Finding::Degradation {
        metric,
        factor,
        value,
        ..
    }) = found.first()
    else {
        panic!("{found:?}")
    };
    assert_eq!((*metric, *factor), (Metric::ErrorRate, None));
    // found in the first window that holds an erring second: 8 of 120 requests
    assert!((value - 0.067).abs() < 1e-9, "{value}");
}

#[test]
fn one_wild_second_is_an_anomaly_not_a_degradation() {
    let series = (1..=40).map(|t| {
        let mut s = steady(t);
        if t == 25 {
            s.p95_ms = Some(1000.0);
        }
        s
    });
    let found = run(series, DegradationConfig::default());
    assert!(degradations(&found).is_empty(), "{found:?}");
    let anomalies: Vec<f64> = found
        .iter()
        .filter_map(|f| match f {
            Finding::Anomaly { t, .. } => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(anomalies, [25.0]);
}

#[test]
fn a_climbing_p95_is_predicted_to_cross_its_threshold() {
    // 100 ms growing 10 ms a second: 500 ms is crossed at t = 40
    let series = (1..=20).map(|t| Second {
        p95_ms: Some(100.0 + 10.0 * t as f64),
        ..steady(t)
    });
    let config = DegradationConfig {
        latency_threshold_ms: Some(500.0),
        factor: 100.0,
        ..DegradationConfig::default()
    };
    let found = run(series, config);
    let alerts: Vec<&Finding> = found
        .iter()
        .filter(|f| matches!(f, Finding::PredictiveAlert { .. }))
        .collect();
    assert_eq!(alerts.len(), 1, "alerted once: {found:?}");
    let Finding::PredictiveAlert {
        t,
        predicted_t,
        slope_ms_per_s,
        ..
    } = alerts[0]
    else {
        unreachable!()
    };
    assert_eq!((*t, *predicted_t, *slope_ms_per_s), (10.0, 40.0, 10.0));
    // a steady run predicts nothing
    let config = DegradationConfig {
        latency_threshold_ms: Some(150.0),
        ..DegradationConfig::default()
    };
    assert!(run((1..=120).map(steady), config).is_empty());
}

#[test]
fn findings_serialise_as_events() {
    let f = Finding::Degradation {
        t: 12.0,
        metric: Metric::LatencyP95,
        factor: Some(3.5),
        baseline: 100.0,
        value: 350.0,
        window_s: 3,
    };
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["type"], "degradation");
    assert_eq!(json["metric"], "latency_p95");
    assert_eq!(json["factor"], 3.5);
    assert_eq!(json["t"], 12.0);
}
