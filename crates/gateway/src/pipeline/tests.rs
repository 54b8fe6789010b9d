//! The pipeline's decisions, one at a time: what the cache may do, which usage is
//! billed, what a hit costs, what the record says, and how `run` ends when it
//! never reaches a provider.

use std::sync::Arc;

use bytes::Bytes;
use gatebench_cache::exact_key;
use gatebench_cost::{CacheOutcome, Kind, Usage};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::config::{GatewayConfig, ProviderKind};
use crate::dispatch::{Accepted, Media};
use crate::record::Record;
use crate::state::{CachedBody, CachedChat, CachedChoice, Gateway};

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        ..Usage::default()
    }
}

#[test]
fn the_cache_looks_up_and_stores_only_when_enabled_keyed_and_allowed() {
    for enabled in [false, true] {
        for cacheable in [false, true] {
            for no_cache in [false, true] {
                for no_store in [false, true] {
                    let p = CachePolicy::of(enabled, cacheable, no_cache, no_store);
                    let on = enabled && cacheable;
                    assert_eq!(
                        p.lookup,
                        on && !no_cache,
                        "{enabled} {cacheable} {no_cache}"
                    );
                    assert_eq!(p.store, on && !no_store, "{enabled} {cacheable} {no_store}");
                    let outcome = if p.lookup {
                        CacheOutcome::Miss
                    } else {
                        CacheOutcome::Bypass
                    };
                    assert_eq!(p.outcome(), outcome);
                }
            }
        }
    }
}

#[test]
fn reported_usage_beats_a_count_which_beats_the_worst_case() {
    let (reported, counted, worst) = (usage(10, 5), usage(10, 7), usage(10, 100));
    assert_eq!(
        billed(Some(reported), Some(counted), worst),
        (reported, false)
    );
    assert_eq!(billed(None, Some(counted), worst), (counted, true));
    assert_eq!(billed(None, None, worst), (worst, true));
}

fn cached_chat(cached_tokens: u64) -> CachedChat {
    CachedChat {
        model: "gpt-4o-mini".into(),
        provider: "openai".into(),
        choices: vec![CachedChoice {
            content: Some("hi".into()),
            tool_calls: Vec::new(),
            finish_reason: "stop".into(),
        }],
        completion_tokens: 12,
        reasoning_tokens: 0,
        cached_tokens,
        system_fingerprint: None,
    }
}

#[test]
fn a_chat_hit_saves_this_prompt_with_the_originals_cached_share() {
    let hit = chat_hit_usage(40, &cached_chat(32));
    assert_eq!(
        hit,
        Usage {
            prompt_tokens: 40,
            cached_tokens: 32,
            completion_tokens: 12,
            ..Usage::default()
        }
    );
    // a shorter paraphrase cannot have more cached tokens than prompt tokens
    assert_eq!(chat_hit_usage(20, &cached_chat(32)).cached_tokens, 20);
}

/// A gateway whose every provider is a closed loopback port, tenant `alpha`'s
/// budget `budget`, one attempt per provider.
fn gateway(budget: &str) -> Arc<Gateway> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = GatewayConfig::demo();
    for kind in [
        ProviderKind::Openai,
        ProviderKind::Elevenlabs,
        ProviderKind::Personality,
        ProviderKind::Webvtt,
    ] {
        config.set_base_url(kind, &url);
    }
    config.retry.max_attempts = 1;
    for tenant in &mut config.tenants {
        tenant.budget_usd = Some(budget.parse().unwrap());
    }
    Gateway::new(config, ":memory:").unwrap()
}

fn meta(gateway: &Gateway, id: &str) -> Meta {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer gb-alpha-dev"),
    );
    Meta::read(gateway, &headers, false, id.to_owned()).unwrap()
}

/// An embeddings call of `tokens` input tokens, cached under `key`.
async fn embeddings(
    gateway: &Gateway,
    meta: Meta,
    key: Option<ExactKey>,
    tokens: u64,
) -> Result<Done, GatewayError> {
    let headers = HeaderMap::new();
    let accept = |_: &[u8]| Some(Accepted::default());
    let call = Call {
        route: "embeddings",
        kind: Kind::Embeddings,
        provider_kind: ProviderKind::Openai,
        model: "text-embedding-3-small",
        routed: true,
        worst_case: usage(tokens, 0),
        cache: key.map_or(Cache::None, Cache::Exact),
        answer: Answer::Body,
        outbound: Outbound {
            method: Method::POST,
            path: "/v1/embeddings",
            headers: &headers,
            stream: false,
            media: Media::Any,
            accept: &accept,
        },
        body_for: &|_| Bytes::from_static(b"{}"),
        usage_of: &|_, _| None,
        pinned: None,
    };
    run(gateway, meta, call).await
}

#[tokio::test]
async fn a_call_over_budget_is_refused_before_anything_is_recorded() {
    let gateway = gateway("0.0000001");
    let refused = embeddings(&gateway, meta(&gateway, "r1"), None, 100_000).await;
    assert!(matches!(refused, Err(GatewayError::OverBudget { .. })));
    assert_eq!(gateway.ledger.totals("alpha").requests, 0);
    let state = gateway.budgets.state("alpha").unwrap();
    assert_eq!(
        (state.spent, state.reserved),
        (Decimal::ZERO, Decimal::ZERO)
    );
}

#[tokio::test]
async fn a_call_no_provider_answers_is_a_failed_entry_and_frees_its_reservation() {
    let gateway = gateway("1.00");
    let done = embeddings(&gateway, meta(&gateway, "r2"), None, 1_000)
        .await
        .unwrap();
    assert!(matches!(done.outcome, Outcome::Unanswered(_)));
    assert!(done.record.failed);
    assert_eq!(done.record.usage, Usage::default());
    assert_eq!(done.record.attempts, 1);
    let totals = gateway.ledger.totals("alpha");
    assert_eq!((totals.requests, totals.failed), (1, 1));
    assert_eq!(totals.cost_usd, Decimal::ZERO);
    let state = gateway.budgets.state("alpha").unwrap();
    assert_eq!(state.reserved, Decimal::ZERO);
}

/// Stores an embeddings answer for tenant `alpha`; its key.
fn cached_embedding(gateway: &Gateway) -> ExactKey {
    let key = exact_key("alpha", "/v1/embeddings", &json!({ "input": "hi" }));
    let stored = CachedBody {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: Bytes::from_static(b"{\"data\":[]}"),
        model: "text-embedding-3-small".into(),
        provider: "openai".into(),
    };
    gateway.exact_cache.insert("alpha", key, stored);
    key
}

#[tokio::test]
async fn an_exact_hit_is_answered_without_a_provider_and_saves_the_call() {
    let gateway = gateway("1.00");
    let key = cached_embedding(&gateway);
    let done = embeddings(&gateway, meta(&gateway, "r3"), Some(key), 1_000)
        .await
        .unwrap();
    assert!(matches!(done.outcome, Outcome::ExactHit(_)));
    assert_eq!(done.record.cache, CacheOutcome::Hit);
    assert_eq!(done.record.attempts, 0);
    assert_eq!(done.record.cost, Some(Decimal::ZERO));
    let totals = gateway.ledger.totals("alpha");
    assert_eq!((totals.requests, totals.cache_hits), (1, 1));
    assert!(totals.saved_usd > Decimal::ZERO);
}

#[tokio::test]
async fn no_cache_skips_the_lookup_and_the_call_goes_upstream() {
    let gateway = gateway("1.00");
    let key = cached_embedding(&gateway);
    let mut meta = meta(&gateway, "r4");
    meta.no_cache = true;
    let done = embeddings(&gateway, meta, Some(key), 1_000).await.unwrap();
    assert_eq!(done.record.cache, CacheOutcome::Bypass);
    assert!(matches!(done.outcome, Outcome::Unanswered(_)));
}

#[tokio::test]
async fn the_record_writes_what_the_ledger_keeps() {
    let gateway = gateway("1.00");
    let meta = meta(&gateway, "r5");
    let mut record = Record::new("chat", Kind::Chat, "gpt-4o-mini");
    record.provider = Some("openai".into());
    record.attempts = 2;
    let mut headers = HeaderMap::new();
    record.write(&meta, &mut headers);
    // tried but never answered: no model is named as the one that answered
    assert_eq!(headers["x-gatebench-provider"], "openai");
    assert!(!headers.contains_key("x-gatebench-model"));
    assert_eq!(headers["x-gatebench-attempts"], "2");
    assert_eq!(headers["x-gatebench-cache"], "bypass");

    record.hit("deepseek", "deepseek-chat", 0.93, "k1".into(), usage(10, 5));
    record.charge(&gateway, &meta, None);
    assert_eq!(record.cost, Some(Decimal::ZERO));
    let mut headers = HeaderMap::new();
    record.write(&meta, &mut headers);
    assert_eq!(headers["x-gatebench-model"], "deepseek-chat");
    assert_eq!(headers["x-gatebench-cache-similarity"], "0.9300");
    assert_eq!(headers["x-gatebench-cache-key"], "k1");
    assert_eq!(headers["x-gatebench-cost-usd"], "0");
    assert_eq!(headers["x-gatebench-request-id"], "r5");
    let call = record.call(&meta);
    assert_eq!(
        (call.provider, call.model, call.cache),
        (Some("deepseek"), "deepseek-chat", CacheOutcome::Hit)
    );
    let kept = gateway.ledger.all_entries(0, 10).unwrap();
    let entry = kept.last().unwrap();
    assert_eq!(
        (entry.request_id.as_str(), entry.usage, entry.cache),
        ("r5", usage(10, 5), CacheOutcome::Hit)
    );
}

#[tokio::test]
async fn a_value_that_is_not_header_text_is_left_out_and_the_rest_written() {
    let gateway = gateway("1.00");
    let meta = meta(&gateway, "r6");
    let mut record = Record::new("chat", Kind::Chat, "gpt\r\nx-injected: 1");
    record.provider = Some("openai".into());
    record.answered = true;
    record.attempts = 12;
    let mut headers = HeaderMap::new();
    record.write(&meta, &mut headers);
    assert!(!headers.contains_key("x-gatebench-model"));
    assert!(!headers.contains_key("x-injected"));
    assert_eq!(headers["x-gatebench-provider"], "openai");
    assert_eq!(headers["x-gatebench-attempts"], "12");
    assert_eq!(headers["x-gatebench-request-id"], "r6");
    let timing = headers["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("queue;dur=0.000, cache;dur=0.000, upstream;dur=0.000, total;dur="));
}

#[test]
fn only_the_providers_own_headers_pass_and_all_their_values() {
    let mut upstream = HeaderMap::new();
    for (name, value) in [
        ("content-type", "application/json"),
        ("connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("content-length", "812"),
        ("x-request-id", "req_1"),
        ("date", "Sun, 06 Dec 2026 14:31:19 GMT"),
        ("server", "cloudflare"),
        ("server-timing", "upstream;dur=1"),
        ("x-gatebench-cost-usd", "9"),
        ("x-ratelimit-remaining-requests", "499"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
        ("proxy-connection", "close"),
        ("te", "trailers"),
        ("trailer", "x-checksum"),
        ("upgrade", "h2c"),
    ] {
        upstream.append(
            http::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let passed = crate::record::passthrough(upstream);
    let mut names: Vec<&str> = passed.keys().map(http::HeaderName::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "content-type",
            "set-cookie",
            "x-ratelimit-remaining-requests",
            "x-request-id"
        ]
    );
    let cookies: Vec<_> = passed.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(passed["x-request-id"], "req_1");
}
