//! A small OpenAI-compatible gateway written for these tests, in front of the
//! OpenAI mock: per-tenant exact cache (whole and streamed answers), a cost header
//! and a ledger, x-request-id passed upstream, and the Responses API's whole
//! answers and stored responses (unbilled) for the tenant that made them. Each of
//! its bugs can be switched on,
//! so a suite run can show that the check meant to catch it does, and only it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;
use gatebench_tokens::{Encoding, count_chat_prompt};
use gatebench_wire::openai::ChatCompletionRequest;
use http::{HeaderMap, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The bugs a run switches on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bugs {
    /// Bills prompt tokens the provider cached at the full input price.
    pub bill_cached_full: bool,
    /// Drops the last content delta of every stream.
    pub drop_last_delta: bool,
    /// Ends a stream the provider cut with a clean `finish_reason: "stop"`.
    pub cut_as_stop: bool,
    /// Keys its cache without the tenant.
    pub shared_cache: bool,
    /// Writes $0 to the ledger for streamed answers.
    pub zero_stream_cost: bool,
    /// Reads and continues any stored response for any tenant: the provider
    /// holds them all under the gateway's one key.
    pub shared_responses: bool,
}

/// gpt-4o-mini's prices per million tokens: input, cached input, output.
const PRICES: (i64, i64, i64) = (15, 75, 60);

fn per_million(tokens: u64, cents_scaled: i64, scale: u32) -> Decimal {
    Decimal::from(tokens) * Decimal::new(cents_scaled, scale) / Decimal::from(1_000_000)
}

struct Gw {
    upstream: String,
    bugs: Bugs,
    http: reqwest::Client,
    cache: Mutex<HashMap<(String, Bytes), Cached>>,
    ledger: Mutex<Vec<(String, Value)>>,
    next: AtomicU64,
    /// The tenant of each stored response.
    owners: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
enum Cached {
    Whole(Bytes),
    Stream(Bytes),
}

impl Gw {
    fn cost(&self, prompt: u64, cached: u64, completion: u64) -> Decimal {
        let (input, cached_input, output) = PRICES;
        let cached_price = if self.bugs.bill_cached_full {
            (input * 10, 3)
        } else {
            (cached_input, 3)
        };
        per_million(prompt - cached, input, 2)
            + per_million(cached, cached_price.0, cached_price.1)
            + per_million(completion, output, 2)
    }

    fn bill(&self, tenant: &str, request_id: &str, cost: Decimal) {
        let mut ledger = self.ledger.lock().unwrap();
        let id = ledger.len() as u64 + 1;
        ledger.push((
            tenant.to_owned(),
            json!({ "id": id, "request_id": request_id, "cost_usd": cost.normalize().to_string() }),
        ));
    }

    fn may_reach(&self, tenant: &str, response: &str) -> bool {
        self.bugs.shared_responses
            || self
                .owners
                .lock()
                .unwrap()
                .get(response)
                .map(String::as_str)
                == Some(tenant)
    }
}

/// Serves the gateway on a free loopback port; returns its base URL.
pub async fn start(upstream: &str, bugs: Bugs) -> String {
    let gw = Arc::new(Gw {
        upstream: upstream.trim_end_matches('/').to_owned(),
        bugs,
        http: gatebench_tls::client(),
        cache: Mutex::default(),
        ledger: Mutex::default(),
        next: AtomicU64::new(1),
        owners: Mutex::default(),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/responses/{id}", get(stored))
        .route("/ledger", get(ledger))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(gw);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn tenant(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

fn answer(status: StatusCode, body: impl Into<Body>, headers: &[(&str, String)]) -> Response {
    let mut response = (status, body.into()).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

async fn ledger(
    State(gw): State<Arc<Gw>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(tenant) = tenant(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let after: u64 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let data: Vec<Value> = gw
        .ledger
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, e)| *t == tenant && e["id"].as_u64().unwrap_or(0) > after)
        .map(|(_, e)| e.clone())
        .collect();
    let next = data.last().and_then(|e| e["id"].as_u64()).unwrap_or(after);
    axum::Json(json!({ "data": data, "has_more": false, "next_after": next })).into_response()
}

/// A whole Responses API answer, relayed; its id noted as the tenant's.
async fn responses(State(gw): State<Arc<Gw>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(tenant) = tenant(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let previous = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["previous_response_id"].as_str().map(str::to_owned));
    if let Some(previous) = previous
        && !gw.may_reach(&tenant, &previous)
    {
        return answer(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"message":"not found","code":"previous_response_not_found"}}"#,
            &[],
        );
    }
    let upstream = gw
        .http
        .post(format!("{}/v1/responses", gw.upstream))
        .body(body);
    let (status, bytes) = relay(upstream, &headers).await;
    if status.is_success()
        && let Some(id) = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned))
    {
        gw.owners.lock().unwrap().insert(id, tenant);
    }
    answer(
        status,
        bytes,
        &[("content-type", "application/json".into())],
    )
}

/// A stored response, for the tenant that made it.
async fn stored(State(gw): State<Arc<Gw>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(tenant) = tenant(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if !gw.may_reach(&tenant, &id) {
        return answer(
            StatusCode::NOT_FOUND,
            r#"{"error":{"message":"not found"}}"#,
            &[],
        );
    }
    let upstream = gw.http.get(format!("{}/v1/responses/{id}", gw.upstream));
    let (status, bytes) = relay(upstream, &headers).await;
    answer(
        status,
        bytes,
        &[("content-type", "application/json".into())],
    )
}

/// Sends `upstream` with the gateway's key and the client's request id.
async fn relay(upstream: reqwest::RequestBuilder, headers: &HeaderMap) -> (StatusCode, Bytes) {
    let mut upstream = upstream
        .bearer_auth("sk-faulty-upstream")
        .header("content-type", "application/json");
    if let Some(id) = headers.get("x-request-id") {
        upstream = upstream.header("x-request-id", id.clone());
    }
    match upstream.send().await {
        Ok(r) => (r.status(), r.bytes().await.unwrap_or_default()),
        Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}

async fn chat(State(gw): State<Arc<Gw>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(tenant) = tenant(&headers) else {
        return answer(
            StatusCode::UNAUTHORIZED,
            r#"{"error":{"message":"no key"}}"#,
            &[],
        );
    };
    let request_id = format!("fg-{}", gw.next.fetch_add(1, Ordering::Relaxed));
    let Ok(mut parsed) = serde_json::from_slice::<Value>(&body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            r#"{"error":{"message":"bad json"}}"#,
            &[],
        );
    };
    let stream = parsed["stream"] == json!(true);
    let key = (
        if gw.bugs.shared_cache {
            String::new()
        } else {
            tenant.clone()
        },
        body.clone(),
    );
    let cached = gw.cache.lock().unwrap().get(&key).cloned();
    let ids = |cache: &str, cost: Option<Decimal>| {
        let mut h = vec![
            ("x-faulty-cache", cache.to_owned()),
            ("x-faulty-request-id", request_id.clone()),
        ];
        if let Some(cost) = cost {
            h.push(("x-faulty-cost", cost.normalize().to_string()));
        }
        h
    };
    match cached {
        Some(Cached::Whole(bytes)) => {
            let mut h = ids("hit", Some(Decimal::ZERO));
            h.push(("content-type", "application/json".into()));
            return answer(StatusCode::OK, bytes, &h);
        }
        Some(Cached::Stream(bytes)) => {
            let mut h = ids("hit", None);
            h.push(("content-type", "text/event-stream".into()));
            return answer(StatusCode::OK, bytes, &h);
        }
        None => {}
    }
    if stream {
        parsed["stream_options"] = json!({ "include_usage": true });
    }
    let mut upstream = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.upstream))
        .bearer_auth("sk-faulty-upstream")
        .json(&parsed);
    if let Some(id) = headers.get("x-request-id") {
        upstream = upstream.header("x-request-id", id.clone());
    }
    let response = match upstream.send().await {
        Ok(r) => r,
        Err(e) => {
            return answer(
                StatusCode::BAD_GATEWAY,
                format!("{{\"error\":{{\"message\":\"{e}\"}}}}"),
                &[],
            );
        }
    };
    let status = response.status();
    if !status.is_success() {
        let text = response.bytes().await.unwrap_or_default();
        return answer(status, text, &[("content-type", "application/json".into())]);
    }
    if !stream {
        let Ok(bytes) = response.bytes().await else {
            return answer(
                StatusCode::BAD_GATEWAY,
                r#"{"error":{"message":"cut"}}"#,
                &[],
            );
        };
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            return answer(
                StatusCode::BAD_GATEWAY,
                r#"{"error":{"message":"malformed"}}"#,
                &[],
            );
        };
        let u = &value["usage"];
        let cost = gw.cost(
            u["prompt_tokens"].as_u64().unwrap_or(0),
            u["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
            u["completion_tokens"].as_u64().unwrap_or(0),
        );
        gw.bill(&tenant, &request_id, cost);
        gw.cache
            .lock()
            .unwrap()
            .insert(key, Cached::Whole(bytes.clone()));
        let mut h = ids("miss", Some(cost));
        h.push(("content-type", "application/json".into()));
        return answer(StatusCode::OK, bytes, &h);
    }

    // A relayed stream: lines as they come, billed when it ends.
    let prompt = serde_json::from_value::<ChatCompletionRequest>(parsed.clone())
        .map(|r| count_chat_prompt(Encoding::O200kBase, &r) as u64)
        .unwrap_or(0);
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
    let gw2 = Arc::clone(&gw);
    let headers_out = ids("miss", None);
    tokio::spawn(async move {
        let gw = gw2;
        let mut upstream = response.bytes_stream();
        let (mut pending, mut text, mut usage, mut sent) = (
            Vec::<u8>::new(),
            String::new(),
            None::<Value>,
            Vec::<u8>::new(),
        );
        let mut held: Option<String> = None;
        let mut complete = false;
        let send = |line: &str, sent: &mut Vec<u8>| {
            let chunk = format!("{line}\n\n");
            sent.extend_from_slice(chunk.as_bytes());
            let _ = tx.unbounded_send(Ok(Bytes::from(chunk)));
        };
        'read: while let Some(frame) = upstream.next().await {
            let Ok(frame) = frame else { break };
            pending.extend_from_slice(&frame);
            while let Some(at) = pending.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = pending.drain(..at + 2).collect();
                let line = String::from_utf8_lossy(&event).trim().to_owned();
                let Some(data) = line.strip_prefix("data: ") else {
                    continue;
                };
                if data == "[DONE]" {
                    complete = true;
                    send(&line, &mut sent);
                    break 'read;
                }
                let chunk: Value = serde_json::from_str(data).unwrap_or_default();
                if chunk["usage"].is_object() {
                    usage = Some(chunk["usage"].clone());
                }
                let content = chunk["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap_or("");
                if !content.is_empty() {
                    text.push_str(content);
                    if gw.bugs.drop_last_delta {
                        if let Some(previous) = held.replace(line.clone()) {
                            send(&previous, &mut sent);
                        }
                        continue;
                    }
                } else if chunk["choices"][0]["finish_reason"].is_string() {
                    // the bug: the last delta held back is never sent
                    held = None;
                }
                send(&line, &mut sent);
            }
        }
        let cost = match (&usage, complete) {
            (Some(u), true) => gw.cost(
                u["prompt_tokens"].as_u64().unwrap_or(0),
                u["prompt_tokens_details"]["cached_tokens"]
                    .as_u64()
                    .unwrap_or(0),
                u["completion_tokens"].as_u64().unwrap_or(0),
            ),
            // cut: the prompt and what was delivered, as the provider bills it
            _ => gw.cost(prompt, 0, Encoding::O200kBase.count(&text) as u64),
        };
        let cost = if gw.bugs.zero_stream_cost {
            Decimal::ZERO
        } else {
            cost
        };
        gw.bill(&tenant, &request_id, cost);
        if complete {
            gw.cache
                .lock()
                .unwrap()
                .insert(key, Cached::Stream(Bytes::from(sent)));
        } else if gw.bugs.cut_as_stop {
            send(
                r#"data: {"id":"cut","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                &mut sent,
            );
            send("data: [DONE]", &mut sent);
        } else {
            let _ = tx.unbounded_send(Err(std::io::Error::other("upstream cut")));
        }
    });
    let mut h = headers_out;
    h.push(("content-type", "text/event-stream".into()));
    answer(StatusCode::OK, Body::from_stream(rx), &h)
}
