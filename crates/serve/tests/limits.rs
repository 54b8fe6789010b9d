//! The accept loop against hostile and careless clients, on a real listener: short
//! limits so each attack ends in a second or two.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use gatebench_serve::body::{BodyError, classify};
use gatebench_serve::server::{Limits, ServerHandle, ServerOptions, spawn};
use http::StatusCode;
use http::header::CONNECTION;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads a body up to 1 KB and says how it went.
async fn echo(body: axum::body::Body) -> (StatusCode, String) {
    match axum::body::to_bytes(body, 1024).await {
        Ok(bytes) => (StatusCode::OK, bytes.len().to_string()),
        Err(error) => match classify(&error) {
            BodyError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too large".into()),
            BodyError::TimedOut(_) => (StatusCode::REQUEST_TIMEOUT, "too slow".into()),
            BodyError::Other => (StatusCode::BAD_REQUEST, "unreadable".into()),
        },
    }
}

fn router() -> Router {
    Router::new()
        .route("/echo", post(echo))
        .route(
            "/refuse",
            post(|| async { (StatusCode::UNAUTHORIZED, "no") }),
        )
        .route("/", get(|| async { "ok" }))
}

async fn start(limits: Limits) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = ServerOptions {
        drain: Duration::from_secs(1),
        limits,
        ..ServerOptions::default()
    };
    spawn(listener, router(), options).unwrap()
}

fn short(max_connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        max_connections,
    }
}

/// Reads until the server closes the connection (or 10 s pass: then `None`).
async fn closed_by_server(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .map(|()| seen)
}

#[tokio::test]
async fn a_slowloris_is_cut_off_at_the_header_timeout() {
    let server = start(short(64)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // a header line every 200 ms, for longer than the server waits for a whole head
    let drip = async {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if stream
                .write_all(format!("x-drip-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return true;
            }
        }
        false
    };
    let cut = tokio::time::timeout(Duration::from_secs(10), drip).await;
    assert_eq!(cut, Ok(true), "the server kept a dripping head open");
    server.stop().await;
}

#[tokio::test]
async fn a_silent_or_idle_connection_is_closed() {
    let server = start(short(64)).await;
    // never says anything
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    assert!(closed_by_server(&mut silent).await.is_some());
    // one request, then idle on a keep-alive connection
    let mut idle = TcpStream::connect(server.addr()).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = closed_by_server(&mut idle)
        .await
        .expect("idle keep-alive kept open");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    server.stop().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_gets_408_and_a_close() {
    let server = start(short(64)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let seen = closed_by_server(&mut stream).await.expect("held open");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.ends_with("too slow"), "{text}");
    server.stop().await;
}

/// More idle connections than the limit: the server never runs out of descriptors,
/// reaps the idle ones at the header timeout, and answers a real client meanwhile.
#[tokio::test]
async fn an_idle_flood_past_the_connection_limit_does_not_stop_the_server() {
    let server = start(short(16)).await;
    let addr: SocketAddr = server.addr();
    let mut flood = Vec::new();
    for _ in 0..200 {
        // connections beyond the limit wait in the backlog; connect still succeeds
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        {
            flood.push(stream);
        }
    }
    assert!(flood.len() >= 100, "only {} connected", flood.len());
    let client = gatebench_tls::http_client()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let answer = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    drop(flood);
    let again = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), "ok");
    server.stop().await;
}

#[tokio::test]
async fn only_an_unread_body_closes_the_connection() {
    let server = start(Limits::default()).await;
    let url = format!("http://{}", server.addr());
    let http = gatebench_tls::client();
    let connection = |r: &reqwest::Response| {
        r.headers()
            .get(CONNECTION)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let read = http
        .post(format!("{url}/echo"))
        .body("x".repeat(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(connection(&read), None);
    let refused = http
        .post(format!("{url}/refuse"))
        .body(Bytes::from("x".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(connection(&refused).as_deref(), Some("close"));
    // no body at all: nothing left unread
    let empty = http.post(format!("{url}/refuse")).send().await.unwrap();
    assert_eq!(connection(&empty), None);
    let get = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(connection(&get), None);
    // a 404 after a body: the router's own fallback is covered too
    let missing = http
        .post(format!("{url}/nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(connection(&missing).as_deref(), Some("close"));
    server.stop().await;
}

/// A client still sending a body the server refused reads the answer and goes on
/// sending, as a client that writes its whole body before reading does: the server
/// reads and drops the rest instead of closing on unread data, which the kernel
/// turns into a reset (EPIPE on the next write, the answer possibly lost).
#[tokio::test]
async fn a_refused_body_is_read_to_its_end_after_the_answer() {
    let server = start(Limits::default()).await;
    for (path, status) in [("echo", "413"), ("refuse", "401")] {
        let total = 16usize << 20;
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        let head = format!("POST /{path} HTTP/1.1\r\nhost: x\r\ncontent-length: {total}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        stream.write_all(&chunk).await.unwrap();
        let seen = closed_by_server(&mut stream)
            .await
            .expect("an answer and a FIN");
        let seen = String::from_utf8_lossy(&seen);
        assert!(seen.starts_with(&format!("HTTP/1.1 {status}")), "{seen}");
        let mut sent = chunk.len();
        while sent < total {
            stream
                .write_all(&chunk)
                .await
                .unwrap_or_else(|error| panic!("/{path}: {sent} of {total} bytes sent: {error}"));
            sent += chunk.len();
        }
        stream.shutdown().await.unwrap();
    }
    server.stop().await;
}
