use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

#[test]
fn parses_every_form() {
    assert_eq!("250ms".parse::<Delay>().unwrap(), Delay::Fixed(ms(250)));
    assert_eq!(
        "fixed(1.5s)".parse::<Delay>().unwrap(),
        Delay::Fixed(ms(1500))
    );
    assert_eq!(
        "uniform(100ms, 300ms)".parse::<Delay>().unwrap(),
        Delay::Uniform {
            low: ms(100),
            high: ms(300)
        }
    );
    assert_eq!(
        "normal(300ms,50ms)".parse::<Delay>().unwrap(),
        Delay::Normal {
            mean: ms(300),
            std_dev: ms(50)
        }
    );
    assert_eq!(
        "lognormal(390ms, 1.2s)".parse::<Delay>().unwrap(),
        Delay::LogNormal {
            median: ms(390),
            p99: ms(1200)
        }
    );
    assert_eq!(
        "exponential(2m)".parse::<Delay>().unwrap(),
        Delay::Exponential { mean: ms(120_000) }
    );
}

#[test]
fn rejects_bad_text_with_a_reason() {
    assert!(matches!(
        "gamma(1s)".parse::<Delay>(),
        Err(ParseDelayError::UnknownForm(_))
    ));
    assert!(matches!(
        "uniform(1s)".parse::<Delay>(),
        Err(ParseDelayError::Arity { .. })
    ));
    assert!(matches!(
        "uniform(2s, 1s)".parse::<Delay>(),
        Err(ParseDelayError::Invalid(_))
    ));
    assert!(matches!(
        "lognormal(2s, 1s)".parse::<Delay>(),
        Err(ParseDelayError::Invalid(_))
    ));
    assert!(matches!(
        "fixed(12parsecs)".parse::<Delay>(),
        Err(ParseDelayError::Duration(_))
    ));
    assert!("12".parse::<Delay>().is_err());
    assert!("".parse::<Delay>().is_err());
}

#[test]
fn seeded_draws_repeat_exactly() {
    for d in [
        "uniform(1ms, 9ms)",
        "normal(5ms, 2ms)",
        "lognormal(390ms, 1.2s)",
        "exponential(10ms)",
    ] {
        let d: Delay = d.parse().unwrap();
        let a: Vec<_> = (0..100)
            .map({
                let mut rng = StdRng::seed_from_u64(7);
                move |_| d.sample(&mut rng)
            })
            .collect();
        let b: Vec<_> = (0..100)
            .map({
                let mut rng = StdRng::seed_from_u64(7);
                move |_| d.sample(&mut rng)
            })
            .collect();
        assert_eq!(a, b, "{d}");
    }
}

#[test]
fn lognormal_hits_its_median_and_p99() {
    let d: Delay = "lognormal(390ms, 1.2s)".parse().unwrap();
    let mut rng = StdRng::seed_from_u64(42);
    let mut draws: Vec<f64> = (0..200_000)
        .map(|_| d.sample(&mut rng).as_secs_f64())
        .collect();
    draws.sort_by(f64::total_cmp);
    let median = draws[draws.len() / 2];
    let p99 = draws[draws.len() * 99 / 100];
    assert!((median - 0.390).abs() < 0.01, "median {median}");
    assert!((p99 - 1.2).abs() < 0.05, "p99 {p99}");
}

#[test]
fn normal_never_goes_negative() {
    let d: Delay = "normal(1ms, 10ms)".parse().unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    assert!((0..10_000).any(|_| d.sample(&mut rng).is_zero()));
}

#[test]
fn scaling_multiplies_every_parameter() {
    let d: Delay = "lognormal(400ms, 2s)".parse().unwrap();
    assert_eq!(
        d.scaled(0.5),
        Delay::LogNormal {
            median: ms(200),
            p99: ms(1000)
        }
    );
    assert_eq!(
        d.scaled(0.0).sample(&mut StdRng::seed_from_u64(3)),
        Duration::ZERO
    );
}

#[test]
fn serde_round_trip_uses_the_text_form() {
    let d: Delay = "uniform(1ms, 2.5s)".parse().unwrap();
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(json, "\"uniform(1ms, 2.5s)\"");
    assert_eq!(serde_json::from_str::<Delay>(&json).unwrap(), d);
}

#[test]
fn durations_format_compactly() {
    assert_eq!(format_duration(ms(390)), "390ms");
    assert_eq!(format_duration(ms(1200)), "1.2s");
    assert_eq!(format_duration(ms(120_000)), "2m");
    assert_eq!(format_duration(Duration::from_micros(15)), "15us");
    assert_eq!(parse_duration("800us").unwrap(), Duration::from_micros(800));
}

proptest! {
    #[test]
    fn draws_stay_within_bounds(lo in 0u64..1000, span in 0u64..1000, seed: u64) {
        let d = Delay::Uniform { low: ms(lo), high: ms(lo + span) };
        let x = d.sample(&mut StdRng::seed_from_u64(seed));
        prop_assert!(x >= ms(lo) && x <= ms(lo + span));
    }

    #[test]
    fn display_parses_back(median in 1u64..10_000, extra in 0u64..10_000) {
        let d = Delay::LogNormal { median: ms(median), p99: ms(median + extra) };
        prop_assert_eq!(d.to_string().parse::<Delay>().unwrap(), d);
    }
}
