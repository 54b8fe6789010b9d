//! Connections the server closes: a VU whose kept-alive connection was closed while it
//! was idle sends its next request on a new one, and a server that closes after
//! each answer costs no request. Every request ends ok, and each went out on the
//! connection the server counted. A VU that thinks keeps its connection (parked
//! without hyper's buffers while it thinks a second or more), and answers whose
//! heads are far larger than hyper's first read buffer are read on new and on
//! parked connections.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{quiet, scenario};
use gatebench_driver::{Targets, run};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How the test server ends each connection after its one answer.
#[derive(Clone, Copy)]
enum Close {
    /// Keeps the connection for the next request.
    Never,
    /// Says nothing and closes: the client learns of it only from the socket.
    Silently,
    /// Says `connection: close` in the answer, then closes.
    Announced,
}

/// A server that answers `ok`, with `extra` header lines in its head, and ends each
/// connection after one answer as `close` says; returns its URL and the number of
/// connections it accepted.
async fn server(close: Close, extra: &str) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let extra = extra.to_owned();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let connection = match close {
                Close::Never | Close::Silently => "",
                Close::Announced => "connection: close\r\n",
            };
            let answer =
                format!("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{extra}{connection}\r\nok");
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                loop {
                    // the driver's GETs have no body: a request ends with its head
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    if socket.write_all(answer.as_bytes()).await.is_err()
                        || !matches!(close, Close::Never)
                    {
                        // dropping the socket closes it
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

fn load(iterations: u32, think: &str) -> gatebench_driver::ScenarioFile {
    scenario(&format!(
        r#"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = {iterations}
think_time = "{think}"
[[requests]]
name = "get"
kind = "http"
path = "/"
"#
    ))
}

/// Runs 2 VUs of `iterations` each against a server that ends connections as
/// `close` says; checks that every request ended ok and returns how many
/// connections the server accepted.
async fn connections_for(close: Close, iterations: u32, think: &str) -> u64 {
    connections_with(close, "", iterations, think).await
}

/// [`connections_for`] with `extra` header lines in every answer.
async fn connections_with(close: Close, extra: &str, iterations: u32, think: &str) -> u64 {
    let (url, accepted) = server(close, extra).await;
    let r = run(&load(iterations, think), &Targets::new(&url), quiet())
        .await
        .unwrap();
    let sent = 2 * u64::from(iterations);
    assert_eq!(r.totals.sent, sent);
    assert_eq!(r.totals.ok, sent, "errors: {:?}", r.totals.errors);
    accepted.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_while_idle_costs_no_request() {
    // 50 ms of thinking: the server's close is in long before the next request.
    // Without the retry about a quarter of the reuses fail; 38 make that certain.
    assert_eq!(connections_for(Close::Silently, 20, "50ms").await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_announces_each_close_costs_no_request() {
    assert_eq!(connections_for(Close::Announced, 200, "0s").await, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vu_sends_all_its_requests_on_one_kept_alive_connection() {
    assert_eq!(connections_for(Close::Never, 200, "0s").await, 2);
}

// a second of thinking: VUs park their connections (keep the socket, drop hyper's
// state) while they think

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vu_that_thinks_keeps_its_connection_between_requests() {
    assert_eq!(connections_for(Close::Never, 3, "1s").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_while_parked_costs_no_request() {
    assert_eq!(connections_for(Close::Silently, 3, "1s").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_heads_of_40_kb_are_read_on_new_and_parked_connections() {
    // far over hyper's first 8 KB read buffer, well within its default limit
    let extra: String = (0..40)
        .map(|i| format!("x-large-{i}: {}\r\n", "v".repeat(1024)))
        .collect();
    // each request on a new connection, then all on one parked between requests
    assert_eq!(
        connections_with(Close::Announced, &extra, 10, "0s").await,
        20
    );
    assert_eq!(connections_with(Close::Never, &extra, 3, "1s").await, 2);
}
