//! Efficiency, linear range and breaking point on steps with known figures.

use super::*;

fn step(load: f64, throughput: f64, error_rate: f64, p95: f64) -> ScaleStep {
    let ok = (throughput * 10.0) as u64;
    let failed = if error_rate >= 1.0 {
        100
    } else if error_rate > 0.0 {
        (ok as f64 * error_rate / (1.0 - error_rate)).round() as u64
    } else {
        0
    };
    ScaleStep {
        load,
        throughput,
        p50_ms: Some(p95 / 2.0),
        p95_ms: Some(p95),
        p99_ms: Some(p95 * 1.5),
        error_rate,
        efficiency: None,
        sent: ok + failed,
        ok,
        failed,
        dropped: 0,
        duration_s: 10.0,
        bottleneck: None,
    }
}

fn judged(mut steps: Vec<ScaleStep>, criteria: &Criteria) -> (Vec<ScaleStep>, Finding) {
    efficiencies(&mut steps);
    let finding = analyse(&steps, criteria, None, "rps");
    (steps, finding)
}

#[test]
fn efficiency_is_the_marginal_gain_relative_to_the_first_step() {
    let mut steps = vec![
        step(10.0, 100.0, 0.0, 50.0),
        step(20.0, 200.0, 0.0, 50.0),
        step(40.0, 300.0, 0.0, 60.0),
        step(80.0, 300.0, 0.0, 120.0),
    ];
    efficiencies(&mut steps);
    let e: Vec<_> = steps.iter().map(|s| s.efficiency).collect();
    assert_eq!(e, [Some(1.0), Some(1.0), Some(0.5), Some(0.0)]);
}

#[test]
fn a_plateau_ends_the_linear_range_and_breaks_where_throughput_stalls() {
    let (_, f) = judged(
        vec![
            step(10.0, 10.0, 0.0, 100.0),
            step(20.0, 20.0, 0.0, 100.0),
            step(40.0, 40.0, 0.0, 100.0),
            step(60.0, 50.0, 0.0, 300.0),
            step(80.0, 50.5, 0.0, 900.0),
        ],
        &Criteria::default(),
    );
    assert_eq!(f.linear_until, Some(40.0));
    assert_eq!(f.breaking_point, Some(80.0));
    assert!(f.reason.contains("efficiency fell to 0.5"), "{}", f.reason);
    assert!(
        f.reason.contains("throughput stopped rising"),
        "{}",
        f.reason
    );
}

#[test]
fn errors_past_the_limit_break_the_target() {
    let (_, f) = judged(
        vec![
            step(20.0, 20.0, 0.0, 100.0),
            step(40.0, 40.0, 0.005, 100.0),
            step(60.0, 50.0, 0.16, 100.0),
        ],
        &Criteria::default(),
    );
    assert_eq!(f.linear_until, Some(40.0));
    assert_eq!(f.breaking_point, Some(60.0));
    assert!(f.reason.contains("error rate is 16 %"), "{}", f.reason);
}

#[test]
fn the_slo_is_judged_on_real_time_equivalents() {
    let mut steps = vec![step(10.0, 10.0, 0.0, 50.0), step(20.0, 20.0, 0.0, 150.0)];
    efficiencies(&mut steps);
    let criteria = Criteria {
        slo_p95_ms: Some(1000.0),
        ..Criteria::default()
    };
    // measured at a tenth of real time: 150 ms measured is 1.5 s real
    let f = analyse(&steps, &criteria, Some(0.1), "rps");
    assert_eq!(f.breaking_point, Some(20.0));
    assert!(f.reason.contains("1500 ms"), "{}", f.reason);
    let f = analyse(&steps, &criteria, None, "rps");
    assert_eq!(f.breaking_point, None);
    assert!(
        f.reason.contains("no breaking point up to 20 rps"),
        "{}",
        f.reason
    );
}

#[test]
fn a_first_step_that_breaks_leaves_no_linear_range() {
    let (steps, f) = judged(
        vec![step(10.0, 0.0, 1.0, 5.0), step(20.0, 0.0, 1.0, 5.0)],
        &Criteria::default(),
    );
    assert_eq!(steps[0].efficiency, None);
    assert_eq!(f.linear_until, None);
    assert_eq!(f.breaking_point, Some(10.0));
}

#[test]
fn steps_parse_or_say_what_is_wrong() {
    assert_eq!(
        parse_steps("10, 25,50,100", Mode::Rate).unwrap(),
        [10.0, 25.0, 50.0, 100.0]
    );
    assert_eq!(parse_steps("0.5,1.5", Mode::Rate).unwrap(), [0.5, 1.5]);
    assert_eq!(parse_steps("", Mode::Rate), Err(StepsError::Empty));
    assert_eq!(
        parse_steps("10,x", Mode::Rate),
        Err(StepsError::NotANumber("x".into()))
    );
    assert_eq!(
        parse_steps("10,,20", Mode::Rate),
        Err(StepsError::EmptyItem("10,,20".into()))
    );
    assert_eq!(
        parse_steps("10,-5", Mode::Rate),
        Err(StepsError::NotPositive("-5".into()))
    );
    assert_eq!(
        parse_steps("50,25", Mode::Rate),
        Err(StepsError::NotRising {
            before: "50".into(),
            after: "25".into()
        })
    );
    assert_eq!(
        parse_steps("2.5", Mode::Concurrency),
        Err(StepsError::NotWhole("2.5".into()))
    );
    assert_eq!(
        parse_steps("10,inf", Mode::Rate),
        Err(StepsError::NotPositive("inf".into()))
    );
}

proptest::proptest! {
    /// Throughput that grows in proportion to the load is linear at every step and
    /// never breaks, whatever the steps.
    #[test]
    fn proportional_throughput_is_linear_throughout(
        loads in proptest::collection::btree_set(1u32..10_000, 1..12),
        per_unit in 0.01f64..100.0,
    ) {
        let steps: Vec<ScaleStep> = loads
            .iter()
            .map(|&l| step(f64::from(l), f64::from(l) * per_unit, 0.0, 10.0))
            .collect();
        let top = steps.last().map(|s| s.load);
        let (steps, f) = judged(steps, &Criteria::default());
        for s in &steps {
            let e = s.efficiency.unwrap();
            proptest::prop_assert!((e - 1.0).abs() < 0.01, "{e}");
        }
        proptest::prop_assert_eq!(f.linear_until, top);
        proptest::prop_assert_eq!(f.breaking_point, None);
    }
}
