//! Cost tracking, checked against an independent recomputation: the prices read
//! straight from `pricing/*.toml` with `toml`, the units taken from what each
//! response carried, and the arithmetic done here, not by the gateway's code.

use std::collections::HashMap;
use std::str::FromStr;

use gatebench_e2e::{ALPHA, BETA, chat_body, client, stack};
use gatebench_tokens::Encoding;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// model → (field → price).
pub(crate) type PriceTable = HashMap<String, HashMap<String, Decimal>>;

/// The prices, read from the repo's price files.
pub(crate) fn price_table() -> PriceTable {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../pricing");
    let mut table = HashMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let file: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for model in file["model"].as_array().unwrap() {
            let mut prices = HashMap::new();
            for (key, value) in model.as_table().unwrap() {
                if let Some(text) = value.as_str()
                    && (key.ends_with("_per_million") || key.starts_with("per_"))
                {
                    prices.insert(key.clone(), Decimal::from_str(text).unwrap());
                }
            }
            table.insert(model["id"].as_str().unwrap().to_owned(), prices);
        }
    }
    table
}

pub(crate) fn price(table: &PriceTable, model: &str, field: &str) -> Decimal {
    table[model].get(field).copied().unwrap_or(Decimal::ZERO)
}

fn chat_cost(table: &PriceTable, model: &str, usage: &Value) -> Decimal {
    let prompt = Decimal::from(usage["prompt_tokens"].as_u64().unwrap());
    let cached = Decimal::from(
        usage["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
    );
    let completion = Decimal::from(usage["completion_tokens"].as_u64().unwrap());
    let million = Decimal::from(1_000_000);
    ((prompt - cached) * price(table, model, "input_per_million")
        + cached * price(table, model, "cached_input_per_million")
        + completion * price(table, model, "output_per_million"))
        / million
}

/// The usage a chat stream's usage chunk carries.
fn stream_usage(text: &str) -> Value {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|c| c["usage"].is_object())
        .unwrap()["usage"]
        .clone()
}

struct Seen {
    request_id: String,
    expected: Decimal,
    cache_hit: bool,
}

#[tokio::test]
async fn every_ledger_entry_equals_an_independent_recomputation() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let table = price_table();
    let mut seen: Vec<Seen> = Vec::new();
    let header = |r: &reqwest::Response, name: &str| r.headers()[name].to_str().unwrap().to_owned();

    // Chat on three models, a repeated long prompt (provider-cached tokens), a cache hit.
    let long =
        "Our returns policy explains, in detail, how customers may send back goods. ".repeat(120);
    let prompts: Vec<(&str, String)> = vec![
        (
            "gpt-4o-mini",
            "Tell me a story about a lighthouse keeper.".into(),
        ),
        ("gpt-4o", "Explain scope 2 emissions briefly.".into()),
        (
            "deepseek-chat",
            "How do I change my delivery address?".into(),
        ),
        (
            "gpt-4o-mini",
            format!("{long} Question one: how long do I have?"),
        ),
        (
            "gpt-4o-mini",
            format!("{long} Question two: who pays for shipping?"),
        ),
        (
            "gpt-4o-mini",
            "Tell me a story about a lighthouse keeper.".into(),
        ),
    ];
    for (model, prompt) in &prompts {
        let r = http
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(ALPHA)
            .json(&chat_body(model, prompt))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (id, cache) = (
            header(&r, "x-gatebench-request-id"),
            header(&r, "x-gatebench-cache"),
        );
        let body: Value = r.json().await.unwrap();
        let served = body["model"].as_str().unwrap().to_owned();
        seen.push(Seen {
            request_id: id,
            expected: chat_cost(&table, &served, &body["usage"]),
            cache_hit: cache == "hit",
        });
    }
    assert!(
        seen.last().unwrap().cache_hit,
        "the repeated prompt hit the cache"
    );

    // A reasoning model, whole and streamed: its hidden reasoning tokens are
    // completion tokens, billed at the output price.
    let mut reasoned = Vec::new();
    for stream in [false, true] {
        let body = json!({
            "model": "gpt-5-mini",
            // one question each, so that the second is no cache hit of the first
            "messages": [{"role": "user", "content": if stream { "Plan a three-day trip to Lisbon." } else { "Which museums open late in Oslo?" }}],
            "max_completion_tokens": 4000,
            "reasoning_effort": "low",
            "stream": stream,
            "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        });
        let r = http
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(ALPHA)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = header(&r, "x-gatebench-request-id");
        let text = r.text().await.unwrap();
        let usage = if stream {
            stream_usage(&text)
        } else {
            serde_json::from_str::<Value>(&text).unwrap()["usage"].clone()
        };
        let reasoning = usage["completion_tokens_details"]["reasoning_tokens"].as_u64();
        assert!(reasoning.unwrap() > 0, "{usage}");
        seen.push(Seen {
            request_id: id,
            expected: chat_cost(&table, "gpt-5-mini", &usage),
            cache_hit: false,
        });
        reasoned.push((body, usage));
    }

    // A hit of the whole one states the usage it replays, its reasoning included.
    let (body, usage) = &reasoned[0];
    let r = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-gatebench-cache"), "hit");
    let replayed: Value = r.json().await.unwrap();
    assert_eq!(
        replayed["usage"]["completion_tokens_details"]["reasoning_tokens"],
        usage["completion_tokens_details"]["reasoning_tokens"]
    );
    assert_eq!(
        replayed["usage"]["completion_tokens"],
        usage["completion_tokens"]
    );

    // A stream with include_usage: usage from its final chunk.
    let mut body = chat_body("gpt-4o-mini", "Write two sentences about recycling.");
    body["stream"] = true.into();
    body["stream_options"] = json!({"include_usage": true});
    let r = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await
        .unwrap();
    let id = header(&r, "x-gatebench-request-id");
    let text = r.text().await.unwrap();
    let usage = stream_usage(&text);
    // its cost, stated in a comment just before [DONE] (SSE clients skip comments)
    let stated = text
        .split("\n\n")
        .find_map(|e| e.strip_prefix(": x-gatebench-cost-usd "))
        .map(|c| Decimal::from_str(c.trim()).unwrap())
        .expect("a completed stream states its cost");
    assert!(
        text.find(": x-gatebench-cost-usd") < text.find("data: [DONE]"),
        "{text}"
    );
    let streamed = (id.clone(), stated);
    seen.push(Seen {
        request_id: id,
        expected: chat_cost(&table, "gpt-4o-mini", &usage),
        cache_hit: false,
    });

    // A stream without include_usage: the client has no usage; count the text it got.
    let mut body = chat_body("gpt-4o-mini", "Write two sentences about composting.");
    body["stream"] = true.into();
    let r = http
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(ALPHA)
        .json(&body)
        .send()
        .await
        .unwrap();
    let unusaged = header(&r, "x-gatebench-request-id");
    let text = r.text().await.unwrap();
    let content: String = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let completion_tokens = Encoding::O200kBase.count(&content) as u64;

    // Embeddings, speech, the two services.
    let r = http
        .post(format!("{url}/v1/embeddings"))
        .bearer_auth(ALPHA)
        .json(&json!({"model": "text-embedding-3-small", "input": ["green energy", "wind farms"]}))
        .send()
        .await
        .unwrap();
    let id = header(&r, "x-gatebench-request-id");
    let body: Value = r.json().await.unwrap();
    let tokens = Decimal::from(body["usage"]["prompt_tokens"].as_u64().unwrap());
    seen.push(Seen {
        request_id: id,
        expected: tokens * price(&table, "text-embedding-3-small", "input_per_million")
            / Decimal::from(1_000_000),
        cache_hit: false,
    });
    for model in ["eleven_multilingual_v2", "eleven_flash_v2_5"] {
        let r = http
            .post(format!("{url}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"))
            .header("xi-api-key", ALPHA)
            .json(&json!({"text": "A quiet night by the sea.", "model_id": model}))
            .send()
            .await
            .unwrap();
        let id = header(&r, "x-gatebench-request-id");
        let characters = Decimal::from_str(&header(&r, "character-cost")).unwrap();
        seen.push(Seen {
            request_id: id,
            expected: characters * price(&table, model, "per_thousand_characters")
                / Decimal::from(1000),
            cache_hit: false,
        });
    }
    for (path, body, model) in [
        (
            "/v1/personality",
            json!({"age": 7, "interests": ["space"]}),
            "personality",
        ),
        (
            "/v1/webvtt",
            json!({"text": "Hello there.", "duration_seconds": 1.5}),
            "webvtt",
        ),
    ] {
        let r = http
            .post(format!("{url}{path}"))
            .bearer_auth(ALPHA)
            .json(&body)
            .send()
            .await
            .unwrap();
        seen.push(Seen {
            request_id: header(&r, "x-gatebench-request-id"),
            expected: price(&table, model, "per_request"),
            cache_hit: false,
        });
    }

    // The ledger, as the tenant reads it.
    let ledger: Value = http
        .get(format!("{url}/v1/gatebench/ledger?limit=1000"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = ledger["data"].as_array().unwrap();
    let by_id: HashMap<&str, &Value> = entries
        .iter()
        .map(|e| (e["request_id"].as_str().unwrap(), e))
        .collect();
    let mut mismatches = Vec::new();
    for s in &seen {
        let entry = by_id[s.request_id.as_str()];
        let (cost, saved) = (
            Decimal::from_str(entry["cost_usd"].as_str().unwrap()).unwrap(),
            Decimal::from_str(entry["saved_usd"].as_str().unwrap()).unwrap(),
        );
        let (want_cost, want_saved) = if s.cache_hit {
            (Decimal::ZERO, s.expected)
        } else {
            (s.expected, Decimal::ZERO)
        };
        if cost != want_cost || saved != want_saved {
            mismatches.push(format!(
                "{}: cost {cost} (want {want_cost}), saved {saved} (want {want_saved})",
                s.request_id
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "entries that differ:\n{}",
        mismatches.join("\n")
    );
    let (stream_id, stated) = &streamed;
    assert_eq!(
        Decimal::from_str(by_id[stream_id.as_str()]["cost_usd"].as_str().unwrap()).unwrap(),
        *stated,
        "the stream's stated cost is its ledger entry's"
    );
    let stream_entry = by_id[unusaged.as_str()];
    assert_eq!(
        stream_entry["usage"]["completion_tokens"].as_u64().unwrap(),
        completion_tokens
    );
    assert!(
        !stream_entry["flags"]["estimated"]
            .as_bool()
            .unwrap_or(false)
    );

    // Totals are the sum of the entries, exactly.
    let usage: Value = http
        .get(format!("{url}/v1/gatebench/usage"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sum: Decimal = entries
        .iter()
        .map(|e| Decimal::from_str(e["cost_usd"].as_str().unwrap()).unwrap())
        .sum();
    assert_eq!(
        Decimal::from_str(usage["cost_usd"].as_str().unwrap()).unwrap(),
        sum
    );
    assert_eq!(usage["requests"].as_u64().unwrap(), entries.len() as u64);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_tenant_over_budget_is_refused_and_told_not_to_retry() {
    let stack = stack(|o| {
        o.gateway.tenants[1].budget_usd = Some(Decimal::from_str("0.0001").unwrap());
    })
    .await;
    let http = client();
    let response = http
        .post(format!("{}/v1/chat/completions", stack.gateway_url()))
        .bearer_auth(BETA)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["x-should-retry"], "false");
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "insufficient_quota"
    );
    // On the ElevenLabs-style routes the refusal takes their `detail` shape, as
    // their SDKs read every other error, headers kept.
    let text = "A sentence long enough to cost more than this tenant has left. ".repeat(20);
    for (path, body) in [
        (
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
            json!({"text": text, "model_id": "eleven_multilingual_v2"}),
        ),
        (
            "/v1/personality",
            json!({"name": "Mia", "age": 4, "interests": ["unicorns"]}),
        ),
    ] {
        let response = http
            .post(format!("{}{path}", stack.gateway_url()))
            .bearer_auth(BETA)
            .header("xi-api-key", BETA)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429, "{path}");
        assert_eq!(response.headers()["x-should-retry"], "false", "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            error["detail"]["status"], "insufficient_quota",
            "{path}: {error}"
        );
        assert!(
            error["detail"]["message"]
                .as_str()
                .unwrap()
                .contains("budget"),
            "{error}"
        );
    }
    // A call within the budget still goes through.
    let response = http
        .post(format!("{}/v1/chat/completions", stack.gateway_url()))
        .bearer_auth(BETA)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    stack.shutdown().await;
}

/// A call asking for more output than the model writes in one call is the
/// provider's to refuse (400), not the budget's: its worst case is quoted at the
/// model's output limit, which the tenant's budget covers.
#[tokio::test]
async fn a_call_asking_past_the_model_s_output_limit_is_refused_by_the_provider() {
    let stack = stack(|_| {}).await;
    let response = client()
        .post(format!("{}/v1/chat/completions", stack.gateway_url()))
        .bearer_auth(ALPHA)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1_000_000_000u64}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error = response.json::<Value>().await.unwrap();
    assert_eq!(error["error"]["param"], "max_tokens", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("max_tokens is too large"),
        "{error}"
    );
    stack.shutdown().await;
}

#[tokio::test]
async fn totals_and_budgets_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("gatebench-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.db").display().to_string();
    let _ = std::fs::remove_file(&ledger);
    let http = client();
    let first = stack(|o| o.ledger = ledger.clone()).await;
    for i in 0..3 {
        let r = http
            .post(format!("{}/v1/chat/completions", first.gateway_url()))
            .bearer_auth(ALPHA)
            .json(&chat_body("gpt-4o-mini", &format!("restart question {i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let before: Value = http
        .get(format!("{}/v1/gatebench/usage", first.gateway_url()))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    first.shutdown().await;

    let second = stack(|o| o.ledger = ledger.clone()).await;
    let after: Value = http
        .get(format!("{}/v1/gatebench/usage", second.gateway_url()))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["cost_usd"], before["cost_usd"]);
    assert_eq!(after["requests"], 3);
    assert_eq!(after["budget"]["spent_usd"], before["cost_usd"]);
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The driver reads a stream's stated cost: `gatebench run` sums streamed answers'
/// cost as it does non-streamed ones', to the ledger's figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_sums_streams_stated_costs_to_the_ledger() {
    let stack = stack(|_| {}).await;
    let url = stack.gateway_url();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let text = format!(
        r#"name = "streams"
[load]
executor = "shared-iterations"
vus = 2
iterations = 6
[[requests]]
name = "stories"
kind = "chat"
stream = true
model = "gpt-4o-mini"
max_tokens = 20
prompts = "{}"
api_key = "{ALPHA}"
headers = {{ "x-gatebench-cache" = "no-cache, no-store" }}
"#,
        fixtures.join("prompts/stories.toml").display()
    );
    let file = gatebench_driver::ScenarioFile::parse(&fixtures.join("inline.toml"), &text).unwrap();
    let options = gatebench_driver::RunOptions {
        quiet: true,
        ..Default::default()
    };
    let r = gatebench_driver::run(&file, &gatebench_driver::Targets::new(&url), options)
        .await
        .unwrap();
    let k = &r.kinds["stories"];
    assert_eq!(k.ok, 6, "{:?}", k.errors);
    let g = k.gateway.as_ref().expect("gateway headers");
    assert_eq!(g.cost_responses, 6);
    let ledger: Value = client()
        .get(format!("{url}/v1/gatebench/usage"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spent = Decimal::from_str(ledger["cost_usd"].as_str().unwrap()).unwrap();
    assert!(spent > Decimal::ZERO);
    assert_eq!(g.cost_usd, spent);
    stack.shutdown().await;
}

/// A budget holds whatever route a call takes: with gpt-4o-mini unavailable, calls
/// fall back to deepseek-chat, whose input costs more, and 200 of them at once still
/// spend no more than the budget (the reservation is priced at the route's dearest
/// model).
#[tokio::test]
async fn a_budget_holds_when_calls_fall_back_to_a_pricier_model() {
    let budget = Decimal::from_str("0.002").unwrap();
    // calls that take time, so that many reservations are out at once
    let stack = stack(|o| {
        o.gateway.tenants[0].budget_usd = Some(budget);
        o.time_scale = 0.1;
    })
    .await;
    let http = client();
    let mock = stack.mock_url("openai").unwrap();
    let faults = http
        .put(format!("{mock}/_mock/faults"))
        .json(&json!({"unavailable": 1.0, "models": ["gpt-4o-mini"]}))
        .send()
        .await
        .unwrap();
    assert!(faults.status().is_success());
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    let calls = (0..200).map(|i| {
        let http = http.clone();
        let url = url.clone();
        async move {
            // long prompts, short answers: deepseek-chat's input costs almost twice
            // gpt-4o-mini's, so a reservation priced at the model asked for is short
            let prompt = format!(
                "Question {i}: {}",
                "please help me reset my password ".repeat(250)
            );
            let mut body = chat_body("gpt-4o-mini", &prompt);
            body["max_tokens"] = json!(1);
            let response = http
                .post(&url)
                .bearer_auth(ALPHA)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let model = response
                .headers()
                .get("x-gatebench-model")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, model)
        }
    });
    let answers = futures::future::join_all(calls).await;
    let fell_back = answers
        .iter()
        .filter(|(status, model)| *status == 200 && model.as_deref() == Some("deepseek-chat"))
        .count();
    assert!(fell_back > 0, "no call fell back: {answers:?}");
    let usage: Value = http
        .get(format!("{}/v1/gatebench/usage", stack.gateway_url()))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spent = Decimal::from_str(usage["budget"]["spent_usd"].as_str().unwrap()).unwrap();
    assert!(
        spent <= budget,
        "spent {spent} of a {budget} budget: {usage}"
    );
    assert!(spent > Decimal::ZERO, "{usage}");
    stack.shutdown().await;
}

/// A cache hit saves what the provider would have billed for the call again: the
/// prompt tokens it serves from its own prompt cache are priced at the cached rate,
/// so the hit's saving equals the cost of the call it replays.
#[tokio::test]
async fn a_hit_saves_what_the_provider_would_have_billed() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = format!("{}/v1/chat/completions", stack.gateway_url());
    // long enough for the provider's prompt cache (1,024 tokens and more)
    let prompt = "Summarise our refund policy for enterprise customers. ".repeat(150);
    let send = |directive: Option<&'static str>| {
        let mut request = http
            .post(&url)
            .bearer_auth(ALPHA)
            .json(&chat_body("gpt-4o-mini", &prompt));
        if let Some(directive) = directive {
            request = request.header("x-gatebench-cache", directive);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
            (
                header("x-gatebench-request-id"),
                header("x-gatebench-cache"),
            )
        }
    };
    // warms the provider's prompt cache, not the gateway's
    send(Some("no-cache, no-store")).await;
    let (served, miss) = send(None).await;
    assert_eq!(miss, "miss");
    let (replayed, hit) = send(None).await;
    assert_eq!(hit, "hit");
    let ledger: Value = http
        .get(format!(
            "{}/v1/gatebench/ledger?limit=10",
            stack.gateway_url()
        ))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = |id: &str| {
        ledger["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["request_id"] == id)
            .unwrap()
            .clone()
    };
    let (served, replayed) = (entry(&served), entry(&replayed));
    assert!(
        served["usage"]["cached_tokens"].as_u64().unwrap() > 0,
        "the provider's prompt cache was not used: {served}"
    );
    assert_eq!(
        replayed["saved_usd"], served["cost_usd"],
        "{replayed} / {served}"
    );
    stack.shutdown().await;
}
