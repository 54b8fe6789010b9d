//! Every request the server saw is counted once, and each outcome class comes from a
//! server that causes it.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use common::{counted, quiet, scenario, serve};
use gatebench_driver::{Kind, RunResults, Targets, run};

fn errors(r: &RunResults, request: &str) -> Vec<(String, u64)> {
    r.kinds[request]
        .errors
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn check_sums(r: &RunResults) {
    assert_eq!(
        r.totals.sent,
        r.totals.ok + r.totals.failed + r.totals.interrupted
    );
    let per_kind: u64 = r.kinds.values().map(|k| k.sent).sum();
    assert_eq!(per_kind, r.totals.sent);
    for k in r.kinds.values() {
        assert_eq!(k.sent, k.ok + k.failed + k.interrupted);
        assert_eq!(k.failed, k.errors.values().sum::<u64>());
        assert_eq!(k.sent, k.outcomes.values().map(|o| o.count).sum::<u64>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_the_server_saw_is_counted_once() {
    let router = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        );
    let (router, seen) = counted(router);
    let url = serve(router).await;
    let file = scenario(
        r#"
[load]
executor = "shared-iterations"
vus = 8
iterations = 200
[[requests]]
name = "ok"
kind = "http"
path = "/ok"
weight = 5
[[requests]]
name = "fail"
kind = "http"
path = "/fail"
[[requests]]
name = "missing"
kind = "http"
path = "/missing"
[[requests]]
name = "slow"
kind = "http"
path = "/slow"
timeout = "100ms"
weight = 0.2
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    check_sums(&r);
    assert_eq!(r.totals.sent, 200);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        200,
        "server and driver disagree"
    );
    assert_eq!(r.totals.ok, r.kinds["ok"].sent);
    assert_eq!(
        errors(&r, "fail"),
        vec![("http_503".into(), r.kinds["fail"].sent)]
    );
    assert_eq!(
        errors(&r, "missing"),
        vec![("http_404".into(), r.kinds["missing"].sent)]
    );
    assert!(
        r.kinds["slow"].sent > 0,
        "the seeded mix should pick the slow request"
    );
    assert_eq!(
        errors(&r, "slow"),
        vec![("timeout".into(), r.kinds["slow"].sent)]
    );
    assert_eq!(r.totals.errors.values().sum::<u64>(), r.totals.failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_still_in_flight_after_the_grace_period_are_interrupted() {
    let (router, seen) = counted(Router::new().route(
        "/hang",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "never"
        }),
    ));
    let url = serve(router).await;
    let file = scenario(
        r#"
[load]
executor = "constant-vus"
vus = 5
duration = "300ms"
graceful_stop = "200ms"
[[requests]]
name = "hang"
kind = "http"
path = "/hang"
[thresholds]
"latency{request:hang}" = "p95 < 10s"
"latency{request:hang,status:interrupted}" = "count == 5"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    check_sums(&r);
    assert_eq!(r.totals.sent, 5);
    // cut off by the run's end, not failed by the target
    assert_eq!(r.totals.interrupted, 5);
    assert_eq!(r.totals.failed, 0);
    assert!(errors(&r, "hang").is_empty());
    let hang = &r.kinds["hang"];
    assert_eq!(hang.outcomes["interrupted"].count, 5);
    assert_eq!(seen.load(Ordering::SeqCst), 5);
    // the moment a request was cut is no response time: the request has no
    // latency, and a latency threshold has nothing to judge (it fails), unless
    // it asks for the interrupted requests by name
    assert!(hang.outcomes["interrupted"].latency_ms.is_some());
    assert_eq!(hang.latency_ms, None);
    let threshold = |key: &str| r.thresholds.iter().find(|t| t.key == key).unwrap();
    let p95 = threshold("latency{request:hang}");
    let count = threshold("latency{request:hang,status:interrupted}");
    assert_eq!((p95.value, p95.passed), (None, false), "{p95:?}");
    assert_eq!((count.value, count.passed), (Some(5.0), true), "{count:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_requests_cut_by_the_grace_period_are_interrupted() {
    let (router, seen) = counted(Router::new().route(
        "/hang",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "never"
        }),
    ));
    let url = serve(router).await;
    let file = scenario(
        r#"
[load]
executor = "constant-arrival-rate"
rate = 20
duration = "500ms"
max_vus = 100
graceful_stop = "200ms"
[[requests]]
name = "hang"
kind = "http"
path = "/hang"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    check_sums(&r);
    assert_eq!(r.totals.sent + r.totals.dropped, 10);
    assert_eq!(r.totals.interrupted, r.totals.sent);
    assert!(errors(&r, "hang").is_empty());
    assert_eq!(seen.load(Ordering::SeqCst), r.totals.sent);
}

/// Open-loop requests reuse connections (and their timers) across the worker
/// threads: a short timeout still fires, and a long one never cuts a fast answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_timeouts_fire_whichever_worker_a_request_lands_on() {
    let (router, seen) = counted(Router::new().route("/ok", get(|| async { "ok" })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late"
        }),
    ));
    let url = serve(router).await;
    let file = scenario(
        r#"
[load]
executor = "constant-arrival-rate"
rate = 100
duration = "1s"
max_vus = 50
graceful_stop = "1s"
[[requests]]
name = "ok"
kind = "http"
path = "/ok"
weight = 3
[[requests]]
name = "slow"
kind = "http"
path = "/slow"
timeout = "100ms"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    check_sums(&r);
    assert_eq!(r.totals.sent + r.totals.dropped, 100);
    assert_eq!(seen.load(Ordering::SeqCst), r.totals.sent);
    assert!(
        r.kinds["slow"].sent > 0,
        "the seeded mix should pick the slow request"
    );
    assert_eq!(r.kinds["ok"].ok, r.kinds["ok"].sent);
    assert_eq!(
        errors(&r, "slow"),
        vec![("timeout".into(), r.kinds["slow"].sent)]
    );
}

async fn ws_tts(ws: WebSocketUpgrade, final_audio: bool) -> Response {
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        // read until the closing empty text, then answer
        while let Some(Ok(msg)) = socket.recv().await {
            if let Message::Text(t) = msg
                && t.as_str().contains("\"text\":\"\"")
            {
                break;
            }
        }
        if final_audio {
            let _ = socket
                .send(Message::Text(
                    r#"{"audio":"AAAAAAAA","isFinal":null}"#.into(),
                ))
                .await;
            let _ = socket
                .send(Message::Text(r#"{"audio":null,"isFinal":true}"#.into()))
                .await;
        }
        let _ = socket.send(Message::Close(None)).await;
    })
}

fn chat_router() -> Router {
    let sse = |body: &'static str| {
        move || async move { ([("content-type", "text/event-stream")], body).into_response() }
    };
    let json = |body: &'static str| {
        move || async move { ([("content-type", "application/json")], body).into_response() }
    };
    Router::new()
        .route("/v1/chat/completions", post(json(r#"{"choices":[{"message":{"role":"assistant","content":"Once upon a time"}}],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#)))
        .route("/malformed/v1/chat/completions", post(json(r#"{"choices":[{"mess"#)))
        .route("/invalid/v1/chat/completions", post(json(r#"{"choices":[]}"#)))
        .route("/too-many/v1/chat/completions", post(|| async { (StatusCode::TOO_MANY_REQUESTS, r#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#) }))
        .route("/broken/v1/chat/completions", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/cut/v1/chat/completions", post(sse("data: {\"choices\":[{\"delta\":{\"content\":\"Once\"}}]}\n\n")))
        // failures the API states in the stream: OpenAI's error chunk, which ends a
        // chat stream without [DONE], and a response that failed
        .route("/failed/v1/chat/completions", post(sse("data: {\"choices\":[{\"delta\":{\"content\":\"Once\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n")))
        .route("/failed/v1/responses", post(sse("data: {\"type\":\"response.output_text.delta\",\"delta\":\"Once\"}\n\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"the model failed\"}}}\n\n")))
        .route(
            "/stream/v1/chat/completions",
            post(sse("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Once\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\" upon\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n")),
        )
        .route("/v1/webvtt", post(|| async { "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n" }))
        .route("/bad/v1/webvtt", post(|| async { "1\n00:00:00,000 --> 00:00:01,000\nhello\n" }))
        .route("/v1/text-to-speech/{voice}/stream-input", any(|ws: WebSocketUpgrade| ws_tts(ws, true)))
        .route("/silent/v1/text-to-speech/{voice}/stream-input", any(|ws: WebSocketUpgrade| ws_tts(ws, false)))
}

/// A server that accepts connections and closes them without answering.
async fn resetting_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt as _;
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                drop(stream);
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_class_comes_from_a_server_that_causes_it() {
    let (router, seen) = counted(chat_router());
    let url = serve(router).await;
    let reset_url = resetting_server().await;
    // a port nobody listens on
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let scenario_for = |name: &str, fields: &str| {
        format!(
            "[scenarios.{name}]\nload = {{ executor = \"per-vu-iterations\", vus = 1, iterations = 3 }}\n[[scenarios.{name}.requests]]\nname = \"{name}\"\n{fields}\n"
        )
    };
    let chat =
        |path: &str| format!("kind = \"chat\"\nprompts = \"prompts/mini.toml\"\npath = \"{path}\"");
    let text = [
        scenario_for("ok", &chat("/v1/chat/completions")),
        scenario_for(
            "streamed",
            &format!("{}\nstream = true", chat("/stream/v1/chat/completions")),
        ),
        scenario_for("malformed", &chat("/malformed/v1/chat/completions")),
        scenario_for("invalid", &chat("/invalid/v1/chat/completions")),
        scenario_for("limited", &chat("/too-many/v1/chat/completions")),
        scenario_for("broken", &chat("/broken/v1/chat/completions")),
        scenario_for(
            "cut",
            &format!("{}\nstream = true", chat("/cut/v1/chat/completions")),
        ),
        scenario_for(
            "failed",
            &format!("{}\nstream = true", chat("/failed/v1/chat/completions")),
        ),
        scenario_for(
            "failed_response",
            "kind = \"responses\"\nstream = true\nprompts = \"prompts/mini.toml\"\npath = \"/failed/v1/responses\"",
        ),
        scenario_for("vtt", "kind = \"webvtt\"\ntexts = \"tts/texts.toml\""),
        scenario_for(
            "badvtt",
            "kind = \"webvtt\"\ntexts = \"tts/texts.toml\"\npath = \"/bad/v1/webvtt\"",
        ),
        scenario_for(
            "speech",
            "kind = \"tts_ws\"\ntexts = \"tts/texts.toml\"\nchunk_words = 3",
        ),
        scenario_for("reset", "kind = \"tts\"\ntexts = \"tts/texts.toml\""),
        scenario_for(
            "refused",
            "kind = \"personality\"\nprofiles = \"personality/profiles.toml\"",
        ),
    ]
    .concat();
    let file = scenario(&text);
    let targets = Targets::new(&url)
        .with(Kind::Chat, &url)
        .with(Kind::Webvtt, &url)
        .with(Kind::TtsWs, &url)
        .with(Kind::Tts, &reset_url)
        .with(Kind::Personality, &dead);
    let r = run(&file, &targets, quiet()).await.unwrap();
    check_sums(&r);
    let only = |name: &str, class: &str| {
        let k = &r.kinds[name];
        assert_eq!(k.sent, 3, "{name}: {k:?}");
        if class == "ok" {
            assert_eq!(k.ok, 3, "{name}: {:?}", k.errors);
        } else {
            assert_eq!(errors(&r, name), vec![(class.to_owned(), 3)], "{name}");
        }
    };
    only("ok", "ok");
    only("streamed", "ok");
    only("malformed", "malformed_body");
    only("invalid", "validation_failure");
    only("limited", "http_429");
    only("broken", "http_500");
    only("cut", "stream_cut");
    only("failed", "stream_error");
    only("failed_response", "stream_error");
    only("vtt", "ok");
    only("badvtt", "validation_failure");
    only("speech", "ok");
    only("reset", "reset");
    only("refused", "connect_error");
    // an error answer's message is kept, one per class; a bodiless one has none
    assert_eq!(
        r.kinds["limited"]
            .error_messages
            .get("http_429")
            .map(String::as_str),
        Some("slow down")
    );
    assert!(r.kinds["broken"].error_messages.is_empty());
    // and so is what a stream's error event said
    for (name, said) in [
        ("failed", "overloaded"),
        ("failed_response", "the model failed"),
    ] {
        let messages = &r.kinds[name].error_messages;
        assert_eq!(messages.get("stream_error").map(String::as_str), Some(said));
    }
    // usage and stream timing come from the server's own figures
    assert_eq!(r.kinds["ok"].usage.completion_tokens, 12);
    assert_eq!(r.kinds["streamed"].usage.prompt_tokens, 27);
    assert_eq!(
        r.kinds["streamed"].ttft_ms.as_ref().map(|t| t.count),
        Some(3)
    );
    // the stream's chunks arrive in one read: no token gap was waited for
    assert_eq!(r.kinds["streamed"].itl_ms, None);
    assert!(r.kinds["streamed"].tokens_per_s.is_some());
    // every request except those that never connected reached the counted server or
    // the resetting one
    assert_eq!(seen.load(Ordering::SeqCst), 3 * 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closed_without_audio_is_a_stream_cut() {
    let url = serve(chat_router()).await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 2
[[requests]]
name = "speech"
kind = "tts_ws"
texts = "tts/texts.toml"
path = "/silent/v1/text-to-speech/voice/stream-input"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert_eq!(errors(&r, "speech"), vec![("stream_cut".into(), 4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_error_message_is_a_stream_error_with_its_words() {
    let refusing = Router::new().route(
        "/v1/text-to-speech/{voice}/stream-input",
        any(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket: WebSocket| async move {
                let said = r#"{"message":"Voice not found","error":"voice_not_found","code":1008}"#;
                let _ = socket.send(Message::Text(said.into())).await;
                let _ = socket.send(Message::Close(None)).await;
            })
        }),
    );
    let url = serve(refusing).await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 1
iterations = 2
[[requests]]
name = "speech"
kind = "tts_ws"
texts = "tts/texts.toml"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    assert_eq!(errors(&r, "speech"), vec![("stream_error".into(), 2)]);
    let messages = &r.kinds["speech"].error_messages;
    assert_eq!(
        messages.get("stream_error").map(String::as_str),
        Some("voice_not_found")
    );
}

/// A cache hit generated nothing: it counts in latency, but its speed is not a
/// generation speed, so tokens/s comes from the misses alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_stay_out_of_tokens_per_second() {
    let answer = |cache: &'static str| {
        move || async move {
            (
                [("content-type", "application/json"), ("x-gatebench-cache", cache)],
                r#"{"choices":[{"message":{"role":"assistant","content":"Once upon a time"}}],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#,
            )
                .into_response()
        }
    };
    let url = serve(
        Router::new()
            .route("/hit/v1/chat/completions", post(answer("hit")))
            .route("/miss/v1/chat/completions", post(answer("miss"))),
    )
    .await;
    let file = scenario(
        r#"
[load]
executor = "per-vu-iterations"
vus = 2
iterations = 5
[[requests]]
name = "hits"
kind = "chat"
prompts = "prompts/mini.toml"
path = "/hit/v1/chat/completions"
[[requests]]
name = "misses"
kind = "chat"
prompts = "prompts/mini.toml"
path = "/miss/v1/chat/completions"
"#,
    );
    let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
    check_sums(&r);
    let (hits, misses) = (&r.kinds["hits"], &r.kinds["misses"]);
    assert!(hits.ok > 0 && misses.ok > 0, "{hits:?} {misses:?}");
    assert!(hits.latency_ms.is_some());
    assert_eq!(hits.tokens_per_s, None, "a hit is not a generation");
    assert!(misses.tokens_per_s.is_some());
}

/// An iteration executor whose `max_duration` runs out counts the iterations it
/// never started as dropped, by the request each would have sent, as k6's
/// `dropped_iterations` does: every planned iteration is sent or dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_left_unstarted_by_max_duration_are_dropped() {
    let url = serve(
        Router::new()
            .route(
                "/a",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    "a"
                }),
            )
            .route("/b", get(|| async { "b" })),
    )
    .await;
    for (executor, vus, planned) in [("shared-iterations", 2, 60), ("per-vu-iterations", 2, 60)] {
        let iterations = if executor == "shared-iterations" {
            60
        } else {
            30
        };
        let file = scenario(&format!(
            r#"
[load]
executor = "{executor}"
vus = {vus}
iterations = {iterations}
max_duration = "300ms"
graceful_stop = "1s"
[[requests]]
name = "a"
kind = "http"
path = "/a"
weight = 3
[[requests]]
name = "b"
kind = "http"
path = "/b"
"#
        ));
        let r = run(&file, &Targets::new(&url), quiet()).await.unwrap();
        check_sums(&r);
        assert!(r.totals.dropped > 0, "{executor}: {:?}", r.totals);
        assert_eq!(
            r.totals.sent + r.totals.dropped,
            planned,
            "{executor}: {:?}",
            r.totals
        );
        let per_request: u64 = r.kinds.values().map(|k| k.dropped).sum();
        assert_eq!(per_request, r.totals.dropped, "{executor}");
        assert!(
            r.kinds.values().all(|k| k.dropped > 0),
            "{executor}: both requests lose some"
        );
    }
}
