//! The semantic cache seen from clients: paraphrases hit, other questions miss,
//! other tenants never see an entry, streams replay, directives are honoured.

use gatebench_e2e::{ALPHA, BETA, chat_body, client, stack};
use serde_json::Value;

async fn ask(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    prompt: &str,
) -> (reqwest::header::HeaderMap, Value) {
    let response = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body("gpt-4o-mini", prompt))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.json().await.unwrap())
}

#[tokio::test]
async fn a_paraphrase_hits_an_unrelated_question_misses_another_tenant_misses() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let (first, answer) = ask(
        &http,
        &url,
        ALPHA,
        "Tell me a bedtime story about a shy dragon who learns to make friends.",
    )
    .await;
    assert_eq!(first["x-gatebench-cache"], "miss");
    let stored = first["x-gatebench-cache-key"].to_str().unwrap().to_owned();

    let (again, replay) = ask(
        &http,
        &url,
        ALPHA,
        "Can you tell me a bedtime story about a shy dragon learning to make friends?",
    )
    .await;
    assert_eq!(again["x-gatebench-cache"], "hit");
    assert_eq!(
        again["x-gatebench-cache-key"].to_str().unwrap(),
        stored,
        "the served entry is the stored one"
    );
    let similarity: f32 = again["x-gatebench-cache-similarity"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        similarity >= gatebench_e2e_threshold() && similarity < 1.0,
        "{similarity}"
    );
    assert_eq!(
        replay["choices"][0]["message"]["content"],
        answer["choices"][0]["message"]["content"]
    );
    assert_eq!(again["x-gatebench-cost-usd"], "0");
    // Usage describes this request: its own prompt, the cached completion.
    assert_eq!(
        replay["usage"]["completion_tokens"],
        answer["usage"]["completion_tokens"]
    );
    assert_ne!(
        replay["usage"]["prompt_tokens"],
        answer["usage"]["prompt_tokens"]
    );

    let (other, _) = ask(&http, &url, ALPHA, "How do I reset my password?").await;
    assert_eq!(other["x-gatebench-cache"], "miss");
    let (tenant, _) = ask(
        &http,
        &url,
        BETA,
        "Tell me a bedtime story about a shy dragon who learns to make friends.",
    )
    .await;
    assert_eq!(
        tenant["x-gatebench-cache"], "miss",
        "beta never sees alpha's entry"
    );

    let usage: Value = http
        .get(format!("{url}/v1/gatebench/usage"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["tenant"], "alpha");
    assert_eq!(usage["cache_hits"], 1);
    let saved: rust_decimal::Decimal = usage["saved_usd"].as_str().unwrap().parse().unwrap();
    assert!(saved > rust_decimal::Decimal::ZERO);
    stack.shutdown().await;
}

/// A negation shares every word with what it negates, so similarity alone would
/// serve the one's answer for the other; each is sent to the provider.
#[tokio::test]
async fn a_negated_question_is_not_answered_from_the_cache() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let (said, kept) = (
        "Should I delete the old backups before the migration?",
        "Should I not delete the old backups before the migration?",
    );
    let (first, _) = ask(&http, &url, ALPHA, said).await;
    assert_eq!(first["x-gatebench-cache"], "miss");
    let (negated, _) = ask(&http, &url, ALPHA, kept).await;
    assert_eq!(negated["x-gatebench-cache"], "miss", "{negated:?}");
    // each side is now cached, and answers its own paraphrase
    for (paraphrase, meant) in [
        (
            "should I delete the old backups before the migration",
            &first,
        ),
        (
            "Should I not delete the old backups before migration?",
            &negated,
        ),
    ] {
        let (again, _) = ask(&http, &url, ALPHA, paraphrase).await;
        assert_eq!(again["x-gatebench-cache"], "hit", "{paraphrase}");
        assert_eq!(
            again["x-gatebench-cache-key"], meant["x-gatebench-cache-key"],
            "{paraphrase}"
        );
    }
    stack.shutdown().await;
}

fn gatebench_e2e_threshold() -> f32 {
    gatebench_gateway::config::CacheSettings::default().threshold
}

#[tokio::test]
async fn a_cached_answer_replays_as_a_stream() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let (_, answer) = ask(&http, &url, ALPHA, "What are scope 3 emissions?").await;
    let mut body = chat_body("gpt-4o-mini", "What are scope 3 emissions?");
    body["stream"] = true.into();
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let response = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-gatebench-cache"], "hit");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    let mut content = String::new();
    let mut usage = None;
    for data in text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
        if chunk["usage"].is_object() {
            usage = Some(chunk["usage"].clone());
        }
    }
    assert!(text.trim_end().ends_with("data: [DONE]"));
    assert_eq!(
        content,
        answer["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(
        usage.unwrap()["completion_tokens"],
        answer["usage"]["completion_tokens"]
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn a_streamed_answer_is_cached_for_the_next_request() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mut body = chat_body("gpt-4o-mini", "How do I return a damaged item?");
    body["stream"] = true.into();
    let response = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-gatebench-cache"], "miss");
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("\"usage\""),
        "the client did not ask for usage, so it sees none: {text}"
    );
    let (again, _) = ask(&http, &url, ALPHA, "How do I return a damaged item?").await;
    assert_eq!(again["x-gatebench-cache"], "hit");
    stack.shutdown().await;
}

#[tokio::test]
async fn cache_directives_are_honoured() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    let body = chat_body("gpt-4o-mini", "What is a carbon offset?");
    let send = |directive: &'static str| {
        http.post(&url)
            .bearer_auth(ALPHA)
            .header("x-gatebench-cache", directive)
            .json(&body)
            .send()
    };
    let stored = send("no-store").await.unwrap();
    assert_eq!(stored.headers()["x-gatebench-cache"], "miss");
    assert!(!stored.headers().contains_key("x-gatebench-cache-key"));
    assert_eq!(
        send("no-cache").await.unwrap().headers()["x-gatebench-cache"],
        "bypass"
    );
    // no-cache skipped the lookup but stored the answer.
    let hit = http
        .post(&url)
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(hit.headers()["x-gatebench-cache"], "hit");
    stack.shutdown().await;
}

#[tokio::test]
async fn embeddings_and_speech_are_cached_by_exact_match() {
    let stack = stack(|_| {}).await;
    let http = client();
    let base = stack.gateway_url();
    let embed = |input: &'static str| {
        http.post(format!("{base}/v1/embeddings"))
            .bearer_auth(ALPHA)
            .json(&serde_json::json!({"model": "text-embedding-3-small", "input": input}))
            .send()
    };
    let miss = embed("solar panels").await.unwrap();
    assert_eq!(miss.headers()["x-gatebench-cache"], "miss");
    let hit = embed("solar panels").await.unwrap();
    assert_eq!(hit.headers()["x-gatebench-cache"], "hit");
    // a hit is named by its own id, not by the id of the call that stored it
    assert_eq!(
        hit.headers()["x-request-id"],
        hit.headers()["x-gatebench-request-id"]
    );
    assert_ne!(
        hit.headers()["x-request-id"],
        miss.headers()["x-request-id"]
    );
    // nor by the rate limits of that call: a hit made none
    let limits = "x-ratelimit-remaining-requests";
    assert!(miss.headers().contains_key(limits), "{:?}", miss.headers());
    assert!(!hit.headers().contains_key(limits), "{:?}", hit.headers());
    assert_eq!(
        hit.headers()["content-type"],
        miss.headers()["content-type"]
    );
    assert_eq!(
        embed("solar panel").await.unwrap().headers()["x-gatebench-cache"],
        "miss"
    );
    let speak = || {
        http.post(format!("{base}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"))
            .header("xi-api-key", ALPHA)
            .json(&serde_json::json!({"text": "The dragon smiled."}))
            .send()
    };
    let first = speak().await.unwrap();
    assert_eq!(first.headers()["x-gatebench-cache"], "miss");
    let first_audio = first.bytes().await.unwrap();
    let second = speak().await.unwrap();
    assert_eq!(second.headers()["x-gatebench-cache"], "hit");
    assert_eq!(second.bytes().await.unwrap(), first_audio);
    stack.shutdown().await;
}

/// A chat body that must call `get_weather` (the mock always calls a required tool).
fn tool_body(stream: bool) -> Value {
    let mut body = chat_body("gpt-4o-mini", "What is the weather in Lisbon today?");
    body["tools"] = serde_json::json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": { "city": { "type": "string" } },
                "required": ["city"]
            }
        }
    }]);
    body["tool_choice"] = "required".into();
    if stream {
        body["stream"] = true.into();
    }
    body
}

/// The tool calls of a streamed answer, put together from their fragments, and its
/// finish reason.
fn streamed_calls(text: &str) -> (Vec<Value>, Option<String>, Value) {
    let mut calls: Vec<Value> = Vec::new();
    let (mut finish, mut opening) = (None, Value::Null);
    for data in text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
        if data == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(data).unwrap();
        let choice = &chunk["choices"][0];
        if choice["delta"]["role"] == "assistant" {
            opening = choice["delta"]["content"].clone();
        }
        for fragment in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = fragment["index"].as_u64().unwrap() as usize;
            if calls.len() <= i {
                calls.push(serde_json::json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
            }
            for (path, key) in [
                ("id", "/id"),
                ("name", "/function/name"),
                ("arguments", "/function/arguments"),
            ] {
                if let Some(piece) = fragment.pointer(key).and_then(Value::as_str) {
                    let into = if path == "id" {
                        &mut calls[i]["id"]
                    } else {
                        &mut calls[i]["function"][path]
                    };
                    *into = format!("{}{piece}", into.as_str().unwrap()).into();
                }
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = Some(reason.to_owned());
        }
    }
    (calls, finish, opening)
}

/// A tool call served from the cache is the call the provider made: the same
/// `tool_calls` and `content: null`, as JSON and replayed as a stream (a hit that
/// dropped them would answer `finish_reason: tool_calls` with nothing to call).
#[tokio::test]
async fn a_cached_tool_call_replays_its_calls_as_json_and_as_a_stream() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    let post = |body: Value| http.post(&url).bearer_auth(ALPHA).json(&body).send();
    let first = post(tool_body(false)).await.unwrap();
    assert_eq!(first.headers()["x-gatebench-cache"], "miss");
    let first: Value = first.json().await.unwrap();
    let message = &first["choices"][0]["message"];
    let calls = message["tool_calls"].as_array().unwrap().clone();
    assert_eq!(calls[0]["function"]["name"], "get_weather", "{first}");
    assert!(message["content"].is_null(), "{first}");

    let hit = post(tool_body(false)).await.unwrap();
    assert_eq!(hit.headers()["x-gatebench-cache"], "hit");
    assert_eq!(
        hit.headers()["x-request-id"],
        hit.headers()["x-gatebench-request-id"]
    );
    let hit: Value = hit.json().await.unwrap();
    assert_eq!(
        hit["choices"][0]["message"]["tool_calls"],
        Value::Array(calls.clone()),
        "{hit}"
    );
    assert!(hit["choices"][0]["message"]["content"].is_null(), "{hit}");
    assert_eq!(hit["choices"][0]["finish_reason"], "tool_calls");

    let replay = post(tool_body(true)).await.unwrap();
    assert_eq!(replay.headers()["x-gatebench-cache"], "hit");
    let (streamed, finish, opening) = streamed_calls(&replay.text().await.unwrap());
    assert_eq!(streamed, calls);
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert!(opening.is_null(), "a tool call opens with no content");
    stack.shutdown().await;
}

/// A streamed tool call is put together from its fragments and cached whole.
#[tokio::test]
async fn a_streamed_tool_call_is_cached_whole() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    let post = |body: Value| http.post(&url).bearer_auth(ALPHA).json(&body).send();
    let first = post(tool_body(true)).await.unwrap();
    assert_eq!(first.headers()["x-gatebench-cache"], "miss");
    let (calls, finish, _) = streamed_calls(&first.text().await.unwrap());
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let hit = post(tool_body(false)).await.unwrap();
    assert_eq!(hit.headers()["x-gatebench-cache"], "hit");
    let hit: Value = hit.json().await.unwrap();
    assert_eq!(
        hit["choices"][0]["message"]["tool_calls"],
        Value::Array(calls),
        "{hit}"
    );
    assert!(hit["choices"][0]["message"]["content"].is_null(), "{hit}");
    stack.shutdown().await;
}
