//! The ledger equals the provider's bill: for every tenant, the gateway's ledger
//! holds exactly the units and money of the calls the mocks served for it, under a
//! random mix of plain and streamed chat, text completions and responses,
//! fallbacks, embeddings, speech and the two services, with injected upstream
//! faults (retries, cut streams, resets) and clients that hang up at random
//! moments.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use gatebench_e2e::{ALPHA, BETA, client, set_faults, stack};
use gatebench_wire::books::{CallPage, CallRecord};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::cost::{PriceTable, price, price_table};

/// Requests sent, and how many at once.
const REQUESTS: u64 = 240;
const AT_ONCE: usize = 16;

/// Units and money of one tenant, as a sum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Sum {
    /// Requests with at least one billed call (books) / billed entries (ledger).
    billed: u64,
    input_tokens: u64,
    cached_tokens: u64,
    output_tokens: u64,
    characters: u64,
    requests: u64,
    cost_usd: Decimal,
}

/// A number from `i` and `salt`, the same on every run (splitmix64).
fn draw(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the mock billed for one call, priced from the price files.
fn call_cost(table: &PriceTable, call: &CallRecord) -> Decimal {
    let model = call.model.as_deref().unwrap_or(&call.mock);
    let u = &call.usage;
    let million = Decimal::from(1_000_000);
    (Decimal::from(u.input_tokens - u.cached_tokens) * price(table, model, "input_per_million")
        + Decimal::from(u.cached_tokens) * price(table, model, "cached_input_per_million")
        + Decimal::from(u.output_tokens) * price(table, model, "output_per_million"))
        / million
        + Decimal::from(u.characters) * price(table, model, "per_thousand_characters")
            / Decimal::from(1000)
        + Decimal::from(u.requests) * price(table, model, "per_request")
}

/// Sends request `i` of the mix; some clients give up part-way. Records in `ids`
/// the gateway's id of each request whose answer's head arrived.
async fn send(http: &reqwest::Client, url: &str, i: u64, ids: &Mutex<HashMap<String, u64>>) {
    let key = if i.is_multiple_of(2) { ALPHA } else { BETA };
    let prompts = [
        "Tell me about otters and their habits.",
        "Summarise the history of lighthouses.",
        "Write a short story about a fox in winter.",
        "Explain how tides work.",
    ];
    let prompt = prompts[(draw(i, 1) % 4) as usize];
    let stream = draw(i, 2).is_multiple_of(3);
    let (path, body) = match draw(i, 3) % 12 {
        0..=3 => (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}],
                   "max_tokens": 40, "stream": stream}),
        ),
        4 | 5 => (
            // Routed to deepseek, falling back to gpt-4o-mini.
            "/v1/chat/completions",
            json!({"model": "deepseek-chat", "messages": [{"role": "user", "content": prompt}],
                   "max_tokens": 40, "stream": stream}),
        ),
        6 => (
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": [prompt, "wind farms"]}),
        ),
        7 => (
            "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM",
            json!({"text": prompt, "model_id": "eleven_flash_v2_5"}),
        ),
        8 => ("/v1/personality", json!({"age": 7, "interests": ["space"]})),
        9 => (
            "/v1/webvtt",
            json!({"text": prompt, "duration_seconds": 2.5}),
        ),
        10 => (
            "/v1/completions",
            json!({"model": "gpt-4o-mini", "prompt": [prompt, "Lighthouses are"],
                   "max_tokens": 30, "stream": stream}),
        ),
        _ => (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": prompt, "instructions": "Be brief.",
                   "max_output_tokens": 40, "stream": stream}),
        ),
    };
    let mut request = http
        .post(format!("{url}{path}"))
        .header("x-request-id", format!("inv-{i}"))
        .json(&body);
    request = if path.starts_with("/v1/text-to-speech") {
        request.header("xi-api-key", key)
    } else {
        request.bearer_auth(key)
    };
    if draw(i, 4).is_multiple_of(2) {
        request = request.header("x-gatebench-cache", "no-cache, no-store");
    }
    // One client in four hangs up: before the answer, or after its first bytes.
    let patience = match draw(i, 5) % 8 {
        0 => Some(Duration::from_millis(draw(i, 6) % 40)),
        1 => Some(Duration::ZERO),
        _ => None,
    };
    let call = async {
        let Ok(response) = request.send().await else {
            return;
        };
        if let Some(id) = response.headers().get("x-gatebench-request-id") {
            ids.lock()
                .unwrap()
                .insert(id.to_str().unwrap().to_owned(), i);
        }
        let mut body = response.bytes_stream();
        if patience == Some(Duration::ZERO) {
            let _ = body.next().await;
            return;
        }
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                return;
            }
        }
    };
    match patience {
        Some(limit) if !limit.is_zero() => {
            let _ = tokio::time::timeout(limit, call).await;
        }
        _ => call.await,
    }
}

/// Every call each mock booked, oldest first.
async fn all_calls(http: &reqwest::Client, mock: &str) -> Vec<CallRecord> {
    let mut calls = Vec::new();
    let mut after = 0;
    loop {
        let page: CallPage = http
            .get(format!("{mock}/_mock/calls?after={after}&limit=1000"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page.dropped, 0, "the call log dropped calls");
        calls.extend(page.data);
        if !page.has_more {
            return calls;
        }
        after = page.next_after;
    }
}

/// Per tenant, from the books: calls attributed by the `x-request-id` each carried.
async fn books(
    http: &reqwest::Client,
    mocks: &[String],
    table: &PriceTable,
) -> BTreeMap<&'static str, Sum> {
    let mut sums: BTreeMap<&'static str, Sum> = BTreeMap::new();
    let mut billed_requests: HashMap<String, &'static str> = HashMap::new();
    for mock in mocks {
        // unbilled calls (the gateway's health probes of an open circuit) are
        // nobody's
        for call in all_calls(http, mock).await.into_iter().filter(|c| c.billed) {
            let id = call.client_request_id.clone().unwrap_or_else(|| {
                panic!("a billed call without the client's request id: {call:?}")
            });
            let i: u64 = id.strip_prefix("inv-").unwrap().parse().unwrap();
            let tenant = if i.is_multiple_of(2) { "alpha" } else { "beta" };
            billed_requests.insert(id, tenant);
            let sum = sums.entry(tenant).or_default();
            sum.input_tokens += call.usage.input_tokens;
            sum.cached_tokens += call.usage.cached_tokens;
            sum.output_tokens += call.usage.output_tokens;
            sum.characters += call.usage.characters;
            sum.requests += call.usage.requests;
            sum.cost_usd += call_cost(table, &call);
        }
    }
    for tenant in billed_requests.values() {
        sums.entry(tenant).or_default().billed += 1;
    }
    sums
}

/// A tenant's ledger entries that were not cache hits, every page, as the tenant
/// reads them.
async fn ledger_entries(http: &reqwest::Client, url: &str, key: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page: Value = http
            .get(format!(
                "{url}/v1/gatebench/ledger?after={after}&limit=1000"
            ))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for e in page["data"].as_array().unwrap() {
            after = e["id"].as_u64().unwrap();
            if e["cache"] != "hit" {
                entries.push(e.clone());
            }
        }
        if page["has_more"] != true {
            return entries;
        }
    }
}

/// Per tenant, from the gateway's ledger.
async fn ledger(http: &reqwest::Client, url: &str) -> BTreeMap<&'static str, Sum> {
    let mut sums = BTreeMap::new();
    for (tenant, key) in [("alpha", ALPHA), ("beta", BETA)] {
        let mut sum = Sum::default();
        for e in ledger_entries(http, url, key).await {
            let u = &e["usage"];
            let n = |field: &str| u[field].as_u64().unwrap_or(0);
            let units = [
                n("prompt_tokens"),
                n("cached_tokens"),
                n("completion_tokens"),
                n("characters"),
                n("requests"),
            ];
            if units.iter().any(|&v| v > 0) {
                sum.billed += 1;
            }
            sum.input_tokens += units[0];
            sum.cached_tokens += units[1];
            sum.output_tokens += units[2];
            sum.characters += units[3];
            sum.requests += units[4];
            sum.cost_usd += Decimal::from_str(e["cost_usd"].as_str().unwrap()).unwrap();
        }
        if sum != Sum::default() {
            sums.insert(tenant, sum);
        }
    }
    sums
}

/// Each request's billed calls and ledger entries, to show where the sums differ.
/// Requests whose client left before the answer's head have no known gateway id:
/// their entries are listed by that id.
async fn by_request(
    http: &reqwest::Client,
    url: &str,
    mocks: &[String],
    ids: &HashMap<String, u64>,
) -> String {
    let mut per: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for mock in mocks {
        for c in all_calls(http, mock).await.into_iter().filter(|c| c.billed) {
            let id = c.client_request_id.clone().unwrap_or_default();
            let call = format!("{} {:?}", c.outcome, c.usage);
            per.entry(id).or_default().0.push(call);
        }
    }
    for key in [ALPHA, BETA] {
        for e in ledger_entries(http, url, key).await {
            let gateway_id = e["request_id"].as_str().unwrap();
            let id = ids
                .get(gateway_id)
                .map_or(gateway_id.to_owned(), |i| format!("inv-{i}"));
            let entry = format!("{} {}", e["usage"], e["flags"]);
            per.entry(id).or_default().1.push(entry);
        }
    }
    per.iter()
        .map(|(id, (calls, entries))| format!("{id}: books {calls:?}, ledger {entries:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_ledger_equals_the_books_under_faults_and_hang_ups() {
    // Mock delays at 2 % of real time: calls take long enough for clients to leave
    // in the middle of them.
    let stack = stack(|o| o.time_scale = 0.02).await;
    let http = client();
    let url = stack.gateway_url();
    let faults = json!({
        "server_error": 0.04, "rate_limit": 0.04, "stream_cut": 0.06,
        "reset": 0.03, "malformed": 0.03, "retry_after": "10ms",
    });
    let mocks: Vec<String> = ["openai", "elevenlabs", "personality", "webvtt"]
        .iter()
        .map(|m| stack.mock_url(m).unwrap())
        .collect();
    for mock in &mocks {
        set_faults(&http, mock, faults.clone()).await;
    }
    // deepseek-chat is down: its calls fail and fall back to gpt-4o-mini.
    set_faults(
        &http,
        &mocks[0],
        json!({
            "server_error": 0.04, "rate_limit": 0.04, "stream_cut": 0.06,
            "reset": 0.03, "malformed": 0.03, "retry_after": "10ms",
            "windows": [{ "kind": "unavailable", "from": "0s", "to": "1h", "models": ["deepseek-chat"] }],
        }),
    )
    .await;

    let ids = Mutex::new(HashMap::new());
    futures::stream::iter(0..REQUESTS)
        .for_each_concurrent(AT_ONCE, |i| {
            let http = http.clone();
            let url = url.clone();
            let ids = &ids;
            async move { send(&http, &url, i, ids).await }
        })
        .await;
    let ids = ids.into_inner().unwrap();

    // Calls whose clients left run to their end in the gateway: wait until both
    // sides stop moving and agree, or show how they differ.
    let table = price_table();
    let mut last = (BTreeMap::new(), BTreeMap::new());
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = (
            books(&http, &mocks, &table).await,
            ledger(&http, &url).await,
        );
        if now.0 == now.1 && now == last {
            break;
        }
        last = now;
    }
    let (truth, claimed) = last;
    // every generating route was served and billed, whole and streamed
    let served: HashSet<(String, bool)> = all_calls(&http, &mocks[0])
        .await
        .into_iter()
        .filter(|c| c.billed)
        .map(|c| (c.route, c.stream))
        .collect();
    for route in ["/v1/chat/completions", "/v1/completions", "/v1/responses"] {
        for stream in [false, true] {
            assert!(
                served.contains(&(route.to_owned(), stream)),
                "no billed call of {route} with stream {stream}: {served:?}"
            );
        }
    }
    assert!(
        truth.values().map(|s| s.billed).sum::<u64>() > REQUESTS / 3,
        "too few billed calls to judge: {truth:?}"
    );
    let detail = if claimed == truth {
        String::new()
    } else {
        by_request(&http, &url, &mocks, &ids).await
    };
    assert_eq!(
        claimed, truth,
        "ledger (left) against the books (right); by request:\n{detail}"
    );
    stack.shutdown().await;
}
