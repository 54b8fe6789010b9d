//! Retries, fallbacks and readiness against injected upstream faults.

use std::time::Duration;

use gatebench_e2e::{ALPHA, chat_body, client, eventually, mock_stats, set_faults, stack};
use serde_json::{Value, json};

async fn chat(http: &reqwest::Client, url: &str, model: &str, prompt: &str) -> reqwest::Response {
    http.post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .header("x-gatebench-cache", "no-cache, no-store")
        .json(&chat_body(model, prompt))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rate_limited_attempt_is_retried_after_the_time_the_provider_asks() {
    let stack = stack(|_| {}).await;
    let http = client();
    let mock = stack.mock_url("openai").unwrap();
    // Every request in the first 300 ms is refused with retry-after 400 ms; the
    // gateway must wait that long, then succeed.
    set_faults(
        &http,
        &mock,
        json!({ "retry_after": "400ms", "windows": [{ "kind": "rate_limit", "from": "0s", "to": "300ms" }] }),
    )
    .await;
    let response = chat(&http, &stack.gateway_url(), "gpt-4o-mini", "retry me").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-gatebench-attempts"], "2");
    assert_eq!(response.headers()["x-gatebench-provider"], "openai");
    let stats = mock_stats(&http, &mock).await;
    assert_eq!(
        stats["by_route"]["/v1/chat/completions"]["fault_rate_limit"], 1,
        "{stats}"
    );
    assert_eq!(
        stats["by_route"]["/v1/chat/completions"]["ok"], 1,
        "{stats}"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_model_that_keeps_failing_falls_back_to_its_next_provider() {
    let stack = stack(|_| {}).await;
    let http = client();
    let mock = stack.mock_url("openai").unwrap();
    set_faults(
        &http,
        &mock,
        json!({ "unavailable": 1.0, "models": ["gpt-4o-mini"] }),
    )
    .await;
    let response = chat(
        &http,
        &stack.gateway_url(),
        "gpt-4o-mini",
        "fall back please",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-gatebench-provider"], "deepseek");
    assert_eq!(response.headers()["x-gatebench-model"], "deepseek-chat");
    assert_eq!(
        response.headers()["x-gatebench-attempts"],
        "4",
        "3 attempts on openai, then deepseek"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "deepseek-chat");
    stack.shutdown().await;
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let stack = stack(|_| {}).await;
    let http = client();
    let response = chat(&http, &stack.gateway_url(), "gpt-9-imaginary", "hello").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-gatebench-attempts"], "1");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn malformed_and_cut_upstream_bodies_are_retried() {
    let stack = stack(|_| {}).await;
    let http = client();
    let mock = stack.mock_url("openai").unwrap();
    for kind in ["malformed", "stream_cut", "reset"] {
        set_faults(
            &http,
            &mock,
            json!({ "windows": [{ "kind": kind, "from": "0s", "to": "1h" }] }),
        )
        .await;
        // Every attempt fails: the client gets a clean error, not a broken body.
        let response = chat(&http, &stack.gateway_url(), "deepseek-chat", kind).await;
        assert_eq!(response.status(), 502, "{kind}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error", "{kind}");
        set_faults(&http, &mock, json!({})).await;
        // Let the circuit close again before the next kind.
        eventually("ready again", Duration::from_secs(10), || async {
            http.get(format!("{}/readyz", stack.gateway_url()))
                .send()
                .await
                .unwrap()
                .status()
                == 200
        })
        .await;
        let response = chat(&http, &stack.gateway_url(), "deepseek-chat", kind).await;
        assert_eq!(response.status(), 200, "{kind} recovered");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn an_outage_opens_the_circuit_and_readiness_returns_when_it_ends() {
    let stack = stack(|o| o.gateway.health.open_for = Duration::from_millis(200)).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    set_faults(&http, &mock, json!({ "windows": [{ "kind": "unavailable", "from": "0s", "to": "1h", "models": ["deepseek-chat"] }] })).await;
    for _ in 0..2 {
        let _ = chat(&http, &url, "deepseek-chat", "down").await;
    }
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    let deepseek = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "deepseek")
        .unwrap()
        .clone();
    assert_eq!(deepseek["circuit"], "open");

    set_faults(&http, &mock, json!({})).await;
    eventually(
        "readiness after the outage",
        Duration::from_secs(10),
        || async {
            http.get(format!("{url}/readyz"))
                .send()
                .await
                .unwrap()
                .status()
                == 200
        },
    )
    .await;
    assert_eq!(
        chat(&http, &url, "deepseek-chat", "up again")
            .await
            .status(),
        200
    );
    stack.shutdown().await;
}

/// The state of `provider`'s circuit and the readiness status.
async fn readiness(http: &reqwest::Client, url: &str, provider: &str) -> (u16, String) {
    let response = http.get(format!("{url}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let circuit = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == provider)
        .map(|p| p["circuit"].as_str().unwrap().to_owned())
        .unwrap();
    (status, circuit)
}

#[tokio::test]
async fn a_half_open_circuit_is_not_ready_until_a_trial_succeeds() {
    let stack = stack(|o| {
        o.gateway.health.open_for = Duration::from_millis(100);
        o.gateway.health.probe = false;
    })
    .await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    set_faults(&http, &mock, json!({ "windows": [{ "kind": "unavailable", "from": "0s", "to": "1h", "models": ["deepseek-chat"] }] })).await;
    for _ in 0..2 {
        let _ = chat(&http, &url, "deepseek-chat", "down").await;
    }
    set_faults(&http, &mock, json!({})).await;
    eventually("the circuit half-open", Duration::from_secs(10), || async {
        readiness(&http, &url, "deepseek").await.1 == "half_open"
    })
    .await;
    // Without a probe nothing tries the provider: still recovering, not ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        readiness(&http, &url, "deepseek").await,
        (503, "half_open".to_owned())
    );
    // A request is the trial; its success closes the circuit.
    assert_eq!(
        chat(&http, &url, "deepseek-chat", "trial").await.status(),
        200
    );
    assert_eq!(
        readiness(&http, &url, "deepseek").await,
        (200, "closed".to_owned())
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn the_gateway_probes_a_half_open_provider_and_turns_ready_without_traffic() {
    let stack = stack(|o| o.gateway.health.open_for = Duration::from_millis(100)).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("personality").unwrap();
    let personality = || async {
        http.post(format!("{url}/v1/personality"))
            .bearer_auth(ALPHA)
            .json(&json!({"age": 7, "interests": ["space"]}))
            .send()
            .await
            .unwrap()
            .status()
    };
    // The whole service is down, its health route included.
    set_faults(
        &http,
        &mock,
        json!({ "windows": [{ "kind": "unavailable", "from": "0s", "to": "1h" }] }),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(personality().await, 503);
    }
    assert_eq!(readiness(&http, &url, "personality").await.0, 503);
    // Many open periods later, every probe has failed: never ready meanwhile.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(readiness(&http, &url, "personality").await.0, 503);
    }
    let stats = mock_stats(&http, &mock).await;
    assert!(
        stats["by_route"]["/health"]["fault_unavailable"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "the gateway probed the service: {stats}"
    );
    // The service is back: the probe finds it, with no request sent.
    set_faults(&http, &mock, json!({})).await;
    eventually("ready without traffic", Duration::from_secs(10), || async {
        readiness(&http, &url, "personality").await == (200, "closed".to_owned())
    })
    .await;
    assert_eq!(personality().await, 200);
    stack.shutdown().await;
}

/// The demo gateway on a free port with every provider at `base_url` (and its
/// `timeout`, if given), its retries 1 ms apart.
async fn gateway_before(
    base_url: &str,
    timeout: Option<Duration>,
) -> gatebench_gateway::RunningGateway {
    let mut config = gatebench_gateway::GatewayConfig::demo();
    for p in config.providers.iter_mut() {
        p.base_url = base_url.to_owned();
        p.timeout = timeout.unwrap_or(p.timeout);
    }
    config.retry.base = Duration::from_millis(1);
    let state = gatebench_gateway::Gateway::new(config, ":memory:").unwrap();
    gatebench_gateway::RunningGateway::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A personality call through `gateway`.
async fn personality_call(
    http: &reqwest::Client,
    gateway: &gatebench_gateway::RunningGateway,
) -> reqwest::Response {
    http.post(format!("{}/v1/personality", gateway.url()))
        .bearer_auth(ALPHA)
        .json(&json!({"age": 5, "interests": ["cats"]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_clean_502() {
    // Nothing listens on the discard port.
    let gateway = gateway_before("http://127.0.0.1:9", None).await;
    let response = personality_call(&client(), &gateway).await;
    assert_eq!(response.status(), 502);
    // in the personality service's own shape, as its other errors
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"]["status"],
        "server_error"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn an_https_upstream_is_reached_over_tls_and_a_failed_handshake_is_a_clean_502() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // A plain-HTTP server behind an https:// base URL: a client that spoke HTTP
    // to it would be answered; one that opens TLS gets no handshake.
    let served = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&served);
    let upstream = axum::Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async { "plain http" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, upstream).await });
    let gateway = gateway_before(&format!("https://{addr}"), None).await;
    let response = personality_call(&client(), &gateway).await;
    assert_eq!(response.status(), 502);
    // in the personality service's own shape, as its other errors
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"]["status"],
        "server_error"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "no request went out in plain HTTP"
    );
    gateway.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn a_provider_s_timeout_bounds_its_whole_answer_not_the_head_and_then_the_body_again() {
    use futures::StreamExt as _;

    // The head after 300 ms and the end of the body 400 ms later: the call
    // takes 700 ms, past the timeout of 500 ms, though neither part alone does.
    let upstream = axum::Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let parts =
            futures::stream::iter([&b"{\"slow\":"[..], &b"true}"[..]]).then(|part| async move {
                if part.starts_with(b"true") {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                Ok::<_, std::io::Error>(part)
            });
        axum::body::Body::from_stream(parts)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, upstream).await });
    let slow = format!("http://{addr}");
    let gateway = gateway_before(&slow, Some(Duration::from_millis(500))).await;
    let response = personality_call(&client(), &gateway).await;
    assert_eq!(response.status(), 502);
    gateway.shutdown().await;
    // with a timeout longer than the whole answer, the same answer passes
    let gateway = gateway_before(&slow, Some(Duration::from_secs(5))).await;
    let response = personality_call(&client(), &gateway).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["slow"], true);
    gateway.shutdown().await;
    server.abort();
}

#[tokio::test]
async fn an_upstream_redirect_is_passed_on_not_followed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let followed = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&followed);
    let upstream = axum::Router::new()
        .route(
            "/elsewhere",
            axum::routing::any(move || {
                seen.fetch_add(1, Ordering::SeqCst);
                async { "followed" }
            }),
        )
        .fallback(|| async {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, "/elsewhere")],
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, upstream).await });
    let gateway = gateway_before(&format!("http://{addr}"), None).await;
    let http = gatebench_tls::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = personality_call(&http, &gateway).await;
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], "/elsewhere");
    assert_eq!(
        followed.load(Ordering::SeqCst),
        0,
        "the gateway followed it"
    );
    gateway.shutdown().await;
    server.abort();
}
