//! results.json against its schema, merging runs, events, gateway headers, seeded
//! payloads and thresholds that abort.

mod common;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::{quiet, scenario, serve, temp_dir};
use gatebench_driver::{RESULTS_SCHEMA, RunOptions, RunResults, Targets, merge, mix_of, run};
use rust_decimal::Decimal;

/// A stand-in for the gateway: streamed chat with cache, cost and timing headers.
fn gateway_router() -> Router {
    let n = Arc::new(AtomicU64::new(0));
    Router::new()
        .route(
            "/v1/chat/completions",
            post(move || {
                let i = n.fetch_add(1, Ordering::SeqCst);
                async move {
                    let hit = i % 2 == 1;
                    let mut headers = vec![
                        ("content-type", "text/event-stream".to_owned()),
                        ("x-gatebench-cache", if hit { "hit" } else { "miss" }.to_owned()),
                        ("x-gatebench-cost-usd", "0.000123".to_owned()),
                        ("x-gatebench-provider", "openai".to_owned()),
                        ("x-gatebench-attempts", "1".to_owned()),
                        ("server-timing", "queue;dur=1.5, cache;dur=0.25, upstream;dur=12.0, total;dur=14.0".to_owned()),
                    ];
                    if hit {
                        headers.push(("x-gatebench-cache-similarity", "0.97".to_owned()));
                        headers.push(("x-gatebench-cache-key", "dragon".to_owned()));
                    }
                    let mut response = "data: {\"choices\":[{\"delta\":{\"content\":\"Once\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\" upon\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\ndata: [DONE]\n\n".into_response();
                    for (k, v) in headers {
                        response.headers_mut().insert(k, v.parse().unwrap());
                    }
                    response
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
}

const GATEWAY_SCENARIO: &str = r#"
name = "gw"
seed = 3
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 10
[[requests]]
name = "story"
kind = "chat"
stream = true
prompts = "prompts/mini.toml"
priority = "high"
api_key = "gb-alpha-dev"
[[requests]]
name = "health"
kind = "http"
path = "/healthz"
weight = 0.25
[thresholds]
"latency{request:story}" = ["p95 < 10s"]
"ttft{request:story}" = "p95 < 10s"
errors = "rate < 1%"
cache_hit_rate = "rate > 10%"
"cost_usd{request:story}" = "sum < 1"
"#;

fn validate(results: &RunResults) {
    let schema: serde_json::Value = serde_json::from_str(RESULTS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = serde_json::to_value(results).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_json_validates_and_carries_gateway_figures() {
    let url = serve(gateway_router()).await;
    let file = scenario(GATEWAY_SCENARIO);
    let options = RunOptions {
        record_requests: true,
        ..quiet()
    };
    let r = run(&file, &Targets::new(&url), options).await.unwrap();
    assert_eq!(r.totals.sent, 20);
    assert_eq!(r.totals.ok, 20, "{:?}", r.totals.errors);
    assert!(r.passed(), "{:#?}", r.thresholds);
    let dir = temp_dir("schema");
    let path = r.write_json(&dir).unwrap();
    let back = RunResults::read_json(&path).unwrap();
    // floats may come back one ulp off through JSON; counts, blobs and money do not
    assert_eq!(back.totals.sent, r.totals.sent);
    assert_eq!(back.histograms, r.histograms);
    assert_eq!(
        back.requests.as_ref().map(Vec::len),
        r.requests.as_ref().map(Vec::len)
    );
    assert_eq!(
        back.kinds.keys().collect::<Vec<_>>(),
        r.kinds.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        back.kinds["story"].gateway.as_ref().map(|g| g.cost_usd),
        r.kinds["story"].gateway.as_ref().map(|g| g.cost_usd)
    );
    validate(&back);

    let story = &r.kinds["story"];
    let g = story.gateway.as_ref().unwrap();
    // money adds exactly
    assert_eq!(
        g.cost_usd,
        Decimal::from_str("0.000123").unwrap() * Decimal::from(story.sent)
    );
    assert_eq!(
        g.cache.get("hit").copied().unwrap_or(0) + g.cache.get("miss").copied().unwrap_or(0),
        story.sent
    );
    assert!(g.similarity.is_some());
    for part in ["queue", "cache", "upstream", "total"] {
        let s = &g.server_timing_ms[part];
        assert_eq!(s.count, story.sent, "{part}");
    }
    assert!((g.server_timing_ms["queue"].p50 - 1.5).abs() < 0.01);
    assert_eq!(story.usage.cached_tokens, 4 * story.sent);
    assert!(r.kinds["health"].gateway.is_none());

    let records = r.requests.as_ref().unwrap();
    assert_eq!(records.len(), 20);
    let story_records: Vec<_> = records.iter().filter(|x| x.request == "story").collect();
    assert!(
        story_records
            .iter()
            .all(|x| x.intent.is_some() && x.priority.as_deref() == Some("high"))
    );
    assert!(
        story_records
            .iter()
            .all(|x| x.cost_usd == Some(Decimal::from_str("0.000123").unwrap()))
    );
    assert!(
        story_records
            .iter()
            .all(|x| x.server_timing.len() == 4 && x.usage.is_some() && x.ttft_ms.is_some())
    );
    assert!(
        story_records
            .iter()
            .any(|x| x.cache.as_deref() == Some("hit") && x.cache_key.as_deref() == Some("dragon"))
    );
    // the JSON keeps the cost as an exact decimal string
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(json.contains("\"cost_usd\": \"0.000123\""));
    let _ = std::fs::remove_dir_all(dir);
}

/// Streams of the two other generating APIs, as OpenAI sends them: text
/// completion chunks with a usage chunk, and a response's typed events.
fn apis_router() -> Router {
    let sse =
        |body: &'static str| move || async move { ([("content-type", "text/event-stream")], body) };
    Router::new()
        .route(
            "/v1/completions",
            post(sse("data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\" a\",\"index\":0,\"finish_reason\":null}]}\n\ndata: {\"object\":\"text_completion\",\"choices\":[{\"text\":\" lamp\",\"index\":0,\"finish_reason\":\"length\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n")),
        )
        .route(
            "/v1/responses",
            post(sse("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Tides\"}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\" rise.\"}\n\nevent: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"id\":\"resp_1\",\"status\":\"incomplete\",\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":16}}}\n\n")),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_completion_and_response_streams_are_timed_and_their_usage_read() {
    let url = serve(apis_router()).await;
    let file = scenario(
        r#"
name = "apis"
[load]
executor = "per-vu-iterations"
vus = 1
iterations = 8
[[requests]]
name = "text"
kind = "completions"
stream = true
prompts = "prompts/mini.toml"
[[requests]]
name = "response"
kind = "responses"
stream = true
system = "Be brief."
prompts = "prompts/mini.toml"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    validate(&r);
    for (name, completion, cached) in [("text", 2, 0), ("response", 16, 4)] {
        let k = &r.kinds[name];
        assert!(k.sent > 0, "{name}");
        assert_eq!(k.ok, k.sent, "{name}: {:?}", k.errors);
        assert_eq!(k.ttft_ms.as_ref().map(|t| t.count), Some(k.sent), "{name}");
        assert_eq!(k.usage.completion_tokens, completion * k.sent, "{name}");
        assert_eq!(k.usage.cached_tokens, cached * k.sent, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_runs_add_counts_and_histograms_exactly() {
    let url = serve(gateway_router()).await;
    let file = scenario(GATEWAY_SCENARIO);
    let a = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    let b = run(
        &file,
        &Targets::new(&url),
        RunOptions {
            seed: Some(11),
            ..quiet()
        },
    )
    .await
    .unwrap();
    // merge what was written to disk, as a user merging files would
    let b: RunResults = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    let m = merge(&[a.clone(), b.clone()]).unwrap();
    validate(&m);
    assert_eq!(m.totals.sent, a.totals.sent + b.totals.sent);
    assert_eq!(m.totals.ok, a.totals.ok + b.totals.ok);
    for (name, k) in &m.kinds {
        let (ka, kb) = (&a.kinds[name], &b.kinds[name]);
        assert_eq!(k.sent, ka.sent + kb.sent, "{name}");
        let l = k.latency_ms.as_ref().unwrap();
        let (la, lb) = (
            ka.latency_ms.as_ref().unwrap(),
            kb.latency_ms.as_ref().unwrap(),
        );
        assert_eq!(l.count, la.count + lb.count);
        assert_eq!(l.max, la.max.max(lb.max));
        assert_eq!(l.min, la.min.min(lb.min));
        assert!(l.p50 >= la.p50.min(lb.p50) && l.p50 <= la.p50.max(lb.p50));
    }
    let cost = |r: &RunResults| r.kinds["story"].gateway.as_ref().unwrap().cost_usd;
    assert_eq!(cost(&m), cost(&a) + cost(&b));
    // merging one run with nothing else changes nothing measurable
    let single = merge(std::slice::from_ref(&a)).unwrap();
    assert_eq!(single.kinds, a.kinds);
    assert_eq!(single.totals.sent, a.totals.sent);
    // the merged store evaluates thresholds like a live one
    let store = m.store().unwrap();
    let t = gatebench_driver::threshold::evaluate_all(&file.thresholds, &store);
    assert!(t.iter().all(|t| t.passed), "{t:#?}");
    assert!(merge(&[]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_payload_sequence() {
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 1
iterations = 40
[[requests]]
name = "story"
kind = "chat"
prompts = "prompts/mini.toml"
weight = 2
[[requests]]
name = "speech"
kind = "tts"
texts = "tts/texts.toml"
[[requests]]
name = "profile"
kind = "personality"
profiles = "personality/profiles.toml"
"#,
    );
    let draw = |seed: u64| -> Vec<_> {
        let mix = mix_of(&file.scenarios[0], 0, seed);
        (0..200).map(|n| mix.draw(n)).collect()
    };
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
    let shares: Vec<f64> = mix_of(&file.scenarios[0], 0, 1).shares().collect();
    assert_eq!(shares, [0.5, 0.25, 0.25]);
    // every request and several intents appear
    let d = draw(1);
    for r in 0..3 {
        assert!(d.iter().any(|x| x.request == r));
    }
    let intents: std::collections::BTreeSet<_> = d
        .iter()
        .filter(|x| x.request == 0)
        .filter_map(|x| x.payload.intent.clone())
        .collect();
    assert_eq!(intents.len(), 3);

    // end to end: the server receives the same bodies in the same order
    let bodies = Arc::new(Mutex::new(Vec::<Bytes>::new()));
    let record = |b: Arc<Mutex<Vec<Bytes>>>| {
        move |body: Bytes| {
            b.lock().unwrap().push(body);
            async { StatusCode::OK }
        }
    };
    let router = Router::new()
        .route("/v1/chat/completions", post(record(bodies.clone())))
        .route("/v1/text-to-speech/{voice}", post(record(bodies.clone())))
        .route("/v1/personality", post(record(bodies.clone())));
    let url = serve(router).await;
    let mut seen = Vec::new();
    for seed in [5, 5, 6] {
        run(
            &file,
            &Targets::new(&url),
            RunOptions {
                seed: Some(seed),
                ..quiet()
            },
        )
        .await
        .unwrap();
        seen.push(std::mem::take(&mut *bodies.lock().unwrap()));
    }
    assert_eq!(seen[0].len(), 40);
    assert_eq!(seen[0], seen[1]);
    assert_ne!(seen[0], seen[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_abort_threshold_stops_the_run_and_events_tell() {
    let url =
        serve(Router::new().route("/", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))).await;
    let file = scenario(
        r#"
[load]
executor = "constant-vus"
vus = 2
duration = "60s"
think_time = "10ms"
[[requests]]
name = "root"
kind = "http"
path = "/"
[thresholds]
errors = [{ threshold = "rate < 1%", abort_on_fail = true }]
"latency{request:root}" = "p95 < 60s"
"#,
    );
    let dir = temp_dir("events");
    let events = dir.join("events.jsonl");
    let options = RunOptions {
        events: Some(events.clone()),
        ..quiet()
    };
    let r = run(&file, &Targets::new(&url), options).await.unwrap();
    assert!(r.aborted, "{r:#?}");
    assert!(!r.passed());
    assert!(r.duration_s < r.planned_duration_s);
    let errors = r.thresholds.iter().find(|t| t.metric == "errors").unwrap();
    assert!(errors.aborted && !errors.passed && errors.value == Some(1.0));
    // said in the metric's unit, not as a debug `Some(1.0)`
    assert_eq!(
        r.abort_reason.as_deref(),
        Some("threshold errors rate < 1% failed (value 100.00%)")
    );
    let latency = r.thresholds.iter().find(|t| t.metric == "latency").unwrap();
    assert!(latency.passed && !latency.aborted);
    assert_eq!(r.totals.sent, r.totals.failed);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"start"));
    assert_eq!(types.last(), Some(&"end"));
    for t in ["stage", "snapshot", "threshold_breach"] {
        assert!(types.contains(&t), "no {t} event in {types:?}");
    }
    assert_eq!(lines.last().unwrap()["thresholds_passed"], false);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_invalid_target_is_reported() {
    let file = scenario(
        "[load]\nexecutor = \"per-vu-iterations\"\nvus = 1\niterations = 1\n[[requests]]\nname = \"a\"\nkind = \"http\"\npath = \"/\"\n",
    );
    assert!(
        run(&file, &Targets::new("ftp://127.0.0.1:1"), quiet())
            .await
            .is_err()
    );
    assert!(
        run(&file, &Targets::new("not a url"), quiet())
            .await
            .is_err()
    );
}
