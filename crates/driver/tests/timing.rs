//! Timing the driver can be trusted with: percentiles of a known delay, a stall seen
//! from the intended send time (and not from the actual one), and open-loop arrival
//! counts that follow the schedule.
//!
//! Bounds are one-sided or very wide: they check that the measurement cannot be
//! below what the server did, and is not absurdly above it.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{quiet, scenario, serve};
use gatebench_driver::{Targets, run};

/// HDR with 3 significant digits may report a value up to 0.1 % below the recorded one.
const HDR_SLACK: f64 = 0.999;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentiles_match_a_fixed_server_delay() {
    let delay = Duration::from_millis(50);
    let url = serve(Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "ok"
        }),
    ))
    .await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 4
iterations = 10
[[requests]]
name = "slow"
kind = "http"
path = "/slow"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert_eq!(r.totals.sent, 40);
    assert_eq!(r.totals.ok, 40);
    let lat = r.kinds["slow"].latency_ms.clone().unwrap();
    let uncorrected = r.kinds["slow"].latency_uncorrected_ms.clone().unwrap();
    let ms = delay.as_secs_f64() * 1000.0;
    for (name, v) in [
        ("min", lat.min),
        ("p50", lat.p50),
        ("p99", lat.p99),
        ("uncorrected min", uncorrected.min),
    ] {
        assert!(
            v >= ms * HDR_SLACK,
            "{name} {v}ms is below the server's fixed {ms}ms"
        );
    }
    // generous: loopback overhead is well under a millisecond, but the machine is shared
    assert!(lat.p50 < ms + 250.0, "p50 {}ms", lat.p50);
    // closed loop: intended = actual send time
    assert_eq!(lat, uncorrected);
    assert_eq!(lat.count, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_corrected_p99_not_in_uncorrected() {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let url = serve(Router::new().route(
        "/",
        get(move || {
            let n = s.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 50 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                "ok"
            }
        }),
    ))
    .await;
    // one VU at 100/s: while the stalled request holds it, the next ~100 iterations
    // wait for it (up to max_lateness) and are sent late
    let file = scenario(
        r#"
[load]
executor = "constant-arrival-rate"
rate = 100
duration = "3s"
max_vus = 1
max_lateness = "10s"
[[requests]]
name = "root"
kind = "http"
path = "/"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert_eq!(r.totals.sent, 300);
    assert_eq!(r.totals.dropped, 0);
    assert_eq!(r.totals.ok, 300);
    let corrected = r.kinds["root"].latency_ms.clone().unwrap();
    let uncorrected = r.kinds["root"].latency_uncorrected_ms.clone().unwrap();
    // the stalled request itself took a second either way
    assert!(uncorrected.max >= 1000.0 * HDR_SLACK, "{uncorrected:?}");
    // ~100 requests queued behind it: the top 1 % of corrected latencies are near 1 s
    assert!(
        corrected.p99 >= 500.0,
        "corrected p99 {}ms hides the stall",
        corrected.p99
    );
    assert!(
        corrected.p90 > uncorrected.p90,
        "corrected {corrected:?} vs {uncorrected:?}"
    );
    // only one request of 300 was slow once sent: the uncorrected p99 does not see it
    assert!(
        uncorrected.p99 < 500.0,
        "uncorrected p99 {}ms",
        uncorrected.p99
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_counts_follow_the_schedule() {
    let (router, seen) = common::counted(Router::new().route("/", get(|| async { "ok" })));
    let url = serve(router).await;
    // constant: 200/s × 2 s = 400; ramping 0 → 100/s over 2 s = 100 in a second scenario
    let file = scenario(
        r#"
[scenarios.flat]
load = { executor = "constant-arrival-rate", rate = 200, duration = "2s", max_vus = 200 }
requests = [{ name = "flat", kind = "http", path = "/" }]
[scenarios.ramp]
load = { executor = "ramping-arrival-rate", start_rate = 0, stages = [{ duration = "2s", target = 100 }], max_vus = 200 }
requests = [{ name = "ramp", kind = "http", path = "/" }]
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    let flat = &r.kinds["flat"];
    let ramp = &r.kinds["ramp"];
    // every scheduled iteration is either sent or counted as dropped
    assert_eq!(flat.sent + flat.dropped, 400);
    assert_eq!(ramp.sent + ramp.dropped, 100);
    // achieved arrivals within 1 % of the target
    assert!(flat.sent >= 396, "{flat:?}");
    assert!(ramp.sent >= 99, "{ramp:?}");
    assert_eq!(seen.load(Ordering::SeqCst), r.totals.sent);
}

/// An open loop whose last arrival comes early (one request at the start of a 1 s
/// scenario at 0.5 a second) still lasts its duration, as k6's does: its rate is
/// over the time it ran, not over the few milliseconds one answer took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_lasts_its_duration_when_its_last_arrival_comes_early() {
    let url = serve(Router::new().route("/", get(|| async { "ok" }))).await;
    let file = scenario(
        r#"
[load]
executor = "constant-arrival-rate"
rate = 0.5
duration = "1s"
[[requests]]
name = "rare"
kind = "http"
path = "/"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert_eq!(r.totals.sent, 1);
    assert!(r.duration_s >= 1.0, "ran {} s of 1 s", r.duration_s);
}

/// At time scale 0.1 the mocks wait a tenth of their delays: a 20 ms answer stands
/// for 200 ms of real time, and latency thresholds judge that real-time figure while
/// results keep what was measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_judge_real_time_equivalents_of_compressed_runs() {
    let delay = Duration::from_millis(20);
    let url = serve(Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(delay).await;
            "ok"
        }),
    ))
    .await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 5
[thresholds]
"latency" = ["p50 < 100"]
[[requests]]
name = "slow"
kind = "http"
path = "/slow"
"#,
    );
    let measured = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert!(measured.passed(), "{:?}", measured.thresholds);
    assert_eq!(measured.time_scale, None);
    let mut options = quiet();
    options.time_scale = Some(0.1);
    let r = run(&file, &Targets::new(&url), options).await.unwrap();
    assert_eq!(r.time_scale, Some(0.1));
    let t = &r.thresholds[0];
    assert!(!t.passed, "{t:?}");
    let real = t.value.unwrap();
    assert!(real >= 200.0 * HDR_SLACK, "{real}");
    // the results keep the compressed measurement
    let p50 = r.kinds["slow"].latency_ms.as_ref().unwrap().p50;
    assert!((real / p50 - 10.0).abs() < 0.1, "{real} vs {p50}");
    assert!(gatebench_driver::summary_text(&r).contains("time scale 0.1"));
}
