//! The degradation detector in a real run against the personality mock at 40
//! requests per second, with log-normal latency (median 200 ms, p99 800 ms, at a
//! tenth of real time): silent while the mock is steady, and a `degradation` event
//! within a few seconds when the mock's latency is raised mid-run through its
//! control API (a `slow_down` window).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use gatebench_driver::analysis::Finding;
use gatebench_driver::analysis::degradation::Metric;
use gatebench_driver::{RESULTS_SCHEMA, RunOptions, Targets, run};
use gatebench_mock::config::Profile;
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

const SCENARIO: &str = r#"
name = "steady-40"
seed = 11
[load]
executor = "constant-arrival-rate"
rate = 40
duration = "14s"
max_vus = 200
graceful_stop = "2s"
[[requests]]
name = "personality"
kind = "personality"
profiles = "personality/profiles.toml"
"#;

async fn mocks() -> RunningMocks {
    let profile = Profile::from_toml(
        "[personality]\nfirst_byte = \"lognormal(200ms, 800ms)\"\nper_item = \"0ms\"\n",
        "lognormal.toml",
    )
    .unwrap();
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        profile,
        seed: 5,
        time_scale: 0.1,
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn options(events: &Path) -> RunOptions {
    RunOptions {
        events: Some(events.to_owned()),
        time_scale: Some(0.1),
        ..common::quiet()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_run_with_log_normal_noise_raises_no_degradation() {
    let mocks = mocks().await;
    let dir = common::temp_dir("steady");
    let path = dir.join("events.jsonl");
    let url = mocks.url("personality").unwrap();
    let results = run(
        &common::scenario(SCENARIO),
        &Targets::new(url),
        options(&path),
    )
    .await
    .unwrap();
    mocks.shutdown().await;
    assert!(results.totals.ok > 400, "{:?}", results.totals);
    let degraded: Vec<_> = events(&path)
        .into_iter()
        .filter(|e| e["type"] == "degradation")
        .collect();
    assert!(degraded.is_empty(), "{degraded:?}");
    assert!(
        !results
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Degradation { .. })),
        "{:?}",
        results.findings
    );
    let schema: serde_json::Value = serde_json::from_str(RESULTS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(&results).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results with findings follow the schema: {errors:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_raised_mid_run_is_reported_live_within_seconds() {
    let mocks = mocks().await;
    let dir = common::temp_dir("slowdown");
    let path = dir.join("events.jsonl");
    let url = mocks.url("personality").unwrap();
    let control = url.clone();
    let started = Instant::now();
    // eight seconds in (past the warm-up and the baseline), every answer slows 6×
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(8)).await;
        let response = gatebench_tls::client()
            .put(format!("{control}/_mock/faults"))
            .json(&serde_json::json!({
                "slow_down_factor": 6.0,
                "windows": [{ "kind": "slow_down", "from": "0s", "to": "1m" }]
            }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
        started.elapsed().as_secs_f64()
    });
    let results = run(
        &common::scenario(SCENARIO),
        &Targets::new(url),
        options(&path),
    )
    .await
    .unwrap();
    let changed_at = slow.await.unwrap();
    mocks.shutdown().await;
    let events = events(&path);
    let degraded: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "degradation" && e["metric"] == "latency_p95")
        .collect();
    assert_eq!(degraded.len(), 1, "one event while it lasts: {degraded:?}");
    let t = degraded[0]["t"].as_f64().unwrap();
    assert!(
        t > changed_at - 1.0 && t <= changed_at + 5.0,
        "found at {t} s, the latency rose at {changed_at:.1} s"
    );
    assert!(
        degraded[0]["factor"].as_f64().unwrap() >= 2.0,
        "{degraded:?}"
    );
    // live: the event comes before the run's end in the events file
    let at = |kind: &str| events.iter().position(|e| e["type"] == kind).unwrap();
    assert!(at("degradation") < at("end"));
    assert!(
        results.findings.iter().any(|f| matches!(
            f,
            Finding::Degradation {
                metric: Metric::LatencyP95,
                ..
            }
        )),
        "{:?}",
        results.findings
    );
    let schema: serde_json::Value = serde_json::from_str(RESULTS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(&results).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "results with findings follow the schema: {errors:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
