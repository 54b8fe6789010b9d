//! Auth, the response headers, the front routes, and an official client.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use gatebench_e2e::{ALPHA, chat_body, client, stack};
use serde_json::{Value, json};

#[tokio::test]
async fn requests_without_a_valid_key_get_401_in_openai_shape() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    for request in [
        http.post(&url).json(&chat_body("gpt-4o-mini", "hi")),
        http.post(&url)
            .bearer_auth("gb-nobody")
            .json(&chat_body("gpt-4o-mini", "hi")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        // named where SDKs read a request's id, by the gateway's own id
        let h = response.headers();
        assert_eq!(h["x-request-id"], h["x-gatebench-request-id"]);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"].as_object().unwrap().contains_key("code"));
    }
    // an empty conversation is refused in OpenAI's words
    let response = http
        .post(&url)
        .bearer_auth(ALPHA)
        .json(&json!({ "model": "gpt-4o-mini", "messages": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "empty_array");
    assert_eq!(body["error"]["param"], "messages");
    // The tenant's own endpoints need a key too.
    let response = http
        .get(format!("{}/v1/gatebench/usage", stack.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    stack.shutdown().await;
}

#[tokio::test]
async fn every_response_says_what_the_gateway_did() {
    let stack = stack(|_| {}).await;
    let response = client()
        .post(format!("{}/v1/chat/completions", stack.gateway_url()))
        .bearer_auth(ALPHA)
        .json(&chat_body(
            "gpt-4o-mini",
            "Tell me a short story about a brave turtle.",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert_eq!(h["x-gatebench-cache"], "miss");
    assert_eq!(h["x-gatebench-provider"], "openai");
    assert_eq!(h["x-gatebench-attempts"], "1");
    assert!(
        h["x-gatebench-request-id"]
            .to_str()
            .unwrap()
            .starts_with("gb-")
    );
    let cost: rust_decimal::Decimal = h["x-gatebench-cost-usd"].to_str().unwrap().parse().unwrap();
    assert!(cost > rust_decimal::Decimal::ZERO);
    let timing = h["server-timing"].to_str().unwrap();
    for part in ["queue;dur=", "cache;dur=", "upstream;dur=", "total;dur="] {
        assert!(timing.contains(part), "{timing}");
    }
    let body: Value = response.json().await.unwrap();
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    stack.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_clear_400s_and_unknown_routes_404() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            http.post(&url).bearer_auth(ALPHA).body("{not json"),
            "malformed",
        ),
        (
            http.post(&url).bearer_auth(ALPHA).body(vec![0xff, 0xfe]),
            "bad utf-8",
        ),
        (
            http.post(&url)
                .bearer_auth(ALPHA)
                .json(&json!({"messages": []})),
            "missing model",
        ),
        (
            http.post(&url)
                .bearer_auth(ALPHA)
                .json(&json!({"model": 3, "messages": []})),
            "wrong type",
        ),
        (
            http.post(&url).bearer_auth(ALPHA).json(&json!([1, 2])),
            "not an object",
        ),
        (
            http.post(&url)
                .bearer_auth(ALPHA)
                .header("x-gatebench-priority", "urgent")
                .json(&chat_body("gpt-4o-mini", "x")),
            "bad priority",
        ),
    ];
    for (request, what) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{what}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
    let huge = vec![b' '; 9 * 1024 * 1024];
    let response = http
        .post(&url)
        .bearer_auth(ALPHA)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // The unread rest of the body ends the connection; the answer says so, and the
    // pooled client's next request goes out on a fresh one.
    assert_eq!(response.headers()["connection"], "close");
    let response = http
        .get(format!("{}/v1/nothing", stack.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    stack.shutdown().await;
}

#[tokio::test]
async fn an_official_client_needs_only_the_base_url_and_a_tenant_key() {
    let stack = stack(|_| {}).await;
    let config = OpenAIConfig::new()
        .with_api_base(format!("{}/v1", stack.gateway_url()))
        .with_api_key(ALPHA);
    let openai = Client::build(gatebench_tls::client(), config);
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .max_completion_tokens(40u32)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("What is a carbon footprint?")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap();
    let response = openai.chat().create(request.clone()).await.unwrap();
    assert!(
        !response.choices[0]
            .message
            .content
            .clone()
            .unwrap_or_default()
            .is_empty()
    );
    let usage = response.usage.unwrap();
    assert!(usage.completion_tokens <= 40);

    let mut stream_request = request;
    stream_request.stream = Some(true);
    let mut stream = openai.chat().create_stream(stream_request).await.unwrap();
    let mut text = String::new();
    use futures::StreamExt as _;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(choice) = chunk.choices.first() {
            text.push_str(choice.delta.content.as_deref().unwrap_or(""));
        }
    }
    assert!(!text.is_empty());

    let models = openai.models().list().await.unwrap();
    assert!(models.data.iter().any(|m| m.id == "gpt-4o-mini"));
    // each model of the list is read on its own too, and an unknown one is the
    // API's 404
    for listed in &models.data {
        let model = openai.models().retrieve(&listed.id).await.unwrap();
        assert_eq!((&model.id, &model.owned_by), (&listed.id, &listed.owned_by));
    }
    let unknown = openai
        .models()
        .retrieve("gpt-nonexistent")
        .await
        .unwrap_err();
    let async_openai::error::OpenAIError::ApiError(error) = unknown else {
        panic!("not the API's error: {unknown:?}");
    };
    assert_eq!(error.api_error.code.as_deref(), Some("model_not_found"));
    stack.shutdown().await;
}

#[tokio::test]
async fn every_front_route_answers_through_the_gateway() {
    let stack = stack(|_| {}).await;
    let http = client();
    let base = stack.gateway_url();
    let embed = http
        .post(format!("{base}/v1/embeddings"))
        .bearer_auth(ALPHA)
        .json(&json!({"model": "text-embedding-3-small", "input": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(embed.status(), 200);
    assert_eq!(
        embed.json::<Value>().await.unwrap()["data"][0]["embedding"]
            .as_array()
            .unwrap()
            .len(),
        1536
    );

    let voice = "21m00Tcm4TlvDq8ikWAM";
    for (suffix, content_type) in [
        ("", "audio/mpeg"),
        ("/stream", "audio/mpeg"),
        ("/with-timestamps", "application/json"),
    ] {
        let response = http
            .post(format!("{base}/v1/text-to-speech/{voice}{suffix}"))
            .header("xi-api-key", ALPHA)
            .json(&json!({"text": "Once upon a time."}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{suffix}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{suffix}"
        );
        assert!(
            response.headers().contains_key("character-cost"),
            "{suffix}"
        );
        assert!(
            response.headers().contains_key("x-gatebench-cost-usd"),
            "{suffix}"
        );
        assert!(!response.bytes().await.unwrap().is_empty(), "{suffix}");
    }
    let personality = http
        .post(format!("{base}/v1/personality"))
        .bearer_auth(ALPHA)
        .json(&json!({"age": 6, "interests": ["dinosaurs"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(personality.status(), 200);
    assert_eq!(personality.headers()["x-gatebench-cache"], "bypass");
    let vtt = http
        .post(format!("{base}/v1/webvtt"))
        .bearer_auth(ALPHA)
        .json(&json!({"text": "Hello there. Goodbye now.", "duration_seconds": 3.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(vtt.status(), 200);
    assert!(vtt.text().await.unwrap().starts_with("WEBVTT"));
    // Upstream validation errors come back in the provider's own shape.
    let bad = http
        .post(format!("{base}/v1/personality"))
        .bearer_auth(ALPHA)
        .json(&json!({"age": 40, "interests": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.json::<Value>().await.unwrap()["detail"].is_array());
    for path in ["/healthz", "/health", "/readyz", "/metrics"] {
        assert_eq!(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "{path}"
        );
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("gatebench_requests_total"), "{metrics}");
    stack.shutdown().await;
}

#[tokio::test]
async fn correlation_headers_reach_the_provider_and_the_config_is_readable() {
    let stack = stack(|_| {}).await;
    let http = client();
    let response = http
        .post(format!("{}/v1/chat/completions", stack.gateway_url()))
        .bearer_auth(ALPHA)
        .header("x-request-id", "app-req-7")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&chat_body("gpt-4o-mini", "Tell me about otters."))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let openai = stack.mock_url("openai").unwrap();
    let page: gatebench_wire::books::CallPage = http
        .get(format!("{openai}/_mock/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let call = page.data.last().expect("the upstream call is booked");
    assert_eq!(call.client_request_id.as_deref(), Some("app-req-7"));
    assert!(call.traceparent.as_deref().unwrap().starts_with("00-0af7"));

    let config: Value = http
        .get(format!("{}/v1/gatebench/config", stack.gateway_url()))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // the threshold as configured, not the f32 widened with its float noise
    assert_eq!(
        config["cache"]["threshold"].to_string(),
        gatebench_embed::CALIBRATED_THRESHOLD.to_string()
    );
    assert_eq!(config["pricing"]["fallback"]["input_per_million"], "30");
    let anonymous = http
        .get(format!("{}/v1/gatebench/config", stack.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    stack.shutdown().await;
}

/// An answer given before the request body was read (a 401, a 404, a 405) closes
/// the connection, and says so: a connection kept without `connection: close` must
/// answer the next request sent on it.
#[tokio::test]
async fn an_answer_before_the_body_is_read_says_connection_close() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let stack = stack(|_| {}).await;
    let host = stack.gateway_url().trim_start_matches("http://").to_owned();
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(200_000));
    let mut closed = 0;
    for (method, path, key, status) in [
        ("POST", "/v1/nope", ALPHA, "404"),
        ("PUT", "/v1/chat/completions", ALPHA, "405"),
        ("POST", "/v1/chat/completions", "sk-wrong", "401"),
    ] {
        let stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        write.write_all(head.as_bytes()).await.unwrap();
        // the server may answer before it reads the body; the write may then fail
        let _ = write.write_all(big.as_bytes()).await;
        let mut line = String::new();
        read.read_line(&mut line).await.unwrap();
        assert!(line.contains(status), "{method} {path}: {line}");
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            read.read_line(&mut line).await.unwrap();
            let l = line.trim().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            close |= l == "connection: close";
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert!(body["error"].is_object(), "{body}");
        if close {
            closed += 1;
            continue;
        }
        // kept open: it must take the next request
        let next = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
        write.write_all(next.as_bytes()).await.unwrap();
        line.clear();
        read.read_line(&mut line).await.unwrap();
        assert!(
            line.starts_with("HTTP/1.1 200"),
            "{method} {path}: kept open but dead"
        );
    }
    assert!(closed > 0, "no answer came before its body was read");
    stack.shutdown().await;
}

/// A name the gateway would store and echo is bounded: a 1 MB model name is a 400
/// in OpenAI's shape, and nothing of it reaches the ledger or the headers.
#[tokio::test]
async fn a_huge_model_name_is_refused_not_stored() {
    let stack = stack(|_| {}).await;
    let url = stack.gateway_url();
    let http = client();
    let huge = "m".repeat(1 << 20);
    let r = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&chat_body(&huge, "Hello."))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().iter().all(|(_, v)| v.len() < 1024));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "string_above_max_length", "{body}");
    assert_eq!(body["error"]["param"], "model");
    assert!(body.to_string().len() < 1024, "the name is not echoed back");
    let ledger: Value = http
        .get(format!("{url}/v1/gatebench/usage"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ledger["requests"], 0, "{ledger}");
    stack.shutdown().await;
}

/// A voice id is bounded like a model name: a 1,000-character one is a 422 in
/// FastAPI's shape, never forwarded or cached.
#[tokio::test]
async fn a_huge_voice_id_is_refused() {
    let stack = stack(|_| {}).await;
    let url = stack.gateway_url();
    let voice = "v".repeat(1000);
    let r = client()
        .post(format!("{url}/v1/text-to-speech/{voice}"))
        .bearer_auth(ALPHA)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["path", "voice_id"]),
        "{body}"
    );
    assert_eq!(body["detail"][0]["type"], "string_too_long", "{body}");
    assert!(body.to_string().len() < 1024, "the id is not echoed back");
    stack.shutdown().await;
}

/// The ElevenLabs-style routes (text-to-speech, personality, WebVTT) answer a
/// missing or wrong key and an oversized body in those providers' `detail` shape,
/// as their clients expect, not in OpenAI's.
#[tokio::test]
async fn elevenlabs_style_routes_refuse_in_their_own_shape() {
    let stack = stack(|_| {}).await;
    let url = stack.gateway_url();
    let http = client();
    let routes = [
        "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
        "/v1/personality",
        "/v1/webvtt",
    ];
    for route in routes {
        for (key, code) in [
            (None, "missing_api_key"),
            (Some("sk-wrong"), "invalid_api_key"),
        ] {
            let mut request = http
                .post(format!("{url}{route}"))
                .json(&json!({"text": "hi"}));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 401, "{route}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["detail"]["status"], code, "{route}: {body}");
            assert!(body["detail"]["message"].is_string(), "{body}");
            assert!(body.get("error").is_none(), "{body}");
        }
        let huge = format!("{{\"text\":\"{}\"}}", "x".repeat(9 << 20));
        let r = http
            .post(format!("{url}{route}"))
            .bearer_auth(ALPHA)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{route}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["detail"]["status"], "request_too_large",
            "{route}: {body}"
        );
    }
    stack.shutdown().await;
}

/// A client that hangs up mid-request leaves nothing counted in flight, and the
/// request is counted once, as 499 (client closed request). The call upstream runs
/// to its end: the provider bills it, so the ledger has it too.
#[tokio::test]
async fn a_client_that_hangs_up_is_counted_and_not_left_in_flight() {
    let stack = stack(|o| o.time_scale = 1.0).await;
    let url = stack.gateway_url();
    let impatient = gatebench_tls::http_client()
        .timeout(std::time::Duration::from_millis(150))
        .build()
        .unwrap();
    let mut body = chat_body("gpt-4o-mini", "Tell me a long story about a lighthouse.");
    body["max_tokens"] = json!(60);
    let gone = impatient
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await;
    assert!(
        gone.is_err(),
        "the call should outlast the client's patience"
    );
    let http = client();
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = http
            .get(format!("{url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("gatebench_in_flight_requests 0") && metrics.contains("status=\"499\"")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains("gatebench_in_flight_requests 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatebench_requests_total{route=\"chat\",status=\"499\"} 1"),
        "{metrics}"
    );
    let mut usage = Value::Null;
    for _ in 0..300 {
        usage = http
            .get(format!("{url}/v1/gatebench/usage"))
            .bearer_auth(ALPHA)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if usage["requests"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        usage["requests"], 1,
        "the served call is not in the ledger: {usage}"
    );
    let mock = stack.mock_url("openai").unwrap();
    let books: Value = http
        .get(format!("{mock}/_mock/books"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(books["total"]["billed"], 1, "{books}");
    stack.shutdown().await;
}
