//! A server whose connections are served on core threads of their own
//! (`ServerOptions::cores`): where requests run, and how a stop ends them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use gatebench_serve::cores;
use gatebench_serve::server::{ServerHandle, ServerOptions, spawn};

/// Set by the task `/later` leaves behind.
static LATER: AtomicBool = AtomicBool::new(false);

fn router() -> Router {
    Router::new()
        .route(
            "/where",
            get(|| async {
                let thread = std::thread::current().name().unwrap_or("").to_owned();
                format!("{:?} {thread}", cores::current())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
        .route(
            "/later",
            get(|| async {
                tokio::spawn(async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    LATER.store(true, Ordering::SeqCst);
                });
                "ok"
            }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
}

async fn start(cores: usize, drain: Duration) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ServerOptions {
        drain,
        cores,
        ..ServerOptions::default()
    };
    spawn(listener, router(), options).unwrap()
}

/// A client that opens a new connection for every request.
fn fresh_connections() -> reqwest::Client {
    gatebench_tls::http_client()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The body of a GET of `path`.
async fn text(client: &reqwest::Client, server: &ServerHandle, path: &str) -> String {
    client
        .get(format!("http://{}{path}", server.addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_connection_is_served_on_the_next_core_thread() {
    let server = start(2, Duration::from_secs(1)).await;
    let client = fresh_connections();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(text(&client, &server, "/where").await);
    }
    assert_eq!(
        seen,
        [
            "Some(0) gatebench-serve-0",
            "Some(1) gatebench-serve-1",
            "Some(0) gatebench-serve-0",
            "Some(1) gatebench-serve-1",
        ]
    );
    // off the core threads there is no core
    assert_eq!(cores::current(), None);
    server.stop().await;
}

#[tokio::test]
async fn without_cores_connections_are_served_on_the_starting_runtime() {
    let server = start(0, Duration::from_secs(1)).await;
    let text = text(&fresh_connections(), &server, "/where").await;
    assert!(text.starts_with("None "), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_stop_lets_a_request_on_a_core_finish_then_refuses_connections() {
    let server = start(2, Duration::from_secs(5)).await;
    let addr = server.addr();
    let slow = tokio::spawn(async move {
        fresh_connections()
            .get(format!("http://{addr}/slow"))
            .send()
            .await?
            .text()
            .await
    });
    // the request is in flight when the stop begins
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    assert_eq!(slow.await.unwrap().unwrap(), "done");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_connection_still_open_when_the_drain_ends_is_dropped_with_its_core() {
    let server = start(1, Duration::from_millis(200)).await;
    let addr = server.addr();
    let hanging = tokio::spawn(async move {
        fresh_connections()
            .get(format!("http://{addr}/hang"))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    // the core thread stopped and dropped the connection: the client sees it
    // closed, long before the handler's minute or the client's own timeout
    let error = hanging.await.unwrap().unwrap_err();
    assert!(!error.is_timeout(), "{error}");
}

#[tokio::test]
async fn work_a_request_left_running_on_a_core_gets_the_drain_to_finish() {
    let server = start(1, Duration::from_secs(2)).await;
    assert_eq!(text(&fresh_connections(), &server, "/later").await, "ok");
    // no connection is open: the stop is immediate, the task it left is not dropped
    server.stop().await;
    let finished = async {
        while !LATER.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(5), finished)
            .await
            .is_ok(),
        "the task was dropped with its core"
    );
}
