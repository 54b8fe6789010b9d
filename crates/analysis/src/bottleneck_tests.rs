use super::*;

fn level(mean: f64, p95: f64) -> Evidence {
    Evidence {
        load: 200.0,
        unit: "rps".into(),
        requests: 4000,
        latency_mean_ms: Some(mean),
        latency_p95_ms: Some(p95),
        ..Evidence::default()
    }
}

fn timing(parts: &[(&str, f64, f64)]) -> BTreeMap<String, PartTiming> {
    parts
        .iter()
        .map(|(n, mean, p95)| {
            (
                (*n).to_owned(),
                PartTiming {
                    mean_ms: *mean,
                    p95_ms: *p95,
                },
            )
        })
        .collect()
}

fn cpu(target: &str, mean: f64) -> CpuUse {
    CpuUse {
        target: target.into(),
        system: target == "system",
        pid: Some(7),
        mean_percent: mean,
        max_percent: mean + 3.0,
    }
}

#[test]
fn queue_wait_that_dominates_names_the_queue_and_its_concurrency() {
    let mut e = level(100.0, 180.0);
    e.server_timing = timing(&[
        ("queue", 80.0, 150.0),
        ("upstream", 15.0, 20.0),
        ("total", 97.0, 172.0),
    ]);
    e.upstream_concurrency = Some(8);
    let b = find(&e);
    assert_eq!(b.component, Component::Queue);
    assert_eq!(b.source, "server-timing");
    assert_eq!(b.share, Some(0.8));
    assert_eq!(b.breakdown[0].component, Component::Queue);
    assert!(
        b.recommendation
            .starts_with("queue wait is 80 % of latency (p95 150 ms of 180 ms) at 200 rps"),
        "{}",
        b.recommendation
    );
    assert!(
        b.recommendation
            .contains("upstream concurrency 8 is the limit")
    );
    // the parts add up to the client's mean: gateway 2 ms, network 3 ms
    let sum: f64 = b.breakdown.iter().map(|p| p.mean_ms).sum();
    assert!((sum - 100.0).abs() < 1e-9, "{:?}", b.breakdown);
}

#[test]
fn the_provider_holding_the_time_names_the_upstream_from_either_source() {
    let mut e = level(400.0, 900.0);
    e.server_timing = timing(&[
        ("queue", 0.1, 0.2),
        ("upstream", 390.0, 880.0),
        ("total", 392.0, 885.0),
    ]);
    assert_eq!(find(&e).component, Component::Upstream);

    // any target: the books alone
    let mut e = level(400.0, 900.0);
    e.upstream_truth = Some(UpstreamTruth::from_calls([380.0, 381.0], 2));
    let b = find(&e);
    assert_eq!(b.component, Component::Upstream);
    assert_eq!(b.source, "books");
    assert_eq!(b.measured.upstream_truth.as_ref().unwrap().calls, 2);
    assert_eq!(b.breakdown[1].component, Component::Target);
    assert_eq!(b.breakdown[1].mean_ms, 19.5);
}

#[test]
fn the_targets_own_time_is_cpu_only_when_a_process_is_saturated() {
    let mut e = level(50.0, 90.0);
    e.upstream_truth = Some(UpstreamTruth {
        calls: 10,
        busy_ms: 50.0,
        per_request_ms: 5.0,
    });
    e.cpu = vec![cpu("system", 60.0), cpu("myapp", 150.0)];
    e.cores = Some(2);
    let b = find(&e);
    assert_eq!(b.component, Component::Target, "{b:?}");

    e.cpu[1].mean_percent = 97.0;
    let b = find(&e);
    assert_eq!(b.component, Component::Cpu);
    assert_eq!(b.share, Some(0.9));
    assert!(
        b.recommendation
            .contains("process myapp (pid 7) used 97 % CPU, all of one core"),
        "{}",
        b.recommendation
    );
    // two cores' worth, or the whole machine
    e.cpu[1].mean_percent = 195.0;
    assert_eq!(find(&e).component, Component::Cpu);
    e.cpu[1].mean_percent = 30.0;
    e.cpu[0].mean_percent = 93.0;
    let b = find(&e);
    assert_eq!(b.component, Component::Cpu);
    assert!(
        b.recommendation
            .contains("the machine's CPU was 93 % busy of 2 cores")
    );
}

#[test]
fn a_saturated_cpu_does_not_hide_a_queue_or_a_provider() {
    let mut e = level(100.0, 180.0);
    e.server_timing = timing(&[("queue", 80.0, 150.0), ("total", 90.0, 160.0)]);
    e.cpu = vec![cpu("gatebench", 99.0)];
    assert_eq!(find(&e).component, Component::Queue);
}

#[test]
fn without_any_source_it_says_so_and_what_would_help() {
    let b = find(&level(10.0, 20.0));
    assert_eq!(b.component, Component::Unknown);
    assert_eq!(b.share, None);
    assert!(b.breakdown.is_empty());
    assert!(b.recommendation.contains("--mocks"), "{}", b.recommendation);
    // a saturated process is evidence enough
    let mut e = level(10.0, 20.0);
    e.cpu = vec![cpu("myapp", 100.0)];
    assert_eq!(find(&e).component, Component::Cpu);
}

#[test]
fn parts_never_exceed_the_whole() {
    // a total larger than the client's time (clock skew, streams timed to the head)
    let mut e = level(10.0, 20.0);
    e.server_timing = timing(&[("upstream", 12.0, 15.0), ("total", 13.0, 16.0)]);
    let b = find(&e);
    assert!(b.breakdown.iter().all(|p| p.share <= 1.0));
    let sum: f64 = b.breakdown.iter().map(|p| p.share).sum();
    assert!(sum <= 1.0 + 1e-9, "{:?}", b.breakdown);
}

#[test]
fn findings_round_trip_through_json() {
    let mut e = level(100.0, 180.0);
    e.server_timing = timing(&[("queue", 80.0, 150.0), ("total", 90.0, 160.0)]);
    let b = find(&e);
    let text = serde_json::to_string(&b).unwrap();
    assert!(text.contains("\"component\":\"queue\""), "{text}");
    let back: Bottleneck = serde_json::from_str(&text).unwrap();
    assert_eq!(back, b);
}

#[test]
fn the_books_give_a_streams_provider_time_that_server_timing_stops_at_the_head() {
    // a stream: server-timing ends at the response head (upstream 40 ms), the books
    // count the whole stream (275 ms of the client's 324)
    let mut e = level(324.0, 1300.0);
    e.server_timing = timing(&[
        ("queue", 0.0, 0.0),
        ("cache", 0.04, 0.08),
        ("upstream", 39.6, 247.0),
        ("total", 49.9, 249.0),
    ]);
    e.upstream_truth = Some(UpstreamTruth {
        calls: 42,
        busy_ms: 13_765.0,
        per_request_ms: 275.0,
    });
    let b = find(&e);
    assert_eq!(b.source, "server-timing and books");
    assert_eq!(b.component, Component::Upstream, "{b:?}");
    let part = |c| {
        b.breakdown
            .iter()
            .find(|p| p.component == c)
            .unwrap()
            .mean_ms
    };
    assert_eq!(part(Component::Upstream), 275.0);
    assert!((part(Component::Gateway) - 10.26).abs() < 1e-9);
    assert!((part(Component::Network) - 38.7).abs() < 1e-6, "{b:?}");
}

#[test]
fn a_provider_timed_by_the_books_is_not_quoted_with_server_timings_head_p95() {
    let mut e = level(324.0, 1300.0);
    e.server_timing = timing(&[("upstream", 39.6, 91.8), ("total", 49.9, 95.0)]);
    e.upstream_truth = Some(UpstreamTruth {
        calls: 42,
        busy_ms: 13_765.0,
        per_request_ms: 275.0,
    });
    let b = find(&e);
    assert!(
        b.recommendation
            .starts_with("the provider holds 85 % of latency at 200 rps"),
        "{}",
        b.recommendation
    );
    e.upstream_truth = None;
    e.latency_mean_ms = Some(45.0);
    assert!(
        find(&e).recommendation.contains("(p95 91.8 ms of 1300 ms)"),
        "{}",
        find(&e).recommendation
    );
}
