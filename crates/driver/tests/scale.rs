//! The step test against a mock whose capacity is known: the personality mock
//! answers in a fixed 100 ms, slows down past `soft_limit` requests in flight (slope
//! 1: each request past it adds the base latency's share, so throughput stays at
//! `soft_limit / 100 ms`) and refuses past `hard_limit`. The linear range and the
//! breaking point found must match that capacity within one step.

mod common;

use std::time::Duration;

use gatebench_analysis::{Criteria, Mode, ScaleReport};
use gatebench_driver::Targets;
use gatebench_driver::scale::{ScaleOptions, scale};
use gatebench_mock::config::Profile;
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

const SCENARIO: &str = r#"
name = "personality-steps"
seed = 7
[load]
executor = "constant-vus"
vus = 1
duration = "1s"
timeout = "5s"
graceful_stop = "2s"
[[requests]]
name = "personality"
kind = "personality"
profiles = "personality/profiles.toml"
"#;

async fn mocks(soft: u32, hard: u32) -> RunningMocks {
    let profile = Profile::from_toml(
        &format!(
            "[personality]\nfirst_byte = \"100ms\"\nper_item = \"0ms\"\n[personality.capacity]\nsoft_limit = {soft}\nhard_limit = {hard}\nslope = 1.0\n"
        ),
        "capacity.toml",
    )
    .unwrap();
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        profile,
        seed: 3,
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

async fn steps(mocks: &RunningMocks, mode: Mode, loads: &[f64]) -> ScaleReport {
    stepped(mocks, mode, loads, false).await
}

async fn stepped(
    mocks: &RunningMocks,
    mode: Mode,
    loads: &[f64],
    until_break: bool,
) -> ScaleReport {
    let url = mocks.url("personality").unwrap();
    let options = ScaleOptions {
        mode,
        steps: loads.to_vec(),
        step_duration: Duration::from_secs(2),
        until_break,
        max_load: 1000.0,
        criteria: Criteria::default(),
        run: common::quiet(),
        target_label: url.clone(),
    };
    let mut seen = Vec::new();
    let report = scale(
        &common::scenario(SCENARIO),
        &Targets::new(url),
        options,
        |s| {
            seen.push(s.load);
        },
    )
    .await
    .unwrap();
    let run: Vec<f64> = report.steps.iter().map(|s| s.load).collect();
    assert_eq!(seen, run, "every step is reported as it ends");
    report
}

/// Index of `load` among the steps.
fn at(report: &ScaleReport, load: Option<f64>) -> Option<usize> {
    let load = load?;
    report.steps.iter().position(|s| s.load == load)
}

fn within_one_step(report: &ScaleReport, found: Option<f64>, expected: f64, what: &str) {
    let found_at = at(report, found).unwrap_or_else(|| panic!("no {what}: {}", report.reason));
    let expected_at = at(report, Some(expected)).unwrap();
    assert!(
        found_at.abs_diff(expected_at) <= 1,
        "{what} {found:?}, expected {expected} within one step: {report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_steps_find_the_capacity_of_a_mock() {
    // capacity: 5 in flight at 100 ms = 50 requests per second; refused past 10
    let mocks = mocks(5, 10).await;
    let report = steps(&mocks, Mode::Rate, &[20.0, 40.0, 60.0, 80.0]).await;
    mocks.shutdown().await;
    // the last step at or under 50 rps is 40, the first past it 60
    within_one_step(&report, report.linear_until, 40.0, "linear range");
    within_one_step(&report, report.breaking_point, 60.0, "breaking point");
    assert!(report.linear_until < report.breaking_point, "{report:#?}");
    let first = &report.steps[0];
    assert_eq!(first.efficiency, Some(1.0));
    assert_eq!(first.error_rate, 0.0, "{first:?}");
    assert!(
        first.p50_ms.unwrap() >= 100.0,
        "latency is at least the mock's 100 ms"
    );
    let top = report.steps.last().unwrap();
    assert!(
        top.error_rate > 0.01,
        "past the hard limit requests are refused: {top:?}"
    );
    assert!(report.reason.contains("breaks"), "{}", report.reason);
    let json = serde_json::to_value(&report).unwrap();
    for key in ["steps", "linear_until", "breaking_point", "reason"] {
        assert!(json.get(key).is_some(), "scale.json has `{key}`");
    }
    for key in [
        "load",
        "throughput",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "error_rate",
        "efficiency",
    ] {
        assert!(json["steps"][0].get(key).is_some(), "a step has `{key}`");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_steps_find_where_throughput_stops_rising() {
    // 4 in flight at full speed: 40 requests per second at most, however many VUs
    let mocks = mocks(4, 0).await;
    let report = steps(&mocks, Mode::Concurrency, &[2.0, 4.0, 8.0, 16.0]).await;
    mocks.shutdown().await;
    within_one_step(&report, report.linear_until, 4.0, "linear range");
    within_one_step(&report, report.breaking_point, 8.0, "breaking point");
    assert!(report.linear_until < report.breaking_point, "{report:#?}");
    assert!(
        report.steps.iter().all(|s| s.error_rate == 0.0),
        "past the soft limit the mock slows down, it does not fail: {report:#?}"
    );
    let top = report.steps.last().unwrap();
    assert!(
        top.p50_ms.unwrap() > 2.0 * report.steps[0].p50_ms.unwrap(),
        "latency grows past the soft limit: {report:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_break_doubles_the_load_until_the_target_breaks() {
    let mocks = mocks(4, 0).await;
    let report = stepped(&mocks, Mode::Concurrency, &[2.0], true).await;
    mocks.shutdown().await;
    let loads: Vec<f64> = report.steps.iter().map(|s| s.load).collect();
    // 4 VUs fill the mock's 4 full-speed slots; 8 buy nothing more: it stops at
    // the break, found within one step of there
    assert_eq!(&loads[..3], [2.0, 4.0, 8.0], "{report:#?}");
    within_one_step(&report, report.breaking_point, 8.0, "breaking point");
    assert_eq!(loads.last().copied(), report.breaking_point, "{report:#?}");
}

/// Cancelled during a step: the step ran part of its length, so it is left out
/// of the steps and the verdict, and the report says the test stopped early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_short_by_a_cancel_is_left_out() {
    let mocks = mocks(50, 100).await;
    let url = mocks.url("personality").unwrap();
    let (cancel, cancelled) = tokio::sync::watch::channel(false);
    let options = ScaleOptions {
        mode: Mode::Rate,
        steps: vec![10.0, 20.0, 40.0],
        step_duration: Duration::from_secs(2),
        until_break: false,
        max_load: 1000.0,
        criteria: Criteria::default(),
        run: gatebench_driver::RunOptions {
            cancel: Some(cancelled),
            ..common::quiet()
        },
        target_label: url.clone(),
    };
    let report = scale(
        &common::scenario(SCENARIO),
        &Targets::new(url),
        options,
        |_| {
            // the second step is cancelled half a second in
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let _ = cancel.send(true);
            });
        },
    )
    .await
    .unwrap();
    mocks.shutdown().await;
    let loads: Vec<f64> = report.steps.iter().map(|s| s.load).collect();
    assert_eq!(loads, [10.0], "{report:#?}");
    let why = report.stopped_early.as_deref().unwrap();
    assert!(why.contains("during the 20 rps step"), "{why}");
    assert!(report.reason.contains("stopped early"), "{}", report.reason);
    assert_eq!(report.linear_until, Some(10.0), "{report:#?}");
}
