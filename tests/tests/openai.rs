//! The OpenAI-compatible mock end to end: a real server on loopback, driven by
//! `async-openai` as an independent client and by reqwest for the raw HTTP cases.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageArgs,
    ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs, FinishReason,
};
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EncodingFormat};
use base64::Engine as _;
use futures::StreamExt as _;
use gatebench_mock::openai::OpenAiProfile;
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use serde_json::{Value, json};

const SEED: u64 = 2024;

async fn start(openai: OpenAiProfile, seed: u64) -> (RunningMocks, String) {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed,
        profile: Profile {
            openai,
            ..Profile::default()
        },
        ..MockOptions::default()
    })
    .await
    .expect("mocks start");
    let url = mocks.url("openai").expect("the openai mock runs");
    (mocks, url)
}

fn client(url: &str) -> Client<OpenAIConfig> {
    Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{url}/v1"))
            .with_api_key("sk-test"),
    )
}

fn messages(system: &str, user: &str) -> Vec<ChatCompletionRequestMessage> {
    vec![
        ChatCompletionRequestSystemMessageArgs::default()
            .content(system)
            .build()
            .unwrap()
            .into(),
        ChatCompletionRequestUserMessageArgs::default()
            .content(user)
            .build()
            .unwrap()
            .into(),
    ]
}

fn story_request(model: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model(model)
        .messages(messages(
            "You tell short, gentle stories to young children.",
            "Tell me a bedtime story about a brave little dragon.",
        ))
        .build()
        .unwrap()
}

fn o200k_count(text: &str) -> usize {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len()
}

#[tokio::test]
async fn async_openai_gets_a_completion_with_real_token_counts() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let response = client(&url)
        .chat()
        .create(story_request("gpt-4o-mini"))
        .await
        .expect("the SDK accepts the completion");
    assert_eq!(response.object, "chat.completion");
    assert_eq!(response.model, "gpt-4o-mini");
    let choice = &response.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    let text = choice.message.content.clone().unwrap();
    assert!(text.split_whitespace().count() > 10, "{text}");
    let usage = response.usage.unwrap();
    assert_eq!(usage.completion_tokens as usize, o200k_count(&text));
    // Two messages: 3 framing tokens each, role and content, 3 to prime the reply.
    let expected_prompt = 3
        + o200k_count("system")
        + o200k_count("You tell short, gentle stories to young children.")
        + 3
        + o200k_count("user")
        + o200k_count("Tell me a bedtime story about a brave little dragon.")
        + 3;
    assert_eq!(usage.prompt_tokens as usize, expected_prompt);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    let details = usage.prompt_tokens_details.unwrap();
    assert_eq!(details.cached_tokens, Some(0));
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_stream_delivers_tokens_then_the_usage_chunk() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let mut request = story_request("gpt-4o");
    request.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    let mut stream = client(&url)
        .chat()
        .create_stream(request)
        .await
        .expect("the stream opens");
    let mut content = String::new();
    let mut usage = None;
    let mut chunks = 0;
    let mut finish = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("every chunk parses");
        chunks += 1;
        for choice in &chunk.choices {
            if let Some(piece) = &choice.delta.content {
                content.push_str(piece);
            }
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
        if let Some(u) = chunk.usage {
            assert!(chunk.choices.is_empty(), "the usage chunk has no choices");
            usage = Some(u);
        }
    }
    let usage = usage.expect("the usage chunk arrives");
    assert_eq!(finish, Some(FinishReason::Stop));
    assert_eq!(usage.completion_tokens as usize, o200k_count(&content));
    assert!(
        chunks as u32 >= usage.completion_tokens,
        "about one token per chunk"
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn embeddings_arrive_as_floats_and_as_base64() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let client = client(&url);
    let floats = client
        .embeddings()
        .create(
            CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-small")
                .input(vec!["The cat sat on the mat.", "Refund my order, please."])
                .build()
                .unwrap(),
        )
        .await
        .expect("float embeddings");
    assert_eq!(floats.data.len(), 2);
    let vector = &floats.data[0].embedding;
    assert_eq!(vector.len(), 1536);
    let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    let cl100k = tiktoken_rs::cl100k_base_singleton();
    let tokens = cl100k.encode_ordinary("The cat sat on the mat.").len()
        + cl100k.encode_ordinary("Refund my order, please.").len();
    assert_eq!(floats.usage.prompt_tokens as usize, tokens);

    let encoded = client
        .embeddings()
        .create_base64(
            CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-small")
                .input("The cat sat on the mat.")
                .encoding_format(EncodingFormat::Base64)
                .build()
                .unwrap(),
        )
        .await
        .expect("base64 embeddings");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&encoded.data[0].embedding.0)
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(&decoded, vector, "the same vector, little-endian f32");

    let short = client
        .embeddings()
        .create(
            CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-large")
                .input("The cat sat on the mat.")
                .dimensions(256u32)
                .build()
                .unwrap(),
        )
        .await
        .expect("shortened embeddings");
    assert_eq!(short.data[0].embedding.len(), 256);
    mocks.shutdown().await;
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn a_paraphrase_scores_far_above_an_unrelated_sentence() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let response = client(&url)
        .embeddings()
        .create(
            CreateEmbeddingRequestArgs::default()
                .model("text-embedding-3-small")
                .input(vec![
                    "How do I reset my account password?",
                    "How can I reset my account password?",
                    "Dragons sleep in caves under snowy mountains.",
                ])
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let v: Vec<&Vec<f32>> = response.data.iter().map(|d| &d.embedding).collect();
    let paraphrase = cosine(v[0], v[1]);
    let unrelated = cosine(v[0], v[2]);
    assert!(
        paraphrase > 0.6 && paraphrase - unrelated > 0.4,
        "paraphrase {paraphrase}, unrelated {unrelated}"
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn models_are_listed_for_the_sdk() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let client = client(&url);
    let list = client.models().list().await.expect("the model list parses");
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    for id in [
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-3.5-turbo",
        "deepseek-chat",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    let one = client.models().retrieve("deepseek-chat").await.unwrap();
    assert_eq!(one.owned_by, "deepseek");
    mocks.shutdown().await;
}

async fn post_raw(url: &str, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    gatebench_tls::client()
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test")
        .body(body)
        .send()
        .await
        .expect("the mock answers")
}

/// Status and `error` object; fails unless the body has OpenAI's error shape.
async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("an error body is JSON");
    let error = body["error"].clone();
    for field in ["message", "type", "param", "code"] {
        assert!(error.get(field).is_some(), "`{field}` missing in {body}");
    }
    assert!(error["message"].is_string() && error["type"].is_string());
    assert!(error["code"].is_string() || error["code"].is_null());
    (status, error)
}

/// A request the mock must refuse, and how.
struct BadRequest {
    what: &'static str,
    path: &'static str,
    body: Vec<u8>,
    status: u16,
    param: Option<&'static str>,
}

#[tokio::test]
async fn bad_requests_get_the_right_status_in_openai_s_error_shape() {
    let profile = OpenAiProfile {
        body_limit: 64 * 1024,
        ..OpenAiProfile::default()
    };
    let (mocks, url) = start(profile, SEED).await;
    let chat = "/v1/chat/completions";
    let case = |what, path, body: &[u8], status, param| BadRequest {
        what,
        path,
        body: body.to_vec(),
        status,
        param,
    };
    let huge = vec![b' '; 200 * 1024];
    let cases = [
        case("malformed JSON", chat, b"{\"model\": \"gpt-4o\",", 400, None),
        case(
            "invalid UTF-8",
            chat,
            b"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"\xff\xfe\"}]}",
            400,
            None,
        ),
        case(
            "wrong type",
            chat,
            br#"{"model": "gpt-4o", "messages": "hello"}"#,
            400,
            Some("messages"),
        ),
        case(
            "missing field",
            chat,
            br#"{"model": "gpt-4o"}"#,
            400,
            Some("messages"),
        ),
        case(
            "a bias out of range",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"1": 500}}"#,
            400,
            Some("logit_bias"),
        ),
        case(
            "tool calls left unanswered",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "time?"}, {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}]}"#,
            400,
            Some("messages.[1].role"),
        ),
        case(
            "a tool result answering nothing",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]}"#,
            400,
            Some("messages.[1].role"),
        ),
        case(
            "a tool result answering another call",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "time?"}, {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "call_2", "content": "noon"}]}"#,
            400,
            Some("messages.[2].tool_call_id"),
        ),
        case(
            "a question after unanswered calls",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "time?"}, {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}, {"role": "user", "content": "well?"}]}"#,
            400,
            Some("messages.[1].role"),
        ),
        case(
            "temperature out of range",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 7}"#,
            400,
            Some("temperature"),
        ),
        case(
            "unknown chat model",
            chat,
            br#"{"model": "gpt-99", "messages": [{"role": "user", "content": "hi"}]}"#,
            404,
            None,
        ),
        case(
            "unknown embedding model",
            "/v1/embeddings",
            br#"{"model": "embed-99", "input": "hi"}"#,
            404,
            None,
        ),
        case(
            "empty embedding input",
            "/v1/embeddings",
            br#"{"model": "text-embedding-3-small", "input": ""}"#,
            400,
            Some("input"),
        ),
        case("huge body", chat, &huge, 413, None),
        // serde would read these as the request's fields in order
        case(
            "an array for a chat request",
            chat,
            br#"["gpt-4o-mini", [{"role": "user", "content": "hi"}]]"#,
            400,
            None,
        ),
        case(
            "an array for an embeddings request",
            "/v1/embeddings",
            br#"["text-embedding-3-small", "hello"]"#,
            400,
            None,
        ),
        case(
            "an array for a response",
            "/v1/responses",
            br#"["gpt-4o-mini", "hi"]"#,
            400,
            None,
        ),
        case(
            "an array for a text completion",
            "/v1/completions",
            br#"["gpt-3.5-turbo-instruct", "hi"]"#,
            400,
            None,
        ),
        case("null for a chat request", chat, b"null", 400, None),
        case(
            "an input of none of its types",
            "/v1/responses",
            br#"{"model": "gpt-4o-mini", "input": 5}"#,
            400,
            Some("input"),
        ),
        // each API's tools in the other's shape, as code moved between them has it
        case(
            "a chat tool in the Responses API's shape",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]}"#,
            400,
            Some("tools[0].function"),
        ),
        case(
            "a Responses tool in chat's shape",
            "/v1/responses",
            br#"{"model": "gpt-4o", "input": "x", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}], "tool_choice": "required"}"#,
            400,
            Some("tools[0].name"),
        ),
        case(
            "a function name with spaces",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "bad name!"}}]}"#,
            400,
            Some("tools[0].function.name"),
        ),
        case(
            "a Responses function name too long",
            "/v1/responses",
            format!(r#"{{"model": "gpt-4o", "input": "x", "tools": [{{"type": "function", "name": "{}"}}]}}"#, "f".repeat(65)).as_bytes(),
            400,
            Some("tools[0].name"),
        ),
        // strict mode takes closed schemas that require every property
        case(
            "a strict response format that is not closed",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "R", "strict": true, "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}}}"#,
            400,
            Some("response_format"),
        ),
        case(
            "a strict tool with an optional property",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f", "strict": true, "parameters": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a"], "additionalProperties": false}}}]}"#,
            400,
            Some("tools[0].function.parameters"),
        ),
        case(
            "a word for a token id in logit_bias",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "logit_bias": {"AI": 10}}"#,
            400,
            Some("logit_bias"),
        ),
        case(
            "top_logprobs without logprobs",
            chat,
            br#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "top_logprobs": 3}"#,
            400,
            Some("top_logprobs"),
        ),
        case(
            "a key given twice",
            chat,
            br#"{"model": "gpt-4o", "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#,
            400,
            None,
        ),
    ];
    for BadRequest {
        what,
        path,
        body,
        status,
        param,
    } in cases
    {
        let (got, error) = error_of(post_raw(&url, path, body).await).await;
        assert_eq!(got, status, "{what}: {error}");
        if let Some(param) = param {
            assert_eq!(error["param"], param, "{what}: {error}");
        }
        if status == 404 {
            assert_eq!(error["code"], "model_not_found", "{what}");
        }
        // the names of the mock's own types mean nothing to a caller
        let message = error["message"].as_str().unwrap();
        assert!(
            !message.contains("struct ") && !message.contains("enum "),
            "{what}: {message}"
        );
        if what == "a key given twice" {
            assert!(error["param"].is_null(), "{what}: {error}");
        }
        if what.starts_with("an array") || what.starts_with("null") {
            assert_eq!(
                error["message"], "The request body must be a JSON object.",
                "{what}"
            );
        }
    }
    // The mock is still healthy after all that.
    let health = gatebench_tls::client()
        .get(format!("{url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_profile_that_requires_a_key_refuses_requests_without_one() {
    let profile = OpenAiProfile {
        require_key: true,
        ..OpenAiProfile::default()
    };
    let (mocks, url) = start(profile, SEED).await;
    let response = gatebench_tls::client()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 401);
    assert_eq!(error["type"], "invalid_request_error");
    client(&url)
        .chat()
        .create(story_request("gpt-4o"))
        .await
        .expect("a key gets in");
    mocks.shutdown().await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let profile = OpenAiProfile {
        rate_limits: gatebench_mock::ratelimit::RateLimitConfig {
            requests_per_minute: 1,
            tokens_per_minute: 1_000_000,
            concurrent_requests: 0,
        },
        ..OpenAiProfile::default()
    };
    let (mocks, url) = start(profile, SEED).await;
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]});
    let first = post_raw(&url, "/v1/chat/completions", body.to_string()).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit-requests"], "1");
    assert_eq!(first.headers()["x-ratelimit-remaining-requests"], "0");
    assert_eq!(first.headers()["x-ratelimit-limit-tokens"], "1000000");
    let second = post_raw(&url, "/v1/chat/completions", body.to_string()).await;
    let headers = second.headers().clone();
    let (status, error) = error_of(second).await;
    assert_eq!(status, 429);
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert_eq!(error["type"], "requests");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Rate limit reached for gpt-4o-mini in organization org-gatebench on requests per min (RPM): Limit 1, Used 1, Requested 1. Please try again in "
        ),
        "{message}"
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    let retry_after_ms: u64 = headers["retry-after-ms"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert!(retry_after_ms > 0 && retry_after_ms <= 60_000);
    for name in [
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    ] {
        assert!(headers.contains_key(name), "{name} missing");
    }
    assert!(headers.contains_key("x-request-id"));
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_repeated_long_prompt_reports_cached_tokens() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let client = client(&url);
    let manual = "Our returns policy allows returns within thirty days of delivery. ".repeat(120);
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages(messages(&manual, "Can I return an opened item?"))
        .max_completion_tokens(20u32)
        .build()
        .unwrap();
    let first = client.chat().create(request.clone()).await.unwrap();
    let first = first.usage.unwrap();
    assert!(first.prompt_tokens >= 1024);
    assert_eq!(first.prompt_tokens_details.unwrap().cached_tokens, Some(0));
    let second = client.chat().create(request.clone()).await.unwrap();
    let second = second.usage.unwrap();
    let cached = second.prompt_tokens_details.unwrap().cached_tokens.unwrap();
    assert_eq!(cached, 1024 + (second.prompt_tokens - 1024) / 128 * 128);

    // A reset is a cold start: the provider's prompt cache is empty again.
    let reset = gatebench_tls::client()
        .post(format!("{url}/_mock/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    let third = client.chat().create(request).await.unwrap().usage.unwrap();
    assert_eq!(third.prompt_tokens_details.unwrap().cached_tokens, Some(0));
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_fault_ends_the_stream_without_done() {
    let (mocks, url) = start(OpenAiProfile::default(), SEED).await;
    let http = gatebench_tls::client();
    let put = http
        .put(format!("{url}/_mock/faults"))
        .json(&json!({"stream_cut": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let body = json!({
        "model": "gpt-4o",
        "stream": true,
        "messages": [{"role": "user", "content": "Tell me a long story about a fox."}]
    });
    let response = post_raw(&url, "/v1/chat/completions", body.to_string()).await;
    assert_eq!(response.status(), 200);
    let mut raw = Vec::new();
    let mut bytes = response.bytes_stream();
    let mut failed = false;
    while let Some(frame) = bytes.next().await {
        match frame {
            Ok(b) => raw.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(failed, "the connection drops mid-body");
    assert!(text.starts_with("data: {"), "some chunks arrive first");
    assert!(!text.contains("[DONE]"));

    // async-openai sees an error in its stream, not a normal end.
    let mut stream = client(&url)
        .chat()
        .create_stream(story_request("gpt-4o"))
        .await
        .unwrap();
    let mut saw_error = false;
    while let Some(item) = stream.next().await {
        if item.is_err() {
            saw_error = true;
            break;
        }
    }
    assert!(saw_error);
    mocks.shutdown().await;
}

#[tokio::test]
async fn two_mocks_with_the_same_seed_answer_the_same() {
    let (a, url_a) = start(OpenAiProfile::default(), 77).await;
    let (b, url_b) = start(OpenAiProfile::default(), 77).await;
    let (c, url_c) = start(OpenAiProfile::default(), 78).await;
    let text = |url: String| async move {
        client(&url)
            .chat()
            .create(story_request("deepseek-chat"))
            .await
            .unwrap()
            .choices[0]
            .message
            .content
            .clone()
            .unwrap()
    };
    let (ta, tb, tc) = (text(url_a).await, text(url_b).await, text(url_c).await);
    assert_eq!(ta, tb);
    assert_ne!(ta, tc);
    for mocks in [a, b, c] {
        mocks.shutdown().await;
    }
}
