//! Each mock serves on threads of its own, one per core, named after it (what a
//! user sees in `top -H` beside the system under test's threads). A test binary
//! of its own: it reads this process's thread names.

use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap())
        .map(|comm| comm.trim_end().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn each_mock_serves_on_a_named_thread_per_core() {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = gatebench_tls::http_client().build().unwrap();
    // the core threads start with the accept loop; a request answered means it runs
    for (mock, url) in mocks.urls() {
        let answer = client.get(format!("{url}/_mock/stats")).send().await;
        assert_eq!(answer.unwrap().status(), 200, "{mock}");
    }
    let names = thread_names();
    let cores = gatebench_serve::cores::available();
    for prefix in ["mock-openai", "mock-eleven", "mock-persona", "mock-webvtt"] {
        let mut expected: Vec<String> = (0..cores).map(|i| format!("{prefix}-{i}")).collect();
        expected.sort();
        let found: Vec<String> = names
            .iter()
            .filter(|name| name.starts_with(&format!("{prefix}-")))
            .cloned()
            .collect();
        assert_eq!(found, expected, "threads: {names:?}");
    }
    mocks.shutdown().await;
}
