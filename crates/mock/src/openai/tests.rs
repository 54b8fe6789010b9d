//! The router called in-process: shapes, usage, determinism, streaming, limits.

use axum::body::Body;
use axum::response::Response;
use gatebench_wire::openai::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, EmbeddingResponse, EmbeddingVector,
    FinishReason, ModelList,
};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::capacity::CapacityConfig;
use crate::faults::FaultSpec;
use crate::ratelimit::RateLimitConfig;

fn app(profile: &OpenAiProfile, seed: u64) -> MockApp {
    router(profile, seed, 0.0, &Control::default())
}

async fn send(app: &MockApp, method: &str, path: &str, body: Option<Value>) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    app.clone().oneshot(request).await.unwrap()
}

async fn json_of(response: Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn chat(app: &MockApp, body: Value) -> ChatCompletion {
    let response = send(app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_value(json_of(response).await).unwrap()
}

fn story(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You tell gentle stories to children."},
            {"role": "user", "content": "Tell me a bedtime story about a brave rabbit."}
        ]
    })
}

#[tokio::test]
async fn a_completion_has_the_api_s_shape_and_real_counts() {
    let app = app(&OpenAiProfile::default(), 1);
    let response = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(story("gpt-4o-mini")),
    )
    .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-ratelimit-limit-requests"], "30000");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "29999");
    assert!(headers.contains_key("x-ratelimit-remaining-tokens"));
    assert!(
        headers["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let value = json_of(response).await;
    assert_eq!(value["object"], "chat.completion");
    assert!(value["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(value["choices"][0]["message"]["role"], "assistant");
    assert_eq!(value["choices"][0]["logprobs"], Value::Null);
    assert_eq!(
        value["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    let completion: ChatCompletion = serde_json::from_value(value).unwrap();
    let usage = completion.usage.clone().unwrap();
    let request: ChatCompletionRequest = serde_json::from_value(story("gpt-4o-mini")).unwrap();
    assert_eq!(
        usage.prompt_tokens as usize,
        count_chat_prompt(Encoding::O200kBase, &request)
    );
    let text = completion.text().unwrap();
    assert_eq!(
        usage.completion_tokens as usize,
        Encoding::O200kBase.count(text)
    );
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    assert_eq!(usage.cached_tokens(), 0);
    assert_eq!(usage.prompt_cache_hit_tokens, None, "not a DeepSeek model");
}

#[tokio::test]
async fn the_same_request_gets_the_same_text_on_another_mock_with_the_same_seed() {
    let a = chat(&app(&OpenAiProfile::default(), 7), story("gpt-4o")).await;
    let b = chat(&app(&OpenAiProfile::default(), 7), story("gpt-4o")).await;
    let other_run = chat(&app(&OpenAiProfile::default(), 8), story("gpt-4o")).await;
    assert_eq!(a.text(), b.text());
    assert_ne!(a.text(), other_run.text());
    let mut seeded = story("gpt-4o");
    seeded["seed"] = json!(12345);
    let c = chat(&app(&OpenAiProfile::default(), 7), seeded).await;
    assert_ne!(a.text(), c.text(), "the request's seed changes the answer");
}

#[tokio::test]
async fn n_choices_differ_and_their_tokens_add_up() {
    let app = app(&OpenAiProfile::default(), 2);
    let mut body = story("gpt-3.5-turbo");
    body["n"] = json!(3);
    let completion = chat(&app, body).await;
    assert_eq!(completion.choices.len(), 3);
    let texts: Vec<&str> = completion
        .choices
        .iter()
        .map(|c| c.message.content.as_deref().unwrap())
        .collect();
    assert_ne!(texts[0], texts[1]);
    let sum: usize = texts.iter().map(|t| Encoding::Cl100kBase.count(t)).sum();
    assert_eq!(completion.usage.unwrap().completion_tokens as usize, sum);
}

#[tokio::test]
async fn max_tokens_cuts_with_finish_reason_length() {
    let app = app(&OpenAiProfile::default(), 3);
    for field in ["max_tokens", "max_completion_tokens"] {
        let mut body = story("gpt-4o");
        body[field] = json!(5);
        let completion = chat(&app, body).await;
        assert_eq!(
            completion.choices[0].finish_reason,
            Some(FinishReason::Length)
        );
        assert_eq!(completion.usage.unwrap().completion_tokens, 5);
    }
}

#[tokio::test]
async fn the_health_probe_answers_200_and_is_not_booked() {
    let profile = OpenAiProfile {
        faults: FaultSpec {
            unavailable: 1.0,
            ..FaultSpec::default()
        },
        ..OpenAiProfile::default()
    };
    let app = app(&profile, 0);
    let response = send(&app, "GET", "/health", None).await;
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(bytes.is_empty());
    let books = json_of(send(&app, "GET", "/_mock/books", None).await).await;
    assert_eq!(books["total"]["calls"], 0, "{books}");
}

#[tokio::test]
async fn unknown_models_get_model_not_found() {
    let app = app(&OpenAiProfile::default(), 0);
    for (path, body) in [
        ("/v1/chat/completions", story("gpt-9")),
        (
            "/v1/embeddings",
            json!({"model": "gpt-9", "input": "hello"}),
        ),
    ] {
        let response = send(&app, "POST", path, Some(body)).await;
        assert_eq!(response.status(), 404);
        let error = json_of(response).await;
        assert_eq!(error["error"]["code"], "model_not_found");
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
    let response = send(&app, "GET", "/v1/models/gpt-9", None).await;
    assert_eq!(response.status(), 404);
    // a megabyte of model name is refused as too long, and not echoed back
    let huge = "m".repeat(1 << 20);
    let response = send(&app, "POST", "/v1/chat/completions", Some(story(&huge))).await;
    assert_eq!(response.status(), 400);
    let error = json_of(response).await;
    assert_eq!(error["error"]["code"], "string_above_max_length");
    assert!(
        error.to_string().len() < 1024,
        "{}",
        error.to_string().len()
    );
}

#[tokio::test]
async fn models_are_listed_and_retrieved() {
    let app = app(&OpenAiProfile::default(), 0);
    let list: ModelList =
        serde_json::from_value(json_of(send(&app, "GET", "/v1/models", None).await).await).unwrap();
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    for id in [
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-3.5-turbo",
        "gpt-4",
        "deepseek-chat",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let one = json_of(send(&app, "GET", "/v1/models/deepseek-chat", None).await).await;
    assert_eq!(one["owned_by"], "deepseek");
    assert_eq!(one["object"], "model");
}

fn sse_chunks(body: &str) -> (Vec<ChatCompletionChunk>, bool) {
    let mut chunks = Vec::new();
    let mut done = false;
    for event in body.split("\n\n").filter(|e| !e.is_empty()) {
        let data = event.strip_prefix("data: ").expect("every event is data");
        if data == "[DONE]" {
            done = true;
        } else {
            chunks.push(serde_json::from_str(data).unwrap());
        }
    }
    (chunks, done)
}

#[tokio::test]
async fn a_stream_sends_role_tokens_finish_usage_and_done() {
    let app = app(&OpenAiProfile::default(), 4);
    let mut body = story("gpt-4o-mini");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = send(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(response.headers().contains_key("x-ratelimit-limit-tokens"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    // Every chunk but the last has `"usage":null`.
    let raw_events = text.matches("\"usage\":null").count();
    let (chunks, done) = sse_chunks(&text);
    assert!(done);
    assert_eq!(raw_events, chunks.len() - 1);
    let first = &chunks[0].choices[0].delta;
    assert_eq!(first.role, Some(gatebench_wire::openai::Role::Assistant));
    assert_eq!(first.content.as_deref(), Some(""));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let usage = last.usage().unwrap();
    let finish = &chunks[chunks.len() - 2].choices[0];
    assert_eq!(finish.finish_reason, Some(FinishReason::Stop));
    let content: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    assert_eq!(
        usage.completion_tokens as usize,
        Encoding::O200kBase.count(&content)
    );
    let content_chunks = chunks.len() - 3;
    assert_eq!(
        content_chunks, usage.completion_tokens as usize,
        "one token per chunk"
    );
    // The streamed text is the text of the same request unstreamed.
    let whole = chat(&app, story("gpt-4o-mini")).await;
    assert_eq!(whole.text(), Some(content.as_str()));
}

#[tokio::test]
async fn a_stream_without_include_usage_has_no_usage_field() {
    let app = app(&OpenAiProfile::default(), 5);
    let mut body = story("gpt-4");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(3);
    let response = send(&app, "POST", "/v1/chat/completions", Some(body)).await;
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(!text.contains("\"usage\""));
    let (chunks, done) = sse_chunks(&text);
    assert!(done);
    assert_eq!(
        chunks.last().unwrap().choices[0].finish_reason,
        Some(FinishReason::Length)
    );
}

#[tokio::test]
async fn a_stream_cut_fault_ends_the_body_with_an_error_and_no_done() {
    let profile = OpenAiProfile {
        faults: FaultSpec {
            stream_cut: 1.0,
            ..FaultSpec::default()
        },
        ..OpenAiProfile::default()
    };
    let app = app(&profile, 6);
    let mut body = story("gpt-4o");
    body["stream"] = json!(true);
    let response = send(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(response.status(), 200);
    let (received, failed) = read_until_error(response).await;
    assert!(failed, "the body ends with an error");
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("data: "));
    assert!(!text.contains("[DONE]"));
}

/// The body's bytes up to its end or its first error, and whether it failed.
async fn read_until_error(response: Response) -> (Vec<u8>, bool) {
    let mut stream = response.into_body().into_data_stream();
    let mut received = Vec::new();
    while let Some(frame) = futures::StreamExt::next(&mut stream).await {
        match frame {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => return (received, true),
        }
    }
    (received, false)
}

fn long_conversation(model: &str) -> Value {
    let background = "The customer wrote to us about a parcel that did not arrive. ".repeat(160);
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": background},
            {"role": "user", "content": "Where is my order?"}
        ]
    })
}

#[tokio::test]
async fn a_repeated_long_prompt_is_billed_as_cached_in_128_token_steps() {
    let app = app(&OpenAiProfile::default(), 9);
    let first = chat(&app, long_conversation("gpt-4o")).await.usage.unwrap();
    assert!(first.prompt_tokens >= 1024, "{}", first.prompt_tokens);
    assert_eq!(first.cached_tokens(), 0);
    let second = chat(&app, long_conversation("gpt-4o")).await.usage.unwrap();
    let expected = 1024 + (first.prompt_tokens - 1024) / 128 * 128;
    assert_eq!(second.cached_tokens(), expected);
    // DeepSeek models report their cache in DeepSeek's fields too.
    chat(&app, long_conversation("deepseek-chat")).await;
    let deepseek = chat(&app, long_conversation("deepseek-chat"))
        .await
        .usage
        .unwrap();
    let hit = deepseek.prompt_cache_hit_tokens.unwrap();
    assert!(hit >= 1024);
    assert_eq!(
        hit + deepseek.prompt_cache_miss_tokens.unwrap(),
        deepseek.prompt_tokens
    );
}

#[tokio::test]
async fn embeddings_come_as_floats_or_base64_and_shorten_on_request() {
    let app = app(&OpenAiProfile::default(), 10);
    let body =
        json!({"model": "text-embedding-3-small", "input": ["a red apple", "a green apple"]});
    let response = send(&app, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(response.status(), 200);
    let floats: EmbeddingResponse = serde_json::from_value(json_of(response).await).unwrap();
    assert_eq!(floats.data.len(), 2);
    assert_eq!(floats.usage.prompt_tokens, 6);
    let EmbeddingVector::Float(v) = &floats.data[0].embedding else {
        panic!("floats asked for");
    };
    assert_eq!(v.len(), 1536);
    let body = json!({
        "model": "text-embedding-3-small",
        "input": "a red apple",
        "encoding_format": "base64",
        "dimensions": 256
    });
    let b64: EmbeddingResponse = serde_json::from_value(
        json_of(send(&app, "POST", "/v1/embeddings", Some(body)).await).await,
    )
    .unwrap();
    let EmbeddingVector::Base64(text) = &b64.data[0].embedding else {
        panic!("base64 asked for");
    };
    let short = decode_base64(text).unwrap();
    assert_eq!(short, shorten(v.clone(), 256));
    let body = json!({"model": "text-embedding-ada-002", "input": "x", "dimensions": 256});
    let response = send(&app, "POST", "/v1/embeddings", Some(body)).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_rate_limit_refuses_with_openai_s_wording_and_headers() {
    let profile = OpenAiProfile {
        rate_limits: RateLimitConfig {
            requests_per_minute: 2,
            ..RateLimitConfig::default()
        },
        ..OpenAiProfile::default()
    };
    let app = app(&profile, 11);
    chat(&app, story("gpt-4o-mini")).await;
    chat(&app, story("gpt-4o-mini")).await;
    let response = send(
        &app,
        "POST",
        "/v1/chat/completions",
        Some(story("gpt-4o-mini")),
    )
    .await;
    assert_eq!(response.status(), 429);
    let h = response.headers().clone();
    assert!(h.contains_key("retry-after") && h.contains_key("retry-after-ms"));
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    let error = json_of(response).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Rate limit reached for gpt-4o-mini in organization org-gatebench on requests per min (RPM): Limit 2, Used 2, Requested 1. Please try again in "
        ),
        "{message}"
    );
    // Limits are per model: another model still has its own bucket.
    chat(&app, story("gpt-4o")).await;
}

#[tokio::test]
async fn past_the_hard_limit_requests_get_503() {
    let profile = OpenAiProfile {
        capacity: CapacityConfig {
            soft_limit: 1,
            hard_limit: 1,
            slope: 1.0,
        },
        ..OpenAiProfile::default()
    };
    let app = app(&profile, 12);
    let mut body = story("gpt-4o");
    body["stream"] = json!(true);
    // An open stream holds its slot until its body is dropped.
    let open = send(&app, "POST", "/v1/chat/completions", Some(body)).await;
    assert_eq!(open.status(), 200);
    let refused = send(&app, "POST", "/v1/chat/completions", Some(story("gpt-4o"))).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(json_of(refused).await["error"]["type"], "server_error");
    drop(open);
    chat(&app, story("gpt-4o")).await;
}

#[tokio::test]
async fn bad_bodies_get_400_in_openai_s_shape() {
    let app = app(&OpenAiProfile::default(), 13);
    let cases: Vec<(&str, Body)> = vec![
        ("malformed", Body::from("{\"model\": ")),
        ("invalid utf-8", Body::from(vec![0x7b, 0xff, 0xfe, 0x7d])),
        ("wrong type", Body::from(r#"{"model": 5, "messages": []}"#)),
        ("missing", Body::from(r#"{"model": "gpt-4o"}"#)),
        ("empty", Body::empty()),
    ];
    for (what, body) in cases {
        let request = Request::builder()
            .method("POST")
            .uri("/v1/chat/completions")
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 400, "{what}");
        let error = json_of(response).await;
        assert_eq!(error["error"]["type"], "invalid_request_error", "{what}");
        assert!(error["error"].get("code").is_some(), "{what}");
    }
}

#[test]
fn a_repeated_request_is_served_from_the_memo_of_written_answers() {
    let mock = OpenAiMock::new(&OpenAiProfile::default(), 14, 0.0);
    let model = mock.chat_model("gpt-4o").unwrap().clone();
    let request: ChatCompletionRequest = serde_json::from_value(story("gpt-4o")).unwrap();
    let first = plan(&mock, &request, &model).unwrap();
    let again = plan(&mock, &request, &model).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first.choices, &again.choices));
    // A cap is part of the memo key: the capped answer is written, not reused.
    let capped = ChatCompletionRequest {
        max_tokens: Some(4),
        ..request.clone()
    };
    let capped = plan(&mock, &capped, &model).unwrap();
    assert_eq!(capped.choices[0].tokens, 4);
    assert!(first.choices[0].text.starts_with(&capped.choices[0].text));
    // A fresh mock with the same seed writes the same answer.
    let fresh = OpenAiMock::new(&OpenAiProfile::default(), 14, 0.0);
    assert_eq!(
        plan(&fresh, &request, &model).unwrap().choices,
        first.choices
    );
}

#[tokio::test]
async fn a_cut_response_stream_bills_what_went_out() {
    let profile = OpenAiProfile {
        faults: FaultSpec {
            stream_cut: 1.0,
            ..FaultSpec::default()
        },
        ..OpenAiProfile::default()
    };
    let app = app(&profile, 15);
    let body = json!({"model": "gpt-4o", "input": "Tell me a long story about a brave rabbit.", "stream": true});
    let response = send(&app, "POST", "/v1/responses", Some(body)).await;
    assert_eq!(response.status(), 200);
    let (received, failed) = read_until_error(response).await;
    assert!(failed, "the body ends with an error");
    let text = String::from_utf8(received).unwrap();
    assert!(text.starts_with("event: response.created\ndata: "));
    assert!(!text.contains("response.completed"));
    let delivered: String = text
        .split("\n\n")
        .filter_map(|event| event.split_once("\ndata: "))
        .map(|(_, data)| serde_json::from_str::<Value>(data).unwrap())
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap().to_owned())
        .collect();
    assert!(!delivered.is_empty(), "the cut comes after some text");
    let page = json_of(send(&app, "GET", "/_mock/calls", None).await).await;
    let call = &page["data"][0];
    assert_eq!(call["route"], "/v1/responses");
    assert_eq!(call["complete"], false);
    assert_eq!(call["billed"], true, "a cut stream bills what went out");
    assert_eq!(
        call["usage"]["output_tokens"],
        Encoding::O200kBase.count(&delivered)
    );
}

/// `text` without the times it holds (`"created":SECONDS`), which two runs of the
/// same requests need not share.
fn timeless(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\"created\":") {
        let (head, tail) = rest.split_at(at + "\"created\":".len());
        out.push_str(head);
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// The chat `POST` is served ahead of the router, which keeps the route: over
/// HTTP, both answer a run of requests alike (statuses, headers, bodies to the
/// byte but for the time) and count them alike, and the route's other methods
/// still get 405.
#[tokio::test]
async fn chat_ahead_of_the_router_answers_as_through_it() {
    use crate::server::{self, ServerOptions};

    let profile = OpenAiProfile::default();
    let serve = |app: MockApp| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let handle = server::spawn(listener, app, ServerOptions::default()).unwrap();
        (format!("http://{}", handle.addr()), handle)
    };
    let (through, _through) = serve(super::app(
        OpenAiMock::new(&profile, 3, 0.0),
        &Control::default(),
        None,
    ));
    let (ahead, _ahead) = serve(app(&profile, 3));
    let client = gatebench_tls::http_client().build().unwrap();
    let mut streamed = story("gpt-4o-mini");
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let mut undocumented = story("gpt-4o-mini");
    undocumented["foo"] = json!(1);
    let bodies = [
        story("gpt-4o-mini"),
        story("gpt-4o-mini"),
        streamed,
        undocumented,
        json!({"model": 5, "messages": []}),
        json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}),
    ];
    let answer = |url: &str, body: &Value| {
        let sent = client
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth("sk-test")
            .json(body)
            .send();
        async move {
            let response = sent.await.unwrap();
            let mut headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| !["date", "openai-processing-ms"].contains(&name.as_str()))
                .map(|(name, value)| {
                    // the buckets refill with time between the two requests
                    let value = match name.as_str() {
                        n if n.starts_with("x-ratelimit-remaining-") => "",
                        n if n.starts_with("x-ratelimit-reset-") => "",
                        _ => value.to_str().unwrap(),
                    };
                    (name.to_string(), value.to_owned())
                })
                .collect();
            headers.sort();
            let status = response.status();
            (status, headers, timeless(&response.text().await.unwrap()))
        }
    };
    for body in &bodies {
        let one = answer(&through, body).await;
        let other = answer(&ahead, body).await;
        assert_eq!(one, other, "{body}");
    }
    let stats = |url: String| {
        let got = client.get(format!("{url}/_mock/stats")).send();
        async move { got.await.unwrap().json::<Value>().await.unwrap() }
    };
    let counted = stats(ahead.clone()).await;
    assert_eq!(
        counted["by_route"],
        json!({"/v1/chat/completions": {"ok": 3, "client_error": 3}})
    );
    assert_eq!(stats(through).await["by_route"], counted["by_route"]);
    let get = client.get(format!("{ahead}/v1/chat/completions")).send();
    assert_eq!(get.await.unwrap().status(), 405);
}

/// A capacity slope too steep for a `Duration` stretches every wait to the longest
/// delay: a request past the soft limit is answered on every route, not dropped by
/// a panicking handler.
#[tokio::test]
async fn a_steep_capacity_slope_slows_requests_without_panicking_them() {
    let profile = OpenAiProfile {
        capacity: crate::capacity::STEEP,
        ..OpenAiProfile::default()
    };
    let mock = OpenAiMock::new(&profile, 16, crate::capacity::STEEP_TIME_SCALE);
    let _in_flight = ["gpt-4o-mini", "text-embedding-3-small"].map(|m| mock.core.enter(m).unwrap());
    let app = served(Arc::clone(&mock), &Control::default());
    let mut streamed = story("gpt-4o-mini");
    streamed["stream"] = json!(true);
    let requests = [
        ("/v1/chat/completions", story("gpt-4o-mini")),
        ("/v1/chat/completions", streamed),
        (
            "/v1/completions",
            json!({"model": "gpt-4o-mini", "prompt": "Once upon a time", "max_tokens": 16}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "Tell me a story."}),
        ),
        (
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": "a red apple"}),
        ),
    ];
    for (path, body) in requests {
        let response = send(&app, "POST", path, Some(body)).await;
        assert_eq!(response.status(), 200, "{path}");
        let (_, failed) = read_until_error(response).await;
        assert!(!failed, "{path}: the body ends normally");
    }
}

/// Identical requests share their written answer, not their tool calls' ids: the
/// API gives every call a new one, on chat and on the Responses API.
#[tokio::test]
async fn every_tool_call_has_an_id_of_its_own() {
    let app = app(&OpenAiProfile::default(), 19);
    let parameters =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let chat = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": parameters}}],
        "tool_choice": "required",
    });
    let responses = json!({
        "model": "gpt-4o-mini",
        "input": "Weather in Paris?",
        "tools": [{"type": "function", "name": "get_weather", "parameters": parameters}],
        "tool_choice": "required",
    });
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer =
            json_of(send(&app, "POST", "/v1/chat/completions", Some(chat.clone())).await).await;
        let call = &answer["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather", "{answer}");
        ids.push(call["id"].as_str().unwrap().to_owned());
        let answer =
            json_of(send(&app, "POST", "/v1/responses", Some(responses.clone())).await).await;
        assert_eq!(answer["output"][0]["type"], "function_call", "{answer}");
        ids.push(answer["output"][0]["call_id"].as_str().unwrap().to_owned());
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{ids:?}");
    assert!(
        ids.iter()
            .all(|id| id.starts_with("call_") && id.len() == 29),
        "{ids:?}"
    );
}

/// A legacy completion prompt sent as token ids is billed as those tokens, not as
/// the tokens of its decoded text again (ids 64..67 decode to one word).
#[tokio::test]
async fn a_prompt_of_token_ids_is_billed_by_its_ids() {
    let app = app(&OpenAiProfile::default(), 18);
    for (prompt, expected) in [
        (json!([64, 65, 66, 67]), 4),
        (json!([[64, 65], [66, 67, 68]]), 5),
    ] {
        let body = json!({"model": "gpt-3.5-turbo", "prompt": prompt, "max_tokens": 1});
        let response = send(&app, "POST", "/v1/completions", Some(body)).await;
        assert_eq!(response.status(), 200, "{prompt}");
        let completion = json_of(response).await;
        assert_eq!(completion["usage"]["prompt_tokens"], expected, "{prompt}");
    }
}

/// A request's `dimensions` may shorten the model's vectors, never lengthen them:
/// more than the model has, or a number no vector could have, is the API's 400, and
/// nothing is allocated for it.
#[tokio::test]
async fn embedding_dimensions_beyond_the_model_s_are_refused() {
    let app = app(&OpenAiProfile::default(), 17);
    for dimensions in [
        json!(1537),
        json!(4_294_967_295_u64),
        json!(i64::MAX),
        json!(-1),
        json!(1e300),
    ] {
        let body =
            json!({"model": "text-embedding-3-small", "input": "hi", "dimensions": dimensions});
        let response = send(&app, "POST", "/v1/embeddings", Some(body)).await;
        assert_eq!(response.status(), 400, "{dimensions}");
        let error = json_of(response).await;
        assert_eq!(
            error["error"]["type"], "invalid_request_error",
            "{dimensions}"
        );
        assert!(error["error"]["message"].is_string(), "{dimensions}");
    }
}

/// A response echoes the settings it was made with, `text.format` always stated.
#[tokio::test]
async fn a_response_echoes_its_truncation_and_text_settings() {
    let app = app(&OpenAiProfile::default(), 20);
    let body = json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 16,
        "truncation": "auto", "text": {"verbosity": "low"}});
    let response = json_of(send(&app, "POST", "/v1/responses", Some(body)).await).await;
    assert_eq!(response["truncation"], "auto", "{response}");
    assert_eq!(
        response["text"],
        json!({"format": {"type": "text"}, "verbosity": "low"})
    );
    let plain = json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 16});
    let response = json_of(send(&app, "POST", "/v1/responses", Some(plain)).await).await;
    assert_eq!(response["truncation"], "disabled");
    assert_eq!(response["text"], json!({"format": {"type": "text"}}));
    let bad = json!({"model": "gpt-4o-mini", "input": "hi", "truncation": "sometimes"});
    let response = send(&app, "POST", "/v1/responses", Some(bad)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json_of(response).await["error"]["param"], "truncation");
}

#[tokio::test]
async fn a_streamed_response_is_stored_as_it_will_end() {
    let app = app(&OpenAiProfile::default(), 16);
    let body = json!({"model": "gpt-4o", "input": "Tell me about owls.", "stream": true});
    let response = send(&app, "POST", "/v1/responses", Some(body)).await;
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let completed: Value = text
        .split("\n\n")
        .filter_map(|event| event.split_once("\ndata: "))
        .map(|(_, data)| serde_json::from_str::<Value>(data).unwrap())
        .find(|e| e["type"] == "response.completed")
        .unwrap();
    let id = completed["response"]["id"].as_str().unwrap();
    let fetched = json_of(send(&app, "GET", &format!("/v1/responses/{id}"), None).await).await;
    assert_eq!(fetched["status"], "completed");
    assert_eq!(fetched["output"], completed["response"]["output"]);
    assert_eq!(fetched["usage"], completed["response"]["usage"]);
    // a reset forgets every stored response
    let reset = send(&app, "POST", "/_mock/reset", None).await;
    assert!(reset.status().is_success(), "{}", reset.status());
    let gone = send(&app, "GET", &format!("/v1/responses/{id}"), None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}
