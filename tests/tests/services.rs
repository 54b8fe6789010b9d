//! End-to-end tests of the personality and WebVTT services: real servers on loopback,
//! driven with reqwest. WebVTT documents are checked twice, by an independent parser
//! (`webvtt-parser`) and by a strict reading of the W3C WebVTT syntax written here.

use std::time::Duration;

use cases::{BadInput, alignment};
use gatebench_mock::{MockOptions, MockPorts, Profile, RunningMocks};
use gatebench_wire::personality::PersonalityResponse;
use gatebench_wire::webvtt::WebVttResponse;
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use w3c::{ParsedCue, w3c_parse};

#[path = "services/cases.rs"]
mod cases;
#[path = "services/w3c.rs"]
mod w3c;

async fn start(profile: Profile) -> RunningMocks {
    RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed: 42,
        profile,
        ..Default::default()
    })
    .await
    .expect("mocks start")
}

fn url(mocks: &RunningMocks, mock: &str, path: &str) -> String {
    format!("{}{path}", mocks.url(mock).expect("mock running"))
}

async fn post(client: &Client, url: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// The single validation issue of a 422 body: (loc, msg, type).
fn issue(body: &Value) -> (Value, String, String) {
    let detail = body["detail"].as_array().expect("a list under detail");
    let first = &detail[0];
    (
        first["loc"].clone(),
        first["msg"].as_str().unwrap_or_default().to_owned(),
        first["type"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Checks a document both ways and returns its cues.
fn check_vtt(doc: &str) -> Vec<ParsedCue> {
    let strict = w3c_parse(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    let independent = webvtt_parser::Vtt::parse(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    assert_eq!(independent.cues.len(), strict.len(), "{doc}");
    for (theirs, ours) in independent.cues.iter().zip(&strict) {
        assert_eq!(theirs.start.as_milliseconds(), ours.start_ms);
        assert_eq!(theirs.end.as_milliseconds(), ours.end_ms);
    }
    strict
}

fn words_in(cues: &[ParsedCue]) -> Vec<String> {
    cues.iter()
        .flat_map(|c| c.lines.iter())
        .flat_map(|l| l.split_whitespace().map(str::to_owned))
        .collect()
}

fn text_words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

const STORY: &str = "Once upon a time, a small dragon named Ember lived under a hill. \
    She could not breathe fire <yet> & the other dragons laughed --> so she practised every day. \
    One morning, a spark! Then a flame. Ember smiled.";

// ---------------------------------------------------------------------------------
// Personality

#[tokio::test]
async fn personality_answers_per_age_band_and_repeats_itself() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "personality", "/v1/personality");
    let mut bands = Vec::new();
    for age in [4, 7, 11] {
        let body = json!({"age": age, "interests": ["dinosaurs", "space"], "name": "Sam"});
        let (status, first) = post(&client, &route, body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let (_, second) = post(&client, &route, body.to_string()).await;
        assert_eq!(first, second, "same input, same answer");
        let answer: PersonalityResponse = serde_json::from_value(first).unwrap();
        assert_eq!(answer.traits.len(), 5);
        assert!(answer.guidelines.iter().any(|g| g.contains("Sam")));
        bands.push((answer.age_band, answer.traits[0].name.clone()));
    }
    assert_eq!(
        bands,
        [
            ("3-5".to_owned(), "curious".to_owned()),
            ("6-8".to_owned(), "inquisitive".to_owned()),
            ("9-12".to_owned(), "investigative".to_owned()),
        ]
    );

    // Another process with the same seed answers the same.
    let again = start(Profile::default()).await;
    let body = json!({"age": 9, "interests": ["chess", "unusual hobby"]}).to_string();
    let (_, a) = post(&client, &route, body.clone()).await;
    let (_, b) = post(
        &client,
        &url(&again, "personality", "/v1/personality"),
        body,
    )
    .await;
    assert_eq!(a, b);
    mocks.shutdown().await;
    again.shutdown().await;
}

#[tokio::test]
async fn personality_refuses_bad_input_with_422() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "personality", "/v1/personality");
    for BadInput {
        body,
        loc,
        kind,
        message,
    } in cases::personality()
    {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (status, answer) = post(&client, &route, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{shown}: {answer}"
        );
        let (got_loc, msg, got_kind) = issue(&answer);
        assert_eq!(
            (got_loc, got_kind.as_str()),
            (loc, kind),
            "{shown}: {answer}"
        );
        assert!(msg.contains(message), "{shown}: {msg}");
    }
    let eleven: Vec<String> = (0..11).map(|i| format!("hobby {i}")).collect();
    let (status, answer) = post(
        &client,
        &route,
        json!({"age": 5, "interests": eleven}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        issue(&answer).1,
        "interests may list at most 10 items (got 11)"
    );
    mocks.shutdown().await;
}

// ---------------------------------------------------------------------------------
// WebVTT

#[tokio::test]
async fn webvtt_from_a_duration_is_valid_and_keeps_the_words() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    for (text, seconds) in [(STORY, 14.5), (STORY, 4_000.0), ("Hi.", 0.0005)] {
        let response = client
            .post(&route)
            .json(&json!({"text": text, "duration_seconds": seconds}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/vtt; charset=utf-8"
        );
        let doc = response.text().await.unwrap();
        let cues = check_vtt(&doc);
        assert_eq!(words_in(&cues), text_words(text), "{doc}");
        if seconds > 3600.0 {
            assert!(doc.contains("\n01:"), "hours appear past one hour: {doc}");
        }
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn webvtt_from_an_alignment_follows_the_character_times() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    let body = json!({"text": STORY, "alignment": alignment(STORY), "max_chars_per_cue": 32});
    let response = client.post(&route).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc = response.text().await.unwrap();
    let cues = check_vtt(&doc);
    assert_eq!(words_in(&cues), text_words(STORY));
    assert!(
        cues.iter().all(|c| c.lines.join(" ").chars().count() <= 32),
        "{doc}"
    );
    assert_eq!(cues[0].start_ms, 0);
    let last_end = body["alignment"]["character_end_times_seconds"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(Value::as_f64)
        .unwrap();
    assert_eq!(
        cues.last().unwrap().end_ms,
        (last_end * 1000.0).round() as u64
    );
    // A sentence end starts a new cue: "hill." closes one.
    assert!(
        cues.iter()
            .any(|c| c.lines.last().is_some_and(|l| l.ends_with("hill."))),
        "{doc}"
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn webvtt_answers_json_when_asked() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    let body = json!({"text": STORY, "duration_seconds": 12.0, "max_cue_seconds": 3});
    let doc = client
        .post(&route)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = client
        .post(&route)
        .header(header::ACCEPT, "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let answer: WebVttResponse = response.json().await.unwrap();
    let cues = check_vtt(&doc);
    assert_eq!(answer.cues.len(), cues.len());
    assert_eq!(answer.duration_seconds, 12.0);
    for (json_cue, vtt_cue) in answer.cues.iter().zip(&cues) {
        assert_eq!(json_cue.text, vtt_cue.lines.join(" "));
        assert_eq!((json_cue.start * 1000.0).round() as u64, vtt_cue.start_ms);
        assert_eq!((json_cue.end * 1000.0).round() as u64, vtt_cue.end_ms);
        assert!(json_cue.end - json_cue.start <= 3.0 + 1e-9);
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn webvtt_refuses_bad_input_with_422() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    for BadInput {
        body,
        loc,
        kind,
        message,
    } in cases::webvtt()
    {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (status, answer) = post(&client, &route, body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{shown}: {answer}"
        );
        let (got_loc, msg, got_kind) = issue(&answer);
        assert_eq!(
            (got_loc, got_kind.as_str()),
            (loc, kind),
            "{shown}: {answer}"
        );
        assert!(msg.contains(message), "{shown}: {msg}");
    }
    mocks.shutdown().await;
}

// ---------------------------------------------------------------------------------
// What both share: body limit, keys, faults, stats, limits, capacity

#[tokio::test]
async fn huge_bodies_get_413_in_the_detail_shape() {
    let mut profile = Profile::default();
    profile.personality.body_limit = 10_000;
    profile.webvtt.body_limit = 10_000;
    let mocks = start(profile).await;
    let client = gatebench_tls::client();
    let big = "word ".repeat(20_000);
    for (mock, route, body) in [
        (
            "webvtt",
            "/v1/webvtt",
            json!({"text": big, "duration_seconds": 10}),
        ),
        (
            "personality",
            "/v1/personality",
            json!({"age": 5, "interests": [big]}),
        ),
    ] {
        let (status, answer) = post(&client, &url(&mocks, mock, route), body.to_string()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{mock}");
        assert_eq!(answer["detail"]["status"], "request_too_large", "{answer}");
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn a_required_key_is_enforced() {
    let mut profile = Profile::default();
    profile.personality.require_key = true;
    profile.webvtt.api_keys = vec!["sk-good".into()];
    let mocks = start(profile).await;
    let client = gatebench_tls::client();
    let body = json!({"age": 6, "interests": ["cats"]}).to_string();
    let route = url(&mocks, "personality", "/v1/personality");
    let (status, answer) = post(&client, &route, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["detail"]["status"], "needs_authorization");
    let keyed = client
        .post(&route)
        .bearer_auth("anything")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);

    let route = url(&mocks, "webvtt", "/v1/webvtt");
    let body = json!({"text": "Hi.", "duration_seconds": 1});
    let wrong = client
        .post(&route)
        .bearer_auth("sk-bad")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let answer: Value = wrong.json().await.unwrap();
    assert_eq!(answer["detail"]["status"], "invalid_api_key");
    let right = client
        .post(&route)
        .bearer_auth("sk-good")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    mocks.shutdown().await;
}

#[tokio::test]
async fn injected_faults_answer_in_the_detail_shape_and_stats_count_everything() {
    let mocks = start(Profile::default()).await;
    let client = gatebench_tls::client();
    for (mock, route, body) in [
        (
            "webvtt",
            "/v1/webvtt",
            json!({"text": "Hi there.", "duration_seconds": 1}),
        ),
        (
            "personality",
            "/v1/personality",
            json!({"age": 10, "interests": ["chess"]}),
        ),
    ] {
        let route_url = url(&mocks, mock, route);
        let ok = client.post(&route_url).json(&body).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let (status, _) = post(&client, &route_url, "{").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        let faults = url(&mocks, mock, "/_mock/faults");
        let put = client
            .put(&faults)
            .json(&json!({"server_error": 1.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let (status, answer) = post(&client, &route_url, body.to_string()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            answer["detail"]["status"], "internal_server_error",
            "{answer}"
        );
        assert!(answer["detail"]["message"].is_string());
        let put = client.put(&faults).json(&json!({})).send().await.unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let again = client.post(&route_url).json(&body).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);

        let stats: Value = client
            .get(url(&mocks, mock, "/_mock/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let counts = &stats["by_route"][route];
        assert_eq!(counts["ok"], 2, "{stats}");
        assert_eq!(counts["client_error"], 1, "{stats}");
        assert_eq!(counts["fault_server_error"], 1, "{stats}");
        assert_eq!(stats["requests"], 4, "{stats}");
        let health: Value = client
            .get(url(&mocks, mock, "/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["mock"], mock);
    }
    mocks.shutdown().await;
}

#[tokio::test]
async fn rate_limits_refuse_with_retry_after() {
    let mut profile = Profile::default();
    profile.webvtt.rate_limits.requests_per_minute = 2;
    profile.personality.rate_limits.tokens_per_minute = 3;
    let mocks = start(profile).await;
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    let body = json!({"text": "Hi.", "duration_seconds": 1});
    for _ in 0..2 {
        let ok = client.post(&route).json(&body).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let refused = client.post(&route).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert!(refused.headers().contains_key("retry-after-ms"));
    // Another key has its own budget.
    let other = client
        .post(&route)
        .bearer_auth("k2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // Personality counts interests against tokens per minute.
    let route = url(&mocks, "personality", "/v1/personality");
    let body = json!({"age": 8, "interests": ["a", "b"]});
    let ok = client.post(&route).json(&body).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = client.post(&route).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let answer: Value = refused.json().await.unwrap();
    assert!(
        answer["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("tokens"),
        "{answer}"
    );
    mocks.shutdown().await;
}

#[tokio::test]
async fn past_the_hard_capacity_limit_requests_are_refused() {
    let mut profile = Profile::default();
    profile.webvtt.capacity.soft_limit = 1;
    profile.webvtt.capacity.hard_limit = 1;
    profile.webvtt.first_byte = "fixed(3s)".parse().unwrap();
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 1.0,
        seed: 42,
        profile,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = gatebench_tls::client();
    let route = url(&mocks, "webvtt", "/v1/webvtt");
    let body = json!({"text": "Hold on.", "duration_seconds": 1});
    let first = tokio::spawn({
        let (client, route, body) = (client.clone(), route.clone(), body.clone());
        async move {
            client
                .post(&route)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        }
    });
    // Wait until the first request holds its slot (no timing assumption).
    let stats_url = url(&mocks, "webvtt", "/_mock/stats");
    for _ in 0..200 {
        let stats: Value = client
            .get(&stats_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["in_flight"] == 1 {
            // Margin for the handler to take its capacity slot after the middleware
            // counted it in flight.
            tokio::time::sleep(Duration::from_millis(100)).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = client.post(&route).json(&body).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let answer: Value = second.json().await.unwrap();
    assert_eq!(answer["detail"]["status"], "too_many_concurrent_requests");
    assert_eq!(first.await.unwrap().unwrap(), StatusCode::OK);
    mocks.shutdown().await;
}
