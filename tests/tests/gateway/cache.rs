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
    assert_eq!(
        embed("solar panels").await.unwrap().headers()["x-gatebench-cache"],
        "miss"
    );
    assert_eq!(
        embed("solar panels").await.unwrap().headers()["x-gatebench-cache"],
        "hit"
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
