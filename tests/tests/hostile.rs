//! Every gatebench server (the gateway and the four mocks) against hostile and
//! careless clients, on real listeners: a slowloris, a body shorter than its
//! length, oversized request heads, an idle flood past the connection limit, and
//! operator routes behind the admin token. Limits are short so each attack ends in
//! a second or two.

use std::time::Duration;

use gatebench_serve::admin::AdminToken;
use gatebench_serve::server::Limits;
use gatebench_stack::{Stack, StackOptions};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "gb-alpha-dev";

fn short() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: 16,
    }
}

async fn stack(admin: AdminToken) -> Stack {
    let mut options = StackOptions::ephemeral(7, 0.0);
    options.limits = short();
    options.admin = admin;
    Stack::start(options).await.unwrap()
}

/// Each server, a POST route it serves, and whether its errors take the
/// `{"detail": ...}` shape.
fn servers(stack: &Stack) -> Vec<(String, &'static str, bool)> {
    let mock = |name| stack.mock_url(name).unwrap();
    vec![
        (stack.gateway_url(), "/v1/chat/completions", false),
        (stack.gateway_url(), "/v1/text-to-speech/voice-1", true),
        (mock("openai"), "/v1/chat/completions", false),
        (mock("elevenlabs"), "/v1/text-to-speech/voice-1", true),
        (mock("personality"), "/v1/personality", true),
        (mock("webvtt"), "/v1/webvtt", true),
    ]
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Sends `head` (and `body`), then reads until the server closes (at most 10 s).
async fn exchange(url: &str, head: String, body: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect(host_port(url)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut seen = Vec::new();
    let read = stream.read_to_end(&mut seen);
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(_) => Some(String::from_utf8_lossy(&seen).into_owned()),
        Err(_) => None,
    }
}

/// The JSON body of a raw HTTP/1.1 response.
fn json_body(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// The machine-readable code of an error in either shape.
fn code(body: &Value, detail: bool) -> &str {
    let code = if detail {
        &body["detail"]["status"]
    } else {
        &body["error"]["code"]
    };
    code.as_str().unwrap_or_else(|| panic!("no code in {body}"))
}

fn auth_headers() -> String {
    format!("authorization: Bearer {KEY}\r\nxi-api-key: {KEY}\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408_in_the_provider_s_shape() {
    let stack = stack(AdminToken::open()).await;
    for (url, path, detail) in servers(&stack) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{}content-length: 500\r\n\r\n",
            auth_headers()
        );
        let response = exchange(&url, head, b"{\"model\":")
            .await
            .unwrap_or_else(|| panic!("{url}{path} held a stalled body open"));
        assert!(
            response.starts_with("HTTP/1.1 408"),
            "{url}{path}: {response}"
        );
        assert!(
            response.contains("connection: close"),
            "{url}{path}: {response}"
        );
        let body = json_body(&response);
        assert_eq!(
            code(&body, detail),
            "request_timeout",
            "{url}{path}: {body}"
        );
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_414_and_431_with_a_body() {
    let stack = stack(AdminToken::open()).await;
    for (url, path, detail) in servers(&stack) {
        let long = format!(
            "POST {path}?pad={} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(9000)
        );
        let response = exchange(&url, long, b"").await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 414"),
            "{url}{path}: {response}"
        );
        assert_eq!(code(&json_body(&response), detail), "uri_too_long");

        let big = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\ncontent-length: 0\r\n\r\n",
            "b".repeat(40_000)
        );
        let response = exchange(&url, big, b"").await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 431"),
            "{url}{path}: {response}"
        );
        assert_eq!(code(&json_body(&response), detail), "headers_too_large");
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_cut_off_by_every_server() {
    let stack = stack(AdminToken::open()).await;
    for (url, path, _) in servers(&stack) {
        let mut stream = TcpStream::connect(host_port(&url)).await.unwrap();
        stream
            .write_all(format!("POST {path} HTTP/1.1\r\nhost: x\r\n").as_bytes())
            .await
            .unwrap();
        let drip = async {
            for i in 0..40 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let line = format!("x-drip-{i}: 1\r\n");
                if stream.write_all(line.as_bytes()).await.is_err() {
                    return true;
                }
            }
            false
        };
        let cut = tokio::time::timeout(Duration::from_secs(15), drip).await;
        assert_eq!(cut, Ok(true), "{url} kept a dripping head open");
    }
    stack.shutdown().await;
}

/// Six times the connection limit in idle connections, at every server at once:
/// each still answers a real client, and keeps answering once the flood is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_flood_does_not_stop_any_server() {
    let stack = stack(AdminToken::open()).await;
    let client = gatebench_tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut urls: Vec<String> = servers(&stack).into_iter().map(|(url, _, _)| url).collect();
    urls.dedup();
    let flooded = urls.iter().map(|url| {
        let client = client.clone();
        async move {
            let mut flood = Vec::new();
            for _ in 0..96 {
                let connect = TcpStream::connect(host_port(url));
                if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), connect).await
                {
                    flood.push(stream);
                }
            }
            assert!(flood.len() >= 64, "{url}: only {} connected", flood.len());
            let during = client.get(format!("{url}/healthz")).send().await.unwrap();
            assert_eq!(during.status(), 200, "{url}");
            drop(flood);
            let after = client.get(format!("{url}/healthz")).send().await.unwrap();
            assert_eq!(after.status(), 200, "{url}");
        }
    });
    futures::future::join_all(flooded).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_need_the_admin_token_when_one_is_set() {
    let stack = stack(AdminToken::new("s3cret")).await;
    let client = gatebench_tls::client();
    let gateway = stack.gateway_url();
    let openai = stack.mock_url("openai").unwrap();
    for url in [
        format!("{gateway}/metrics"),
        format!("{openai}/_mock/faults"),
    ] {
        let refused = client.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401, "{url}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "admin_token_required", "{url}");
        let allowed = client
            .get(&url)
            .header("x-gatebench-admin-token", "s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "{url}");
    }
    // health probes and provider routes stay as they were
    for url in [format!("{gateway}/healthz"), format!("{openai}/healthz")] {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    }
    let chat = client
        .post(format!("{gateway}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": 5
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    stack.shutdown().await;
}

/// A key longer than any provider issues is refused by every mock, and not kept in
/// its books.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_refuses_an_overlong_key_and_does_not_book_it() {
    let stack = stack(AdminToken::open()).await;
    let openai = stack.mock_url("openai").unwrap();
    let client = gatebench_tls::client();
    let long = "k".repeat(4096);
    let refused = client
        .post(format!("{openai}/v1/chat/completions"))
        .bearer_auth(&long)
        .json(&serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key", "{body}");
    let books = client
        .get(format!("{openai}/_mock/calls?after=0&limit=10"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!books.contains(&long), "the key reached the books");
    stack.shutdown().await;
}
