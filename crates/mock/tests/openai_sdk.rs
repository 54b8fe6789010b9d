//! The OpenAI mock over a real socket, read by `async-openai`'s typed client (an
//! independent implementation of the API's shapes) and by reqwest for the raw
//! error shapes.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs, ReasoningEffort, ServiceTier, StopConfiguration, Verbosity,
};
use async_openai::types::embeddings::CreateEmbeddingRequestArgs;
use gatebench_mock::openai::{OpenAiProfile, router};
use gatebench_mock::server::{self, ServerHandle};
use serde_json::{Value, json};

async fn start(profile: OpenAiProfile) -> (ServerHandle, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle =
        server::spawn(listener, router(&profile, 42, 0.0), Duration::from_secs(1)).unwrap();
    let url = format!("http://{}", handle.addr());
    (handle, url)
}

fn client(url: &str) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{url}/v1"))
            .with_api_key("sk-test"),
    )
}

async fn post(url: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn story() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Tell me a story about a brave rabbit."}]
    })
}

#[tokio::test]
async fn unknown_arguments_are_refused_in_openai_s_exact_shape() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let mut body = story();
    body["top_k"] = json!(40);
    let (status, error) = post(&url, "/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(
        error,
        json!({"error": {
            "message": "Unrecognized request argument supplied: top_k",
            "type": "invalid_request_error",
            "param": null,
            "code": null
        }})
    );
    let (status, error) = post(
        &url,
        "/v1/embeddings",
        json!({"model": "text-embedding-3-small", "input": "hi", "truncate": true, "x": 1}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "Unrecognized request arguments supplied: truncate, x"
    );

    // A lenient profile ignores them.
    let (_lenient, lenient_url) = start(OpenAiProfile {
        strict_arguments: false,
        ..OpenAiProfile::default()
    })
    .await;
    let (status, completion) = post(&lenient_url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{completion}");
}

#[tokio::test]
async fn every_argument_the_sdk_sends_passes_the_strict_check() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o")
        .messages(vec![
            ChatCompletionRequestSystemMessageArgs::default()
                .content("You answer briefly.")
                .build()
                .unwrap()
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content("Tell me about rabbits.")
                .build()
                .unwrap()
                .into(),
        ])
        .max_completion_tokens(20u32)
        .temperature(0.5)
        .top_p(0.9)
        .n(2)
        .seed(7)
        .stop(StopConfiguration::StringArray(vec!["\n\n\n".into()]))
        .presence_penalty(0.1)
        .frequency_penalty(0.1)
        .user("user-1")
        .safety_identifier("safe-1")
        .prompt_cache_key("cache-1")
        .store(false)
        .metadata(json!({"run": "test"}))
        .service_tier(ServiceTier::Auto)
        .reasoning_effort(ReasoningEffort::Low)
        .verbosity(Verbosity::Low)
        .parallel_tool_calls(true)
        .logprobs(false)
        .build()
        .unwrap();
    let response = client(&url).chat().create(request).await.unwrap();
    assert_eq!(response.choices.len(), 2);
    let usage = response.usage.unwrap();
    assert!(usage.completion_tokens <= 40);

    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input("a red apple")
        .dimensions(64u32)
        .user("user-1")
        .build()
        .unwrap();
    let response = client(&url).embeddings().create(request).await.unwrap();
    assert_eq!(response.data[0].embedding.len(), 64);
}

#[tokio::test]
async fn ignore_eos_fills_the_cap_and_min_tokens_sets_a_floor() {
    let (_server, url) = start(OpenAiProfile::default()).await;
    for (cap, field) in [(333, "max_tokens"), (1500, "max_completion_tokens")] {
        let mut body = story();
        body[field] = json!(cap);
        body["ignore_eos"] = json!(true);
        let (status, completion) = post(&url, "/v1/chat/completions", body).await;
        assert_eq!(status, 200, "{completion}");
        assert_eq!(completion["usage"]["completion_tokens"], cap);
        assert_eq!(completion["choices"][0]["finish_reason"], "length");
    }
    let mut body = story();
    body["min_tokens"] = json!(2000);
    let (status, completion) = post(&url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{completion}");
    assert!(completion["usage"]["completion_tokens"].as_u64().unwrap() >= 2000);
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");

    let mut body = story();
    body["min_tokens"] = json!(50);
    body["max_tokens"] = json!(10);
    let (status, error) = post(&url, "/v1/chat/completions", body).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "min_tokens");
}
