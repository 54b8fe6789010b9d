//! Errors in ElevenLabs' shapes, bad input, keys, concurrency and character limits,
//! and a stream cut.

use std::time::Duration;

use futures::StreamExt as _;
use gatebench_mock::Profile;
use serde_json::{Value, json};

use super::{RACHEL, TEXT, client, post, start, start_with};

async fn expect_422(response: reqwest::Response, loc: &[&str], kind: &str) {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let issue = &body["detail"][0];
    let got: Vec<&str> = issue["loc"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(got, loc, "{body}");
    assert_eq!(issue["type"], kind, "{body}");
    assert!(issue["msg"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn bad_requests_get_fastapi_shaped_errors_and_never_a_panic() {
    let (mocks, url) = start().await;
    let path = format!("/v1/text-to-speech/{RACHEL}");
    let http = client();
    expect_422(
        post(&url, &path, json!({ "model_id": "eleven_v3" })).await,
        &["body", "text"],
        "missing",
    )
    .await;
    expect_422(
        post(&url, &path, json!({ "text": "" })).await,
        &["body", "text"],
        "string_too_short",
    )
    .await;
    expect_422(
        post(&url, &path, json!({ "text": 12 })).await,
        &["body", "text"],
        "value_error",
    )
    .await;
    let long = "word ".repeat(1001);
    expect_422(
        post(
            &url,
            &path,
            json!({ "text": long, "model_id": "eleven_v3" }),
        )
        .await,
        &["body", "text"],
        "string_too_long",
    )
    .await;
    assert_eq!(
        post(
            &url,
            &path,
            json!({ "text": long, "model_id": "eleven_flash_v2_5" })
        )
        .await
        .status(),
        200
    );
    expect_422(
        post(
            &url,
            &format!("{path}?output_format=mp3_44100_999"),
            json!({ "text": "hi" }),
        )
        .await,
        &["query", "output_format"],
        "enum",
    )
    .await;
    expect_422(
        post(
            &url,
            &path,
            json!({ "text": "hi", "voice_settings": { "stability": 3 } }),
        )
        .await,
        &["body", "voice_settings", "stability"],
        "less_than_equal",
    )
    .await;
    let malformed = http
        .post(format!("{url}{path}"))
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    expect_422(malformed, &["body"], "json_invalid").await;
    let array = http
        .post(format!("{url}{path}"))
        .body(r#"["hello array"]"#)
        .send()
        .await
        .unwrap();
    expect_422(array, &["body"], "model_attributes_type").await;
    let binary = http
        .post(format!("{url}{path}"))
        .body(vec![0xFF, 0xFE, 0x00, 0x9F])
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), 422);
    let bad_utf8 = http
        .post(format!("{url}{path}"))
        .body(b"{\"text\": \"caf\xC3\x28\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_utf8.status(), 422);
    let huge = http
        .post(format!("{url}{path}"))
        .body(vec![b'a'; 5 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let unknown_model = post(
        &url,
        &path,
        json!({ "text": "hi", "model_id": "eleven_imaginary" }),
    )
    .await;
    assert_eq!(unknown_model.status(), 400);
    assert_eq!(
        unknown_model.json::<Value>().await.unwrap()["detail"]["status"],
        "model_not_found"
    );
    // A query string that is not UTF-8 once decoded.
    let odd = post(
        &url,
        &format!("{path}?output_format=%FF%FE&enable_logging=maybe"),
        json!({ "text": "hi" }),
    )
    .await;
    assert_eq!(odd.status(), 422);
    // Still serving.
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn keys_are_required_when_the_profile_says_so() {
    let mut profile = Profile::default();
    profile.elevenlabs.require_key = true;
    profile.elevenlabs.api_keys = vec!["sk-good".into()];
    let (mocks, url) = start_with(profile, 0.0).await;
    let http = client();
    let path = format!("{url}/v1/text-to-speech/{RACHEL}");
    let none = http
        .post(&path)
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.json::<Value>().await.unwrap()["detail"]["status"],
        "needs_authorization"
    );
    let wrong = http
        .post(&path)
        .header("xi-api-key", "sk-bad")
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["detail"]["status"],
        "invalid_api_key"
    );
    let good = http
        .post(&path)
        .header("xi-api-key", "sk-good")
        .json(&json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let voices = http.get(format!("{url}/v1/voices")).send().await.unwrap();
    assert_eq!(voices.status(), 401);
    mocks.shutdown().await;
}

async fn wait_in_flight(url: &str, n: u64) {
    for _ in 0..500 {
        let stats: Value = client()
            .get(format!("{url}/_mock/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["in_flight"].as_u64() >= Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("requests never got in flight");
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_get_429_too_many_concurrent_requests() {
    for limit in ["key", "capacity"] {
        let mut profile = Profile::default();
        if limit == "key" {
            profile.elevenlabs.rate_limits.concurrent_requests = 1;
        } else {
            profile.elevenlabs.rate_limits.concurrent_requests = 0;
            profile.elevenlabs.capacity.soft_limit = 1;
            profile.elevenlabs.capacity.hard_limit = 1;
        }
        // A first request that takes (scaled) minutes holds the only slot.
        for latency in profile.elevenlabs.models.values_mut() {
            latency.first_byte = "600s".parse().unwrap();
        }
        let (mocks, url) = start_with(profile, 1.0).await;
        let path = format!("{url}/v1/text-to-speech/{RACHEL}");
        let holder = tokio::spawn({
            let path = path.clone();
            async move {
                client()
                    .post(path)
                    .json(&json!({ "text": "hold" }))
                    .send()
                    .await
            }
        });
        wait_in_flight(&url, 1).await;
        let refused = client()
            .post(&path)
            .json(&json!({ "text": "hi" }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 429, "{limit}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["detail"]["status"], "too_many_concurrent_requests",
            "{limit}"
        );
        holder.abort();
        drop(mocks);
    }
}

#[tokio::test]
async fn characters_per_minute_are_limited() {
    let mut profile = Profile::default();
    profile.elevenlabs.rate_limits.tokens_per_minute = 100;
    let (mocks, url) = start_with(profile, 0.0).await;
    let path = format!("/v1/text-to-speech/{RACHEL}");
    let text = "a".repeat(80);
    assert_eq!(
        post(&url, &path, json!({ "text": text })).await.status(),
        200
    );
    let refused = post(&url, &path, json!({ "text": text })).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.headers().contains_key("retry-after-ms"));
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("characters per minute")
    );
    // Another model has its own budget.
    let other = post(
        &url,
        &path,
        json!({ "text": text, "model_id": "eleven_flash_v2_5" }),
    )
    .await;
    assert_eq!(other.status(), 200);
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_stream_cut_is_seen_by_the_client() {
    let (mocks, url) = start().await;
    let http = client();
    let faults = http
        .put(format!("{url}/_mock/faults"))
        .json(&json!({ "stream_cut": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(faults.status(), 200);
    let body = json!({ "text": TEXT.repeat(3) });
    for route in ["stream", "stream/with-timestamps"] {
        let response = post(
            &url,
            &format!("/v1/text-to-speech/{RACHEL}/{route}"),
            body.clone(),
        )
        .await;
        assert_eq!(response.status(), 200);
        let mut stream = response.bytes_stream();
        let mut received = 0;
        let mut failed = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => received += bytes.len(),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "{route}: the body ended cleanly");
        assert!(received > 0, "{route}: nothing arrived before the cut");
    }
    let stats: Value = http
        .get(format!("{url}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let route = &stats["by_route"]["/v1/text-to-speech/{voice_id}/stream"];
    assert_eq!(route["fault_stream_cut"], 1, "{stats}");
    mocks.shutdown().await;
}
