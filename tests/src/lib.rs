//! Shared helpers for the end-to-end tests in `tests/tests/`: the embedded stack
//! on free ports, clients, and polling without wall-clock assertions.

use std::future::Future;
use std::time::Duration;

use gatebench_stack::{Stack, StackOptions};
use serde_json::{Value, json};

/// The demo tenant `alpha`'s key.
pub const ALPHA: &str = "gb-alpha-dev";
/// The demo tenant `beta`'s key.
pub const BETA: &str = "gb-beta-dev";

/// Starts mocks and gateway on free ports, at time scale 0 (no mock delays) with
/// short retry backoffs, after `tweak` adjusts the options.
pub async fn stack(tweak: impl FnOnce(&mut StackOptions)) -> Stack {
    let mut options = StackOptions::ephemeral(7, 0.0);
    options.gateway.retry.base = Duration::from_millis(2);
    options.gateway.retry.max_backoff = Duration::from_millis(20);
    tweak(&mut options);
    match Stack::start(options).await {
        Ok(stack) => stack,
        Err(error) => panic!("the embedded stack did not start: {error}"),
    }
}

/// An HTTP client with a generous timeout (tests bound their own waits).
pub fn client() -> reqwest::Client {
    match gatebench_tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(error) => panic!("cannot build a client: {error}"),
    }
}

/// A one-message chat body.
pub fn chat_body(model: &str, prompt: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": prompt }], "max_tokens": 64 })
}

/// Polls `check` until it returns true; panics after `limit` (a bound on a wait,
/// not an assertion about speed).
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        if tokio::time::Instant::now() > deadline {
            panic!("gave up waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Replaces a mock's faults through its control API.
pub async fn set_faults(client: &reqwest::Client, mock_url: &str, spec: Value) {
    let response = match client
        .put(format!("{mock_url}/_mock/faults"))
        .json(&spec)
        .send()
        .await
    {
        Ok(r) => r,
        Err(error) => panic!("cannot reach the mock's control API: {error}"),
    };
    assert!(
        response.status().is_success(),
        "fault spec refused: {}",
        response.text().await.unwrap_or_default()
    );
}

/// GETs `url` and reads its JSON body; panics on failure (a test's own call).
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    match client().get(url).send().await {
        Ok(response) => match response.json().await {
            Ok(body) => body,
            Err(error) => panic!("{url}: not the expected JSON: {error}"),
        },
        Err(error) => panic!("{url}: {error}"),
    }
}

/// A mock's stats.
pub async fn mock_stats(client: &reqwest::Client, mock_url: &str) -> Value {
    match client.get(format!("{mock_url}/_mock/stats")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(error) => panic!("cannot read mock stats: {error}"),
    }
}
