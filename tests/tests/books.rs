//! The mocks' books end to end: every call a real client made is in the call log
//! with the usage, content digest and ids the client saw; the usage and cost
//! reports answer in the providers' shapes (parsed with `async-openai`'s types) and
//! agree with the log; the log is capped without losing the totals.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::admin::usage::{UsageResponse, UsageResult};
use async_openai::types::chat::CreateChatCompletionRequestArgs;
use gatebench_e2e::{client, eventually, get_json, set_faults};
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use gatebench_wire::books::{BooksSummary, CallPage, CallRecord, MockSet, digest, key_id};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const KEY: &str = "sk-books-test";

async fn start(time_scale: f64, tweak: impl FnOnce(&mut Profile)) -> RunningMocks {
    let mut profile = Profile::default();
    tweak(&mut profile);
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale,
        seed: 11,
        profile,
        ..MockOptions::default()
    })
    .await
    .expect("mocks start")
}

async fn calls(mock: &str, after: u64) -> CallPage {
    client()
        .get(format!("{mock}/_mock/calls?after={after}&limit=100"))
        .send()
        .await
        .expect("call log")
        .json()
        .await
        .expect("a call page")
}

async fn last_call(mock: &str) -> CallRecord {
    let mut page = calls(mock, 0).await;
    page.data.pop().expect("a call in the books")
}

fn chat(prompt: &str, stream: bool) -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{ "role": "user", "content": prompt }],
        "stream": stream,
        "stream_options": if stream { json!({ "include_usage": true }) } else { Value::Null },
    })
}

/// The content of a chat stream, the usage of its last chunk, and whether it ended
/// with `[DONE]`.
fn read_stream(body: &str) -> (String, Option<Value>, bool) {
    let (mut text, mut usage, mut done) = (String::new(), None, false);
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(t) = chunk["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if chunk["usage"].is_object() {
            usage = Some(chunk["usage"].clone());
        }
    }
    (text, usage, done)
}

#[tokio::test]
async fn every_call_is_booked_with_what_the_client_saw() {
    let mocks = start(0.0, |_| {}).await;
    let openai = mocks.url("openai").unwrap();

    // Whole, through an independent SDK.
    let sdk = Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{openai}/v1"))
            .with_api_key(KEY),
    );
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages(vec![
            async_openai::types::chat::ChatCompletionRequestUserMessageArgs::default()
                .content("Tell me a story about a lighthouse keeper.")
                .build()
                .unwrap()
                .into(),
        ])
        .build()
        .unwrap();
    let answer = sdk.chat().create(request).await.expect("a completion");
    let call = last_call(&openai).await;
    let usage = answer.usage.expect("usage");
    assert_eq!(call.outcome, "ok");
    assert!(call.billed && call.complete && !call.stream);
    assert_eq!(call.usage.input_tokens, u64::from(usage.prompt_tokens));
    assert_eq!(call.usage.output_tokens, u64::from(usage.completion_tokens));
    let content = answer.choices[0].message.content.clone().unwrap();
    assert_eq!(call.content_digest, Some(digest(content.as_bytes())));
    assert_eq!(
        call.prompt_digest,
        Some(digest(b"Tell me a story about a lighthouse keeper."))
    );
    assert_eq!(call.response_id.as_deref(), Some(answer.id.as_str()));
    assert_eq!(call.api_key_id, Some(key_id(KEY)));
    assert_eq!(call.model.as_deref(), Some("gpt-4o-mini"));

    // Streamed, with correlation headers.
    let body = client()
        .post(format!("{openai}/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("x-request-id", "client-req-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&chat("Explain the moon to a child.", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (text, usage, done) = read_stream(&body);
    assert!(done);
    let usage = usage.expect("final usage");
    eventually("the stream is booked", Duration::from_secs(5), || async {
        calls(&openai, 0).await.last_id == 2
    })
    .await;
    let call = last_call(&openai).await;
    assert!(call.stream && call.complete && call.billed);
    assert_eq!(call.content_digest, Some(digest(text.as_bytes())));
    assert_eq!(
        Some(call.usage.output_tokens),
        usage["completion_tokens"].as_u64()
    );
    assert_eq!(call.client_request_id.as_deref(), Some("client-req-1"));
    assert!(call.traceparent.unwrap().starts_with("00-4bf9"));

    // A cut stream is billed the prompt and the tokens delivered.
    set_faults(&client(), &openai, json!({ "stream_cut": 1.0 })).await;
    let cut = client()
        .post(format!("{openai}/v1/chat/completions"))
        .json(&chat("Write a long story about a fox and a crow.", true))
        .send()
        .await
        .unwrap();
    let mut delivered = Vec::new();
    let mut body = cut;
    while let Ok(Some(bytes)) = body.chunk().await {
        delivered.extend_from_slice(&bytes);
    }
    let (text, usage, done) = read_stream(&String::from_utf8_lossy(&delivered));
    assert!(!done && usage.is_none(), "the stream was cut");
    eventually(
        "the cut stream is booked",
        Duration::from_secs(5),
        || async { calls(&openai, 0).await.last_id == 3 },
    )
    .await;
    let call = last_call(&openai).await;
    assert_eq!(call.outcome, "fault_stream_cut");
    assert!(call.billed && !call.complete && call.api_key_id.is_none());
    assert_eq!(call.content_digest, Some(digest(text.as_bytes())));
    assert_eq!(
        call.usage.output_tokens,
        gatebench_tokens::Encoding::O200kBase.count(&text) as u64
    );

    // An injected error is booked, not billed.
    set_faults(&client(), &openai, json!({ "unavailable": 1.0 })).await;
    let refused = client()
        .post(format!("{openai}/v1/chat/completions"))
        .json(&chat("Hello?", false))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let call = last_call(&openai).await;
    assert_eq!(
        (call.outcome.as_str(), call.status),
        ("fault_unavailable", 503)
    );
    assert!(!call.billed && call.usage.is_zero());
    // under the model it was for, though nothing was served
    assert_eq!(call.model.as_deref(), Some("gpt-4o-mini"));
    set_faults(&client(), &openai, json!({})).await;
    let mut hot = chat("Hello?", false);
    hot["temperature"] = json!(7);
    let refused = client()
        .post(format!("{openai}/v1/chat/completions"))
        .json(&hot)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let call = last_call(&openai).await;
    assert_eq!(call.outcome, "client_error");
    assert_eq!(call.model.as_deref(), Some("gpt-4o-mini"));
    assert!(!call.billed && call.usage.is_zero() && call.content_digest.is_none());

    let summary: BooksSummary = get_json(&format!("{openai}/_mock/books")).await;
    assert_eq!((summary.total.calls, summary.total.billed), (5, 3));
    assert_eq!(summary.by_outcome["fault_unavailable"], 1);
    assert!(
        !summary.by_model.contains_key(""),
        "{:?}",
        summary.by_model.keys()
    );
    assert_eq!(summary.by_key[&key_id(KEY)].billed, 2);

    // Faults that give no answer (a reset, a hang) or a broken one are booked
    // under the model asked for too, as is a fault of a service with no model field.
    let personality = mocks.url("personality").unwrap();
    for (mock, spec, path, body, model) in [
        (
            &openai,
            json!({ "malformed": 1.0 }),
            "/v1/chat/completions",
            chat("Hi", false),
            "gpt-4o-mini",
        ),
        (
            &openai,
            json!({ "reset": 1.0 }),
            "/v1/chat/completions",
            chat("Hi", false),
            "gpt-4o-mini",
        ),
        (
            &openai,
            json!({ "hang": 1.0, "hang_for": "50ms" }),
            "/v1/chat/completions",
            chat("Hi", false),
            "gpt-4o-mini",
        ),
        (
            &personality,
            json!({ "unavailable": 1.0 }),
            "/v1/personality",
            json!({ "age": 7, "interests": ["space"] }),
            "personality",
        ),
        (
            &personality,
            json!({ "malformed": 1.0 }),
            "/v1/personality",
            json!({ "age": 7, "interests": ["space"] }),
            "personality",
        ),
    ] {
        set_faults(&client(), mock, spec.clone()).await;
        let before = calls(mock, 0).await.last_id;
        let _ = client()
            .post(format!("{mock}{path}"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await;
        eventually(
            "the faulted call is booked",
            Duration::from_secs(5),
            || async { calls(mock, 0).await.last_id > before },
        )
        .await;
        let call = last_call(mock).await;
        assert!(
            call.outcome.starts_with("fault_"),
            "{spec}: {}",
            call.outcome
        );
        assert_eq!(call.model.as_deref(), Some(model), "{spec}");
        set_faults(&client(), mock, json!({})).await;
    }
    let summary: BooksSummary = get_json(&format!("{openai}/_mock/books")).await;
    assert!(
        !summary.by_model.contains_key(""),
        "{:?}",
        summary.by_model.keys()
    );

    // A reset clears the books.
    client()
        .post(format!("{openai}/_mock/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(calls(&openai, 0).await.last_id, 0);
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_client_that_hangs_up_is_billed_for_the_work_done() {
    // Real delays, so the client can leave while the answer is generated.
    let mocks = start(1.0, |_| {}).await;
    let openai = mocks.url("openai").unwrap();
    let quick = gatebench_tls::http_client()
        .timeout(Duration::from_millis(30))
        .build()
        .unwrap();
    let gone = quick
        .post(format!("{openai}/v1/chat/completions"))
        .json(&chat("Tell me about whales.", false))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    eventually(
        "the abandoned call is booked",
        Duration::from_secs(30),
        || async { calls(&openai, 0).await.last_id == 1 },
    )
    .await;
    let call = last_call(&openai).await;
    assert_eq!(call.outcome, "client_closed");
    assert!(call.billed && !call.complete && call.content_digest.is_none());
    assert!(call.usage.input_tokens > 0 && call.usage.output_tokens > 0);
    mocks.shutdown().await;
}

#[tokio::test]
async fn usage_and_cost_reports_agree_with_the_log_to_the_last_digit() {
    let mocks = start(0.0, |_| {}).await;
    let openai = mocks.url("openai").unwrap();
    let http = client();
    for (i, model) in ["gpt-4o-mini", "gpt-4o", "gpt-4o-mini"].iter().enumerate() {
        let mut body = chat(&format!("Question number {i} about rivers."), false);
        body["model"] = json!(model);
        let response = http
            .post(format!("{openai}/v1/chat/completions"))
            .bearer_auth(if i == 0 { "sk-one" } else { "sk-two" })
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    let embedded = http
        .post(format!("{openai}/v1/embeddings"))
        .json(&json!({ "model": "text-embedding-3-small", "input": "a river" }))
        .send()
        .await
        .unwrap();
    assert!(embedded.status().is_success());
    let log = calls(&openai, 0).await.data;
    assert_eq!(log.len(), 4);

    let start = log[0].at_ms / 1000 / 60 * 60;
    let get = |path: String| {
        let http = http.clone();
        async move {
            let response = http.get(path).send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.text().await.unwrap()
        }
    };
    let text = get(format!(
        "{openai}/v1/organization/usage/completions?start_time={start}&bucket_width=1m&group_by=model&group_by=api_key_id"
    ))
    .await;
    let report: UsageResponse = serde_json::from_str(&text).expect("async-openai reads it");
    assert_eq!(report.object, "page");
    let mut by_model = std::collections::BTreeMap::<String, (u64, u64, u64)>::new();
    for result in report.data.iter().flat_map(|b| &b.results) {
        let UsageResult::Completions(r) = result else {
            panic!("not a completions result: {result:?}");
        };
        let entry = by_model.entry(r.model.clone().unwrap()).or_default();
        entry.0 += r.input_tokens;
        entry.1 += r.output_tokens;
        entry.2 += r.num_model_requests;
        assert!(
            r.api_key_id
                .as_deref()
                .is_some_and(|k| k.starts_with("key_"))
        );
    }
    for model in ["gpt-4o-mini", "gpt-4o"] {
        let calls: Vec<&CallRecord> = log
            .iter()
            .filter(|c| c.model.as_deref() == Some(model))
            .collect();
        let expected = (
            calls.iter().map(|c| c.usage.input_tokens).sum(),
            calls.iter().map(|c| c.usage.output_tokens).sum(),
            calls.len() as u64,
        );
        assert_eq!(by_model[model], expected, "{model}");
    }

    let text = get(format!(
        "{openai}/v1/organization/usage/embeddings?start_time={start}&bucket_width=1h"
    ))
    .await;
    let report: UsageResponse = serde_json::from_str(&text).unwrap();
    let tokens: u64 = report
        .data
        .iter()
        .flat_map(|b| &b.results)
        .map(|r| match r {
            UsageResult::Embeddings(e) => e.input_tokens,
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(tokens, log[3].usage.input_tokens);

    // Costs: exact decimals, one line per model and unit, summing to the log × prices.
    let text = get(format!(
        "{openai}/v1/organization/costs?start_time={start}&group_by=line_item"
    ))
    .await;
    let _: UsageResponse = serde_json::from_str(&text).expect("async-openai reads the costs");
    let costs: Costs = serde_json::from_str(&text).unwrap();
    let mut total = Decimal::ZERO;
    for line in costs.data.iter().flat_map(|b| &b.results) {
        assert!(line.line_item.as_deref().unwrap().contains(", "));
        total += line
            .amount
            .value
            .get()
            .parse::<Decimal>()
            .expect("a decimal");
    }
    let price = |model: &str| match model {
        "gpt-4o-mini" => (Decimal::new(15, 2), Decimal::new(60, 2)),
        "gpt-4o" => (Decimal::new(250, 2), Decimal::new(1000, 2)),
        "text-embedding-3-small" => (Decimal::new(2, 2), Decimal::ZERO),
        other => panic!("{other}"),
    };
    let expected: Decimal = log
        .iter()
        .map(|c| {
            let (input, output) = price(c.model.as_deref().unwrap());
            assert_eq!(c.usage.cached_tokens, 0);
            (Decimal::from(c.usage.input_tokens) * input
                + Decimal::from(c.usage.output_tokens) * output)
                / Decimal::from(1_000_000)
        })
        .sum();
    assert_eq!(total.normalize(), expected.normalize());
    mocks.shutdown().await;
}

/// The Costs API read with every digit of each amount (a float would round them).
#[derive(serde::Deserialize)]
struct Costs {
    data: Vec<CostBucket>,
}

#[derive(serde::Deserialize)]
struct CostBucket {
    results: Vec<CostLine>,
}

#[derive(serde::Deserialize)]
struct CostLine {
    amount: CostAmount,
    line_item: Option<String>,
}

#[derive(serde::Deserialize)]
struct CostAmount {
    value: Box<serde_json::value::RawValue>,
}

#[tokio::test]
async fn reports_refuse_bad_parameters_in_openai_shape() {
    let mocks = start(0.0, |_| {}).await;
    let openai = mocks.url("openai").unwrap();
    for query in [
        "",
        "start_time=abc",
        "start_time=10&bucket_width=2d",
        "start_time=10&group_by=colour",
    ] {
        let response = client()
            .get(format!(
                "{openai}/v1/organization/usage/completions?{query}"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error", "{query}");
        assert!(body["error"]["param"].is_string(), "{query}");
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn speech_is_booked_in_characters_and_reported_like_elevenlabs() {
    let mocks = start(0.0, |_| {}).await;
    let eleven = mocks.url("elevenlabs").unwrap();
    let text = "The brave little dragon flew over the sleeping town.";
    let voice = "21m00Tcm4TlvDq8ikWAM";
    let response = client()
        .post(format!("{eleven}/v1/text-to-speech/{voice}"))
        .header("xi-api-key", KEY)
        .json(&json!({ "text": text, "model_id": "eleven_flash_v2_5" }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let cost: u64 = response.headers()["character-cost"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let audio = response.bytes().await.unwrap();
    let call = last_call(&eleven).await;
    assert_eq!(call.usage.characters, cost);
    assert!(call.usage.audio_ms > 0);
    assert_eq!(call.voice.as_deref(), Some(voice));
    assert_eq!(call.model.as_deref(), Some("eleven_flash_v2_5"));
    assert_eq!(call.content_digest, Some(digest(&audio)));
    assert_eq!(call.prompt_digest, Some(digest(text.as_bytes())));
    // the call log says how many requests a key may have in flight (the profile's
    // 15), so a judge can tell a provider without room from a client that waited
    assert_eq!(calls(&eleven, 0).await.concurrent_per_key, 15);
    assert_eq!(
        calls(&mocks.url("openai").unwrap(), 0)
            .await
            .concurrent_per_key,
        0
    );

    let subscription: Value = client()
        .get(format!("{eleven}/v1/user/subscription"))
        .header("xi-api-key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(subscription["character_count"], cost);
    assert!(subscription["character_limit"].as_u64().unwrap() > cost);

    let start_ms = call.at_ms / 60_000 * 60_000;
    let end_ms = start_ms + 3_600_000;
    let stats: Value = get_json(&format!(
            "{eleven}/v1/usage/character-stats?start_unix={start_ms}&end_unix={end_ms}&breakdown_type=voice&aggregation_interval=cumulative"
        )).await;
    assert_eq!(stats["time"].as_array().unwrap().len(), 1, "{stats}");
    assert_eq!(stats["usage"][voice][0], cost, "{stats}");

    let bad = client()
        .get(format!("{eleven}/v1/usage/character-stats?start_unix=10"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["detail"][0]["loc"][1], "end_unix");
    mocks.shutdown().await;
}

#[tokio::test]
async fn the_log_is_capped_but_the_totals_are_not() {
    let mocks = start(0.0, |p| p.personality.call_log_capacity = 3).await;
    let personality = mocks.url("personality").unwrap();
    for i in 0..5 {
        let response = client()
            .post(format!("{personality}/v1/personality"))
            .json(&json!({ "name": format!("Kid {i}"), "age": 6, "interests": ["dinosaurs"] }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
    let page = calls(&personality, 0).await;
    assert_eq!(
        (page.first_id, page.last_id, page.dropped, page.capacity),
        (3, 5, 2, 3)
    );
    assert_eq!(page.data.len(), 3);
    assert!(page.data.iter().all(|c| c.billed && c.usage.requests == 1));
    let summary: BooksSummary = get_json(&format!("{personality}/_mock/books")).await;
    assert_eq!(summary.total.usage.requests, 5);
    assert_eq!(summary.dropped, 2);

    let bad = client()
        .get(format!("{personality}/_mock/calls?after=minus"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    mocks.shutdown().await;
}

#[tokio::test]
async fn one_mock_names_the_whole_set() {
    let mocks = start(0.0, |_| {}).await;
    for (_, url) in mocks.urls() {
        let set: MockSet = get_json(&format!("{url}/_mock/set")).await;
        let expected: std::collections::BTreeMap<String, String> = mocks
            .urls()
            .into_iter()
            .map(|(n, u)| (n.to_owned(), u))
            .collect();
        assert_eq!(set.mocks, expected);
    }
    mocks.shutdown().await;
}
