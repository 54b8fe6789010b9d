//! The resource monitor in real runs: a threshold that must be crossed (gatebench's
//! own resident memory above 1 MB) is a `resource_alert` event and an alert in the
//! results, once; a process named by id is sampled; a Prometheus endpoint (a real
//! HTTP server, given as a path on the target) is scraped; a process id that does
//! not exist stops the run before it starts.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use gatebench_driver::analysis::Severity;
use gatebench_driver::{RESULTS_SCHEMA, RunError, RunOptions, Targets, run};
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

fn scenario(resources: &str) -> String {
    format!(
        r#"
name = "watched"
seed = 3
[load]
executor = "constant-arrival-rate"
rate = 20
duration = "2s"
max_vus = 20
graceful_stop = "1s"
[[requests]]
name = "personality"
kind = "personality"
profiles = "personality/profiles.toml"
{resources}
"#
    )
}

async fn mocks() -> RunningMocks {
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        seed: 5,
        time_scale: 0.01,
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

fn schema_errors(results: &gatebench_driver::RunResults) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(RESULTS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(results).unwrap();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossed_rss_threshold_is_an_event_and_an_alert_in_the_results() {
    let mocks = mocks().await;
    let dir = common::temp_dir("resources-alert");
    let path = dir.join("events.jsonl");
    // a child process to watch by id: it lives through the run
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let file = common::scenario(&scenario(
        "[resources]\ninterval = \"200ms\"\n[resources.thresholds]\nprocess_rss_bytes = { warn = 1_000_000 }\n",
    ));
    let results = run(
        &file,
        &Targets::new(mocks.url("personality").unwrap()),
        RunOptions {
            events: Some(path.clone()),
            time_scale: Some(0.01),
            watch_pids: vec![child.id()],
            ..common::quiet()
        },
    )
    .await
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    mocks.shutdown().await;
    assert!(results.totals.ok > 0, "{:?}", results.totals);

    let res = results.resources.as_ref().expect("a monitor ran");
    assert!(res.overhead.samples >= 2, "{:?}", res.overhead);
    // gatebench's resident memory is far above 1 MB from the first sample: one
    // alert for it, not one per sample
    let own: Vec<_> = res
        .alerts
        .iter()
        .filter(|a| a.target == "gatebench" && a.metric == "rss_bytes")
        .collect();
    assert_eq!(own.len(), 1, "{:?}", res.alerts);
    assert_eq!(own[0].level, Severity::Warn);
    assert_eq!(own[0].pid, Some(std::process::id()));
    assert!(own[0].value > 1e6);
    // the child is watched by id and crosses too (sleep's RSS is above 1 MB)
    let child_series = res
        .series
        .iter()
        .find(|s| s.pid == Some(child.id()) && s.metric == "rss_bytes")
        .expect("the watched pid has an RSS series");
    assert!(!child_series.points.is_empty());
    for metric in ["cpu_percent", "memory_percent", "net_rx_bytes_per_s"] {
        let s = res.series_of("system", metric).expect(metric);
        assert!(
            s.points.len() as u64 >= res.overhead.samples.min(2),
            "{metric}"
        );
    }
    assert!(res.series_of("gatebench", "threads").is_some());
    assert!(res.overhead.cpu_percent_of_core.is_some());

    let alerts: Vec<_> = events(&path)
        .into_iter()
        .filter(|e| e["type"] == "resource_alert")
        .collect();
    assert!(
        alerts.iter().any(|e| e["target"] == "gatebench"
            && e["metric"] == "rss_bytes"
            && e["level"] == "warn"),
        "{alerts:?}"
    );
    assert_eq!(alerts.len(), res.alerts.len());
    let errors = schema_errors(&results);
    assert!(
        errors.is_empty(),
        "results with resources follow the schema: {errors:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exposition text whose gauge rises by one per scrape.
fn metrics_router(scrapes: Arc<AtomicU64>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    format!(
                        "# HELP demo_in_flight Requests in flight.\n# TYPE demo_in_flight gauge\ndemo_in_flight {n}\n# TYPE demo_requests_total counter\ndemo_requests_total{{route=\"chat\"}} 7\ndemo_requests_total{{route=\"tts\"}} 2\n"
                    )
                }
            }),
        )
        .route("/", get(|| async { "ok" }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_series_are_scraped_from_the_target_and_judged() {
    let scrapes = Arc::new(AtomicU64::new(0));
    let url = common::serve(metrics_router(scrapes.clone())).await;
    let file = common::scenario(
        r#"
name = "scraped"
[load]
executor = "constant-arrival-rate"
rate = 10
duration = "2s"
max_vus = 5
graceful_stop = "1s"
[[requests]]
name = "root"
kind = "http"
path = "/"
[resources]
interval = "200ms"
prometheus = { url = "/metrics", series = ["demo_in_flight", 'demo_requests_total{route="chat"}'], thresholds = { demo_in_flight = { warn = 2, critical = 4 } } }
"#,
    );
    let dir = common::temp_dir("resources-prometheus");
    let path = dir.join("events.jsonl");
    let results = run(
        &file,
        &Targets::new(&url),
        RunOptions {
            events: Some(path.clone()),
            ..common::quiet()
        },
    )
    .await
    .unwrap();
    let res = results.resources.as_ref().unwrap();
    assert!(res.problems.is_empty(), "{:?}", res.problems);
    let target = res.targets.iter().find(|t| t.kind == "prometheus").unwrap();
    assert_eq!(
        target.url.as_deref(),
        Some(format!("{url}/metrics").as_str())
    );
    let gauge = res.series_of("prometheus", "demo_in_flight").unwrap();
    assert!(gauge.points.len() >= 4, "{gauge:?}");
    // each scrape saw the next value
    assert!(
        gauge.points.windows(2).all(|w| w[1][1] > w[0][1]),
        "{gauge:?}"
    );
    let chat = res
        .series_of("prometheus", r#"demo_requests_total{route="chat"}"#)
        .unwrap();
    assert!(chat.points.iter().all(|p| p[1] == 7.0));
    assert!(
        res.series_of("prometheus", r#"demo_requests_total{route="tts"}"#)
            .is_none()
    );
    let levels: Vec<_> = res
        .alerts
        .iter()
        .filter(|a| a.metric == "demo_in_flight")
        .map(|a| (a.level, a.threshold))
        .collect();
    assert_eq!(
        levels,
        vec![(Severity::Warn, 2.0), (Severity::Critical, 4.0)]
    );
    let events = events(&path);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "resource_alert" && e["target"] == "prometheus")
            .count(),
        2
    );
    let errors = schema_errors(&results);
    assert!(errors.is_empty(), "{errors:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_id_that_does_not_exist_stops_the_run_before_it_starts() {
    let url = common::serve(Router::new().route("/", get(|| async { "ok" }))).await;
    let file = common::scenario(&scenario(""));
    // pid_max is at most 2^22 on Linux
    let err = run(
        &file,
        &Targets::new(&url),
        RunOptions {
            watch_pids: vec![4_194_304 + 17],
            ..common::quiet()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RunError::Monitor(_)), "{err}");
    assert!(err.to_string().contains("4194321"), "{err}");
}
