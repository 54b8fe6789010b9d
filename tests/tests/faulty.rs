//! The suite against a deliberately faulty gateway (`faulty/gateway.rs`) in front of
//! the real mocks: the honest variant passes every check, and each bug fails exactly
//! the check meant to catch it — judged only from the mocks' books and the target's
//! claims, as any external target would be.

#[path = "faulty/gateway.rs"]
mod gateway;

use std::path::PathBuf;

use gatebench_mock::{MockOptions, MockPorts, RunningMocks};
use gatebench_report::Verdict;
use gatebench_suite::{SuiteFile, SuiteOptions, TargetProfile, run_suite};
use gateway::Bugs;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/faulty")
}

/// Runs the small conformance suite against the gateway with `bugs`; returns the
/// names of the checks that failed, and their measurements.
async fn failed_checks(bugs: Bugs) -> (Vec<String>, String) {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed: 9,
        ..MockOptions::default()
    })
    .await
    .expect("mocks start");
    let openai = mocks.url("openai").unwrap();
    let target = gateway::start(&openai, bugs).await;
    let suite = SuiteFile::load(fixtures().join("suite.toml").to_str().unwrap()).unwrap();
    let out = std::env::temp_dir().join(format!(
        "gatebench-faulty-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    let options = SuiteOptions {
        target: Some(target),
        mocks: Some(openai),
        keys: vec!["sk-tenant-a".into(), "sk-tenant-b".into()],
        profile: TargetProfile::load(fixtures().join("profile.toml").to_str().unwrap()).unwrap(),
        seed: None,
        out: out.clone(),
        quiet: true,
        trust: gatebench_driver::Trust::Platform,
    };
    let report = run_suite(&suite, &options).await;
    mocks.shutdown().await;
    let _ = std::fs::remove_dir_all(&out);
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.clone())
        .collect();
    let detail = report
        .checks
        .iter()
        .map(|c| format!("{}: {} — {}", c.name, c.passed, c.measured))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        report.verdict == Verdict::Ready,
        failed.is_empty(),
        "{detail}"
    );
    (failed, detail)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_honest_gateway_passes_every_check() {
    let (failed, detail) = failed_checks(Bugs::default()).await;
    assert!(failed.is_empty(), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_cached_tokens_at_full_price_fails_cost_accuracy() {
    let (failed, detail) = failed_checks(Bugs {
        bill_cached_full: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["cost_accuracy"], "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_delta_fails_streaming_fidelity() {
    let (failed, detail) = failed_checks(Bugs {
        drop_last_delta: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["streaming_fidelity"], "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_relayed_as_a_clean_stop_fails_error_propagation() {
    let (failed, detail) = failed_checks(Bugs {
        cut_as_stop: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["error_propagation"], "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_shared_by_tenants_fails_isolation() {
    let (failed, detail) = failed_checks(Bugs {
        shared_cache: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["tenant_isolation"], "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_responses_reached_across_tenants_fail_isolation() {
    let (failed, detail) = failed_checks(Bugs {
        shared_responses: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["tenant_isolation"], "{detail}");
    // read and continued, a response that called a function continued with
    // the call's output
    assert!(
        detail.contains(
            "stored responses reached by another tenant 3 of 3 of the first tenant's responses (read 200, reached × 3; continued 200, reached × 3)"
        ),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_reported_at_zero_cost_fail_cost_accuracy() {
    let (failed, detail) = failed_checks(Bugs {
        zero_stream_cost: true,
        ..Bugs::default()
    })
    .await;
    assert_eq!(failed, ["cost_accuracy"], "{detail}");
}
