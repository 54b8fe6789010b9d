//! Helpers shared by the driver's integration tests: small servers with known
//! behaviour on 127.0.0.1:0, and scenarios written inline.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use gatebench_driver::{RunOptions, ScenarioFile};
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};

/// Serves a router on a free loopback port; returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Counts every request a router receives, before any handler runs.
pub fn counted(router: Router) -> (Router, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            s.fetch_add(1, Ordering::SeqCst);
            next.run(req)
        },
    ));
    (router, seen)
}

/// The folder holding the tests' catalogs.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Parses a scenario written inline, as if it sat in the fixtures folder.
pub fn scenario(text: &str) -> ScenarioFile {
    ScenarioFile::parse(&fixtures().join("inline.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// A mock's books: every call it served, in the order they arrived.
pub async fn books(mock: &str) -> gatebench_wire::books::CallPage {
    gatebench_tls::client()
        .get(format!("{mock}/_mock/calls?limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The four mocks on free ports, seeded with `seed`, without delays.
pub async fn instant_mocks(seed: u64) -> RunningMocks {
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        seed,
        time_scale: 0.0,
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

/// Quiet options.
pub fn quiet() -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::default()
    }
}

/// A fresh temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gatebench-driver-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
