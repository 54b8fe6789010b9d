//! The shared mock machinery seen from a real client over a real socket: each fault
//! kind, the control API, auth, body limits, rate limits and capacity, on a trivial
//! route so that only the core is under test.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use bytes::Bytes;
use gatebench_mock::capacity::CapacityConfig;
use gatebench_mock::control::{Control, assemble};
use gatebench_mock::core::{KeyHeader, MockCore, RequestCtx, ServiceSettings};
use gatebench_mock::error::ErrorStyle;
use gatebench_mock::ratelimit::RateLimitConfig;
use gatebench_mock::server::{self, ServerHandle, ServerOptions};
use serde_json::{Value, json};

async fn echo(
    State(core): State<Arc<MockCore>>,
    ctx: RequestCtx,
    body: Bytes,
) -> axum::response::Response {
    let parsed: Value = match core.style.parse_json(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let _permit = match core.enter("echo") {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // Lets a test hold a capacity slot for as long as it needs.
    if let Some(ms) = parsed["hold_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Err(refused) = core.limits.check(ctx.limit_key(), 10) {
        return core
            .style
            .rate_limited(
                refused.retry_after,
                "slow down",
                refused.report.openai_headers(),
            )
            .into_response();
    }
    axum::Json(json!({ "echo": parsed, "id": ctx.id() })).into_response()
}

async fn start(style: ErrorStyle, settings: ServiceSettings) -> (ServerHandle, String) {
    let key = if style == ErrorStyle::OpenAi {
        KeyHeader::Bearer
    } else {
        KeyHeader::XiApiKey
    };
    let core = MockCore::new("test", style, key, settings, 7, 0.0);
    let routes = Router::new()
        .route("/v1/echo", post(echo))
        .with_state(Arc::clone(&core));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = server::spawn(
        listener,
        assemble(
            core,
            &Control::default(),
            None,
            routes,
            axum::Router::new(),
            axum::Router::new(),
        ),
        ServerOptions {
            drain: Duration::from_secs(1),
            resettable: true,
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let url = format!("http://{}", handle.addr());
    (handle, url)
}

/// Puts `spec` in force; returns the answer, the state it set.
async fn set_faults(client: &reqwest::Client, url: &str, spec: Value) -> Value {
    let response = client
        .put(format!("{url}/_mock/faults"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// `GET url`'s JSON body.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn client() -> reqwest::Client {
    gatebench_tls::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_healthy_request_gets_ids_and_is_counted() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert!(response.headers().contains_key("openai-processing-ms"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["echo"]["a"], 1);

    let health = get_json(&http, &format!("{url}/healthz")).await;
    assert_eq!(health["status"], "ok");
    let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
    assert_eq!(stats["by_route"]["/v1/echo"]["ok"], 1);
    assert_eq!(stats["requests"], 1);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn each_status_fault_reaches_the_client_in_the_provider_shape() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    for (kind, status) in [
        ("server_error", 500),
        ("bad_gateway", 502),
        ("unavailable", 503),
        ("timeout", 504),
    ] {
        set_faults(&http, &url, json!({ kind: 1.0, "timeout_after": "10ms" })).await;
        let response = http
            .post(format!("{url}/v1/echo"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{kind}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error", "{kind}");
        assert!(body["error"]["code"].is_null() || body["error"]["code"].is_string());
    }
    set_faults(
        &http,
        &url,
        json!({ "rate_limit": 1.0, "retry_after": "1500ms" }),
    )
    .await;
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["retry-after-ms"], "1500");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limit_exceeded"
    );

    let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
    let echo = &stats["by_route"]["/v1/echo"];
    for label in [
        "fault_server_error",
        "fault_bad_gateway",
        "fault_unavailable",
        "fault_timeout",
        "fault_rate_limit",
    ] {
        assert_eq!(echo[label], 1, "{label} in {echo}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn faults_use_the_detail_shape_on_elevenlabs_style_mocks() {
    let (server, url) = start(ErrorStyle::Detail, ServiceSettings::default()).await;
    let http = client();
    set_faults(&http, &url, json!({ "unavailable": 1.0 })).await;
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"]["status"], "service_unavailable");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_reset_fault_resets_the_connection() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    set_faults(&http, &url, json!({ "reset": 1.0 })).await;
    let error = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error:?}");
    let chain = format!("{error:?}").to_lowercase();
    assert!(
        chain.contains("reset") || chain.contains("closed") || chain.contains("incomplete"),
        "{chain}"
    );
    // The mock still serves other connections.
    set_faults(&http, &url, json!({})).await;
    assert_eq!(
        http.post(format!("{url}/v1/echo"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // the call that got no answer is counted, as the books count it
    let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
    assert_eq!(stats["requests"], 2, "{stats}");
    assert_eq!(stats["by_route"]["/v1/echo"]["fault_reset"], 1, "{stats}");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_hang_gives_no_answer() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    set_faults(&http, &url, json!({ "hang": 1.0, "hang_for": "1h" })).await;
    let short = gatebench_tls::http_client()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = short
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    // the hung call is in flight until the client has gone, then counted
    let mut counted = Value::Null;
    for _ in 0..50 {
        counted = get_json(&http, &format!("{url}/_mock/stats")).await;
        if counted["requests"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        counted["by_route"]["/v1/echo"]["fault_hang"], 1,
        "{counted}"
    );
    server.shutdown(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn malformed_and_cut_bodies_fail_to_parse() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    set_faults(&http, &url, json!({ "malformed": 1.0 })).await;
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).is_err());

    set_faults(&http, &url, json!({ "stream_cut": 1.0 })).await;
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({"long": "x".repeat(1000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "a cut body ends with an error, not a clean end"
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_outage_window_starts_and_ends() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    let set = set_faults(
        &http,
        &url,
        json!({ "windows": [{ "kind": "unavailable", "from": "0s", "to": "300ms" }] }),
    )
    .await;
    assert_eq!(
        set["active_windows"],
        json!([0]),
        "the answer is the state set"
    );
    assert_eq!(
        http.post(format!("{url}/v1/echo"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let state = get_json(&http, &format!("{url}/_mock/faults")).await;
    assert_eq!(state["active_windows"], json!([0]));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        http.post(format!("{url}/v1/echo"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn invalid_fault_specs_are_refused_and_reset_restores_the_profile() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    set_faults(&http, &url, json!({ "server_error": 0.25 })).await;
    for bad in [
        json!({ "reset": 2.0 }),
        json!({ "resett": 0.1 }),
        json!({ "hang": 0.7, "reset": 0.7 }),
        // serde would read an array as the fields in order
        json!([0, 0, 0, 1]),
        json!([]),
    ] {
        let response = http
            .put(format!("{url}/_mock/faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let response = http
        .put(format!("{url}/_mock/faults"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // too large for the control API, refused in its own shape
    let response = http
        .put(format!("{url}/_mock/faults"))
        .body(" ".repeat(3 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    let state = get_json(&http, &format!("{url}/_mock/faults")).await;
    assert_eq!(
        state["faults"]["server_error"], 0.25,
        "the spec in force stays"
    );

    set_faults(&http, &url, json!({ "server_error": 1.0 })).await;
    http.post(format!("{url}/_mock/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        http.post(format!("{url}/v1/echo"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
    assert_eq!(stats["requests"], 1, "reset cleared the earlier counts");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_call_log_refuses_a_page_it_cannot_give() {
    let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
    let http = client();
    for query in ["limit=0", "limit=10001", "limit=abc", "after=-1", "page=2"] {
        let response = http
            .get(format!("{url}/_mock/calls?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let error = response.json::<Value>().await.unwrap()["error"].clone();
        assert!(
            error
                .as_str()
                .is_some_and(|e| e.starts_with("invalid query")),
            "{query}: {error}"
        );
    }
    for query in ["limit=1", "limit=10000", "after=0"] {
        let response = http
            .get(format!("{url}/_mock/calls?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn auth_and_body_limits_answer_in_the_provider_shape() {
    let settings = ServiceSettings {
        require_key: true,
        body_limit: 1024,
        ..ServiceSettings::default()
    };
    let (server, url) = start(ErrorStyle::OpenAi, settings).await;
    let http = client();
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["code"].is_null());

    let authed = |r: reqwest::RequestBuilder| r.bearer_auth("sk-test");
    let response = authed(http.post(format!("{url}/v1/echo")))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["connection"], "close");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "request_too_large"
    );

    // A chunked body (no content-length) over the limit is caught while reading.
    let chunks = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 512]))),
    );
    let response = authed(http.post(format!("{url}/v1/echo")))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    let response = authed(http.post(format!("{url}/v1/echo")))
        .body(vec![0xff, 0xfe, b'{'])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_key_list_refuses_unknown_keys() {
    let settings = ServiceSettings {
        api_keys: vec!["good".into()],
        ..ServiceSettings::default()
    };
    let (server, url) = start(ErrorStyle::Detail, settings).await;
    let http = client();
    let response = http
        .post(format!("{url}/v1/echo"))
        .header("xi-api-key", "bad")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"]["status"],
        "invalid_api_key"
    );
    let response = http
        .post(format!("{url}/v1/echo"))
        .header("xi-api-key", "good")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn rate_limits_refuse_with_retry_headers() {
    let settings = ServiceSettings {
        rate_limits: RateLimitConfig {
            requests_per_minute: 2,
            ..Default::default()
        },
        ..ServiceSettings::default()
    };
    let (server, url) = start(ErrorStyle::OpenAi, settings).await;
    let http = client();
    for _ in 0..2 {
        assert_eq!(
            http.post(format!("{url}/v1/echo"))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after-ms"));
    assert_eq!(response.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(response.headers()["x-ratelimit-remaining-requests"], "0");
    // Another key has its own bucket.
    let response = http
        .post(format!("{url}/v1/echo"))
        .bearer_auth("other")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn past_the_hard_capacity_limit_requests_are_refused() {
    let settings = ServiceSettings {
        capacity: CapacityConfig {
            soft_limit: 1,
            hard_limit: 1,
            slope: 1.0,
        },
        ..ServiceSettings::default()
    };
    let (server, url) = start(ErrorStyle::OpenAi, settings).await;
    let http = client();
    let holder = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(format!("{url}/v1/echo"))
                .json(&json!({"hold_ms": 3000}))
                .send()
                .await
        }
    });
    // Wait until the slot is taken (counted as in flight), however long that takes,
    // as long as the request taking it is still there.
    loop {
        assert!(
            !holder.is_finished(),
            "the holding request ended before it was counted: {:?}",
            holder.await
        );
        let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
        if stats["in_flight"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
    assert_eq!(holder.await.unwrap().unwrap().status(), 200);
    let response = http
        .post(format!("{url}/v1/echo"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the slot is free again");
    let stats = get_json(&http, &format!("{url}/_mock/stats")).await;
    assert_eq!(stats["by_route"]["/v1/echo"]["overloaded"], 1);
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_same_seed_draws_the_same_faults() {
    async fn pattern() -> Vec<u16> {
        let (server, url) = start(ErrorStyle::OpenAi, ServiceSettings::default()).await;
        let http = client();
        set_faults(&http, &url, json!({ "server_error": 0.3 })).await;
        let mut out = Vec::new();
        for i in 0..40 {
            let r = http
                .post(format!("{url}/v1/echo"))
                .json(&json!({ "i": i % 7 }))
                .send()
                .await
                .unwrap();
            out.push(r.status().as_u16());
        }
        server.shutdown(Duration::from_secs(1)).await;
        out
    }
    let (a, b) = (pattern().await, pattern().await);
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
}
