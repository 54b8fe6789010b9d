//! A user's own app under the suite: a small story service written for this test
//! (`POST /api/story` calls the OpenAI mock, then the ElevenLabs mock), driven with
//! `http` requests and judged by the mocks' books — calls, units and money per app
//! request, with and without the app forwarding `x-request-id`.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use gatebench_mock::{MockOptions, MockPorts, RunningMocks};
use gatebench_suite::{SuiteFile, SuiteOptions, TargetProfile, run_suite};
use http::HeaderMap;
use serde_json::{Value, json};

/// What the app passes on to the providers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Forward {
    Nothing,
    RequestId,
    /// A traced app: the trace id goes on, under a span of its own.
    TraceContext,
}

struct App {
    openai: String,
    elevenlabs: String,
    forward: Forward,
    http: reqwest::Client,
}

async fn story(State(app): State<Arc<App>>, headers: HeaderMap, body: String) -> String {
    let ask: Value = serde_json::from_str(&body).unwrap_or_default();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let pass = match app.forward {
        Forward::Nothing => None,
        Forward::RequestId => text("x-request-id").map(|id| ("x-request-id", id)),
        Forward::TraceContext => text("traceparent").map(|tp| {
            let trace = tp.split('-').nth(1).unwrap_or_default().to_owned();
            ("traceparent", format!("00-{trace}-a1b2c3d4e5f60718-01"))
        }),
    };
    let with_id = |request: reqwest::RequestBuilder| match &pass {
        Some((name, value)) => request.header(*name, value.clone()),
        None => request,
    };
    let prompt = format!(
        "Tell {} a bedtime story about {}.",
        ask["child"].as_str().unwrap_or("me"),
        ask["topic"].as_str().unwrap_or("a cat")
    );
    let chat: Value = with_id(app.http.post(format!("{}/v1/chat/completions", app.openai)))
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 80, "messages": [{"role": "user", "content": prompt}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text: String = chat["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect();
    let audio = with_id(app.http.post(format!(
        "{}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
        app.elevenlabs
    )))
    .json(&json!({"text": text, "model_id": "eleven_flash_v2_5"}))
    .send()
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    json!({"story": text, "audio_bytes": audio.len()}).to_string()
}

async fn serve(app: App) -> String {
    let router = Router::new()
        .route("/api/story", post(story))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(Arc::new(app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

const SUITE: &str = r#"
name = "app-test"
[[check]]
name = "story_route"
severity = "critical"
kind = "app"
scenario = "story.toml"
[check.targets]
success_rate_min = 100.0
cost_per_request_max = 0.01
"#;

const SCENARIO: &str = r#"
name = "story"
seed = 5
[load]
executor = "per-vu-iterations"
vus = 4
iterations = 5
[[requests]]
name = "story"
kind = "http"
method = "POST"
path = "/api/story"
body = '{"child": "Mia", "age": 6, "topic": "a brave little dragon"}'
"#;

async fn judge(forward: Forward) -> Value {
    let mocks = RunningMocks::start(MockOptions {
        ports: MockPorts::EPHEMERAL,
        time_scale: 0.0,
        seed: 5,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let openai = mocks.url("openai").unwrap();
    let target = serve(App {
        openai: openai.clone(),
        elevenlabs: mocks.url("elevenlabs").unwrap(),
        forward,
        http: gatebench_tls::client(),
    })
    .await;
    let dir = std::env::temp_dir().join(format!(
        "gatebench-app-{}-{forward:?}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("suite.toml"), SUITE).unwrap();
    std::fs::write(dir.join("story.toml"), SCENARIO).unwrap();
    let suite = SuiteFile::load(dir.join("suite.toml").to_str().unwrap()).unwrap();
    let report = run_suite(
        &suite,
        &SuiteOptions {
            target: Some(target),
            mocks: Some(openai),
            keys: vec!["sk-app".into()],
            profile: TargetProfile::load("generic").unwrap(),
            seed: None,
            out: dir.join("out"),
            quiet: true,
            trust: gatebench_driver::Trust::Platform,
        },
    )
    .await;
    mocks.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let check = &report.checks[0];
    assert!(
        check.passed,
        "{}: {}",
        check.measured, check.evidence.summary
    );
    serde_json::to_value(&check.evidence).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_forwards_ids_is_costed_per_request_kind() {
    for forward in [Forward::RequestId, Forward::TraceContext] {
        per_request_kind(judge(forward).await);
    }
}

fn per_request_kind(evidence: Value) {
    let story = &evidence["details"]["by_request"]["story"];
    assert_eq!(story["requests"], 20);
    // one chat completion and one speech call per story
    assert_eq!(story["calls_per_request"], 2.0);
    assert!(story["characters_per_request"].as_f64().unwrap() > 0.0);
    assert!(story["output_tokens_per_request"].as_f64().unwrap() > 0.0);
    let summary = evidence["summary"].as_str().unwrap();
    assert!(summary.contains("caused 40 upstream calls"), "{summary}");
    assert!(summary.contains("forwards x-request-id"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_does_not_forward_ids_still_gets_the_run_totals() {
    let evidence = judge(Forward::Nothing).await;
    let summary = evidence["summary"].as_str().unwrap();
    assert!(summary.contains("caused 40 upstream calls"), "{summary}");
    assert!(summary.contains("does not forward"), "{summary}");
    assert_eq!(
        evidence["details"]["by_request"]["story"]["upstream_calls"],
        0
    );
}

#[test]
fn the_shipped_app_example_and_litellm_profile_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let suite = root.join("scenarios/targets/app-suite.toml");
    let suite = SuiteFile::load(suite.to_str().unwrap()).unwrap();
    for check in &suite.checks {
        let scenario = suite.resolve(check.scenario.as_deref().unwrap());
        gatebench_driver::ScenarioFile::load(&scenario).unwrap();
    }
    TargetProfile::load("litellm").unwrap();
}
