//! Legacy text completions and the Responses API through the gateway: the client
//! reads what the provider sent (whole or streamed, read by `async-openai` and
//! by reqwest), and the ledger bills what the provider's books hold for the call,
//! also when the stream is cut; a text completion is served from the cache in
//! its own shape.

use std::str::FromStr;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::Prompt;
use async_openai::types::completions::CreateCompletionRequestArgs;
use async_openai::types::responses::{CreateResponseArgs, ResponseStreamEvent, Status};
use futures::StreamExt as _;
use gatebench_e2e::{ALPHA, BETA, client, set_faults, stack};
use gatebench_gateway::RunningGateway;
use gatebench_wire::books::{CallPage, CallRecord};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::cost::{price, price_table};

fn sdk(gateway: &str) -> Client<OpenAIConfig> {
    Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{gateway}/v1"))
            .with_api_key(ALPHA),
    )
}

/// Sends `body` to `path` as the client's request `id`.
async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    id: &str,
    body: Value,
) -> reqwest::Response {
    http.post(format!("{url}{path}"))
        .bearer_auth(ALPHA)
        .header("x-request-id", id)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE body, parsed (`[DONE]` left out).
fn events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .flat_map(str::lines)
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// The cost a completed stream states in its SSE comment.
fn stated_cost(text: &str) -> Decimal {
    let comment = text
        .lines()
        .find_map(|l| l.strip_prefix(": x-gatebench-cost-usd "))
        .unwrap_or_else(|| panic!("no cost comment in {text}"));
    Decimal::from_str(comment.trim()).unwrap()
}

/// The ledger entry of the gateway's request `id`, once written.
async fn entry(http: &reqwest::Client, url: &str, id: &str) -> Value {
    for _ in 0..500 {
        let page: Value = http
            .get(format!("{url}/v1/gatebench/ledger?limit=1000"))
            .bearer_auth(ALPHA)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["request_id"] == id);
        if let Some(entry) = found {
            return entry.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no ledger entry for {id}")
}

/// The mock's books.
async fn books(http: &reqwest::Client, mock: &str) -> CallPage {
    http.get(format!("{mock}/_mock/calls?after=0&limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The call the mock booked for the client's request `id`.
async fn booked(http: &reqwest::Client, mock: &str, id: &str) -> CallRecord {
    let mut calls = books(http, mock)
        .await
        .data
        .into_iter()
        .filter(|c| c.client_request_id.as_deref() == Some(id));
    let call = calls
        .next()
        .unwrap_or_else(|| panic!("no call booked for {id}"));
    assert!(calls.next().is_none(), "one call for {id}");
    call
}

/// The ledger's usage of an entry as the books count it: input (cached
/// included), cached, output.
fn billed(entry: &Value) -> (u64, u64, u64) {
    let n = |field: &str| entry["usage"][field].as_u64().unwrap_or(0);
    (
        n("prompt_tokens"),
        n("cached_tokens"),
        n("completion_tokens"),
    )
}

fn books_usage(call: &CallRecord) -> (u64, u64, u64) {
    let u = &call.usage;
    (u.input_tokens, u.cached_tokens, u.output_tokens)
}

/// A chat-priced call's cost from the price files.
fn cost(model: &str, (input, cached, output): (u64, u64, u64)) -> Decimal {
    let table = price_table();
    let per = |field| price(&table, model, field);
    (Decimal::from(input - cached) * per("input_per_million")
        + Decimal::from(cached) * per("cached_input_per_million")
        + Decimal::from(output) * per("output_per_million"))
        / Decimal::from(1_000_000)
}

/// Sends a whole (unstreamed) request as the client's `client_id` and checks its
/// bill: the ledger holds the booked usage, and the cost header prices it at the
/// price files' prices. Returns the body and the booked call.
async fn whole_and_billed(
    http: &reqwest::Client,
    (url, mock): (&str, &str),
    path: &str,
    client_id: &str,
    body: Value,
) -> (Value, CallRecord) {
    let model = body["model"].as_str().unwrap().to_owned();
    let r = post(http, url, path, client_id, body).await;
    assert_eq!(r.status(), 200);
    // a text completion of one prompt is looked up in the cache; a response never
    let looked_up = path == "/v1/completions";
    let expected = if looked_up { "miss" } else { "bypass" };
    assert_eq!(r.headers()["x-gatebench-cache"], expected);
    let header = |name: &str| r.headers()[name].to_str().unwrap().to_owned();
    let id = header("x-gatebench-request-id");
    let header_cost = Decimal::from_str(&header("x-gatebench-cost-usd")).unwrap();
    let body: Value = r.json().await.unwrap();
    let call = booked(http, mock, client_id).await;
    assert_eq!(call.route, path);
    let ledger = entry(http, url, &id).await;
    assert_eq!(billed(&ledger), books_usage(&call));
    assert_eq!(header_cost, cost(&model, books_usage(&call)));
    (body, call)
}

#[tokio::test]
async fn text_completions_reach_the_client_as_sent_and_are_billed_as_booked() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();

    // The SDK, whole: two prompts, two choices each.
    let request = CreateCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .prompt(Prompt::StringArray(vec![
            "Once upon a time, a little dragon".to_owned(),
            "The recipe for bread starts with".to_owned(),
        ]))
        .n(2)
        .max_tokens(12u32)
        .build()
        .unwrap();
    let whole = sdk(&url).completions().create(request).await.unwrap();
    assert_eq!(whole.object, "text_completion");
    assert_eq!(whole.choices.len(), 4);
    assert!(whole.choices.iter().all(|c| !c.text.is_empty()));
    let usage = whole.usage.unwrap();
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);

    // The SDK, streamed without usage: the text arrives in chunks, and no chunk
    // carries the usage the gateway asked for on its own account.
    let request = CreateCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .prompt("Write about the sea at night")
        .max_tokens(30u32)
        .stream(true)
        .build()
        .unwrap();
    let mut chunks = sdk(&url)
        .completions()
        .create_stream(request)
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.object, "text_completion");
        assert!(chunk.usage.is_none());
        text.extend(chunk.choices.iter().map(|c| c.text.as_str()));
    }
    assert!(!text.is_empty());

    // Raw, whole: the cost header is the booked usage at the price files' prices.
    let (body, call) = whole_and_billed(
        &http,
        (&url, &mock),
        "/v1/completions",
        "tc-whole",
        json!({"model": "gpt-4o-mini", "prompt": "The lighthouse keeper", "max_tokens": 20}),
    )
    .await;
    assert_eq!(body["usage"]["completion_tokens"], call.usage.output_tokens);

    // Raw, streamed, with and without the usage chunk.
    for include in [false, true] {
        let client_id = format!("tc-stream-{include}");
        let mut body = json!({"model": "gpt-4o-mini", "prompt": ["Tides are", "Otters are"],
                              "max_tokens": 25, "stream": true});
        if include {
            body["stream_options"] = json!({"include_usage": true});
        }
        let r = post(&http, &url, "/v1/completions", &client_id, body).await;
        assert_eq!(r.status(), 200);
        let id = r.headers()["x-gatebench-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = r.text().await.unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(
            text.find(": x-gatebench-cost-usd") < text.find("data: [DONE]"),
            "{text}"
        );
        let chunks = events(&text);
        assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
        let with_usage: Vec<&Value> = chunks.iter().filter(|c| c.get("usage").is_some()).collect();
        let call = booked(&http, &mock, &client_id).await;
        let ledger = entry(&http, &url, &id).await;
        assert_eq!(billed(&ledger), books_usage(&call), "{client_id}");
        assert_eq!(ledger["flags"]["estimated"], false);
        assert_eq!(stated_cost(&text), cost("gpt-4o-mini", books_usage(&call)));
        if include {
            // every chunk says `usage: null` but the last, which has it alone
            let last = with_usage.last().unwrap();
            assert_eq!(last["choices"], json!([]));
            assert_eq!(last["usage"]["completion_tokens"], call.usage.output_tokens);
        } else {
            assert!(with_usage.is_empty(), "{text}");
        }
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn responses_reach_the_client_as_sent_and_are_billed_as_booked() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();

    // The SDK, whole and streamed: the comment after the last event is skipped.
    let request = CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .instructions("You tell gentle stories.")
        .input("Tell me a story about a brave rabbit.")
        .build()
        .unwrap();
    let whole = sdk(&url).responses().create(request.clone()).await.unwrap();
    assert_eq!(whole.status, Status::Completed);
    assert!(!whole.output_text().unwrap_or_default().is_empty());
    let mut stream = sdk(&url).responses().create_stream(request).await.unwrap();
    let mut completed = None;
    while let Some(event) = stream.next().await {
        if let ResponseStreamEvent::ResponseCompleted(done) = event.unwrap() {
            completed = Some(done.response);
        }
    }
    let completed = completed.expect("a response.completed event");
    assert_eq!(completed.output_text(), whole.output_text());
    assert_eq!(completed.usage, whole.usage);

    // Raw, whole, cut by its cap: incomplete, and billed as booked.
    let (body, _) = whole_and_billed(
        &http,
        (&url, &mock),
        "/v1/responses",
        "resp-whole",
        json!({"model": "gpt-4o", "input": "Tell me about lighthouses.", "max_output_tokens": 16}),
    )
    .await;
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["usage"]["output_tokens"], 16);

    // Raw, streamed: the events pass unchanged, the cost follows the last one.
    let r = post(
        &http,
        &url,
        "/v1/responses",
        "resp-stream",
        json!({"model": "gpt-4o-mini", "input": [{"role": "user", "content": "Explain tides."}],
               "instructions": "Be brief.", "stream": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-gatebench-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = r.text().await.unwrap();
    let events = events(&text);
    assert_eq!(events[0]["type"], "response.created");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.completed");
    assert!(
        text.find(": x-gatebench-cost-usd") > text.find("response.completed"),
        "{text}"
    );
    let call = booked(&http, &mock, "resp-stream").await;
    assert_eq!(
        last["response"]["usage"]["output_tokens"],
        call.usage.output_tokens
    );
    let ledger = entry(&http, &url, &id).await;
    assert_eq!(billed(&ledger), books_usage(&call));
    assert_eq!(ledger["flags"]["estimated"], false);
    assert_eq!(stated_cost(&text), cost("gpt-4o-mini", books_usage(&call)));
    stack.shutdown().await;
}

#[tokio::test]
async fn a_continued_response_is_billed_its_whole_conversation_as_booked() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    let first = a_story(&sdk(&url)).await;
    let alone = first.usage.unwrap().input_tokens;

    // The provider counts the earlier turn into the prompt; the ledger bills what
    // it booked, not what the request alone holds.
    let (body, call) = whole_and_billed(
        &http,
        (&url, &mock),
        "/v1/responses",
        "resp-continued",
        json!({"model": "gpt-4o-mini", "previous_response_id": first.id,
               "input": "Tell me a story about a brave rabbit."}),
    )
    .await;
    assert_eq!(body["previous_response_id"], first.id.as_str());
    assert!(
        call.usage.input_tokens > u64::from(alone),
        "{} > {alone}",
        call.usage.input_tokens
    );

    stack.shutdown().await;
}

#[tokio::test]
async fn a_continuation_reserves_the_conversation_it_continues() {
    // A question of about 5,600 tokens ($0.00085 at most): what its continuation
    // resends is worth more than the $0.00035 the budget leaves after it.
    let stack = stack(|o| {
        o.gateway.tenants[0].budget_usd = Some(Decimal::from_str("0.0012").unwrap());
    })
    .await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    let long = "word ".repeat(3000);
    let r = post(
        &http,
        &url,
        "/v1/responses",
        "resp-long",
        json!({"model": "gpt-4o-mini", "input": long, "max_output_tokens": 16}),
    )
    .await;
    let first: Value = r.json().await.unwrap();
    assert!(first["id"].is_string(), "{first}");
    // Alone, the next question would fit in what is left; with the conversation
    // it continues, it cannot, and it is refused before any call.
    let before = calls(&http, &mock).await;
    let r = post(
        &http,
        &url,
        "/v1/responses",
        "resp-over",
        json!({"model": "gpt-4o-mini", "previous_response_id": first["id"],
               "input": "And then?", "max_output_tokens": 16}),
    )
    .await;
    assert_eq!(r.status(), 429);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "insufficient_quota");
    assert_eq!(calls(&http, &mock).await, before);
    let r = post(
        &http,
        &url,
        "/v1/responses",
        "resp-alone",
        json!({"model": "gpt-4o-mini", "input": "And then?", "max_output_tokens": 16}),
    )
    .await;
    assert_eq!(r.status(), 200);
    stack.shutdown().await;
}

/// How many calls the mock's books hold.
async fn calls(http: &reqwest::Client, mock: &str) -> usize {
    books(http, mock).await.data.len()
}

/// A story as the Responses API tells it, through the SDK.
async fn a_story(client: &Client<OpenAIConfig>) -> async_openai::types::responses::Response {
    let request = CreateResponseArgs::default()
        .model("gpt-4o-mini")
        .input("Tell me a story about a brave rabbit.")
        .build()
        .unwrap();
    client.responses().create(request).await.unwrap()
}

/// `key`'s continuation of `id` is refused as OpenAI refuses an unknown id.
async fn continuation_refused(http: &reqwest::Client, url: &str, key: &str, id: &str) {
    let r = http
        .post(format!("{url}/v1/responses"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "previous_response_id": id, "input": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{id}");
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "previous_response_not_found");
    assert_eq!(refused["error"]["param"], "previous_response_id");
}

/// A streamed response from deepseek, not the route's first provider: its id,
/// read from its first event.
async fn streamed_at_deepseek(http: &reqwest::Client, url: &str) -> String {
    let r = post(
        http,
        url,
        "/v1/responses",
        "resp-streamed",
        json!({"model": "deepseek-chat", "input": "Explain tides.", "stream": true}),
    )
    .await;
    assert_eq!(r.headers()["x-gatebench-provider"], "deepseek");
    events(&r.text().await.unwrap())[0]["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A continuation of `previous`, made at deepseek, asking for another model: it
/// goes to the provider holding what it continues.
async fn continued_where_it_is(http: &reqwest::Client, url: &str, previous: &str) {
    let r = post(
        http,
        url,
        "/v1/responses",
        "resp-pinned",
        json!({"model": "gpt-4o-mini", "previous_response_id": previous, "input": "Why?"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gatebench-provider"], "deepseek");
    assert_eq!(r.headers()["x-gatebench-model"], "deepseek-chat");
}

#[tokio::test]
async fn a_stored_response_is_reached_only_by_its_tenant_at_the_provider_holding_it() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    let alpha = sdk(&url);
    let first = a_story(&alpha).await;
    let fetched = alpha.responses().retrieve(&first.id).await.unwrap();
    assert_eq!(fetched.id, first.id);
    assert_eq!(fetched.output_text(), first.output_text());
    let items = alpha.responses().list_input_items(&first.id).await.unwrap();
    assert_eq!(items.data.len(), 1);

    // Another tenant can neither read it nor continue it, and an id the gateway
    // never relayed is unknown: no call reaches the provider.
    let before = calls(&http, &mock).await;
    let beta = Client::build(
        gatebench_tls::client(),
        OpenAIConfig::new()
            .with_api_base(format!("{url}/v1"))
            .with_api_key(BETA),
    );
    match beta.responses().retrieve(&first.id).await {
        Err(async_openai::error::OpenAIError::ApiError(e)) => {
            assert_eq!(e.status_code.as_u16(), 404);
            let message = format!("Response with id '{}' not found.", first.id);
            assert_eq!(e.api_error.message, message);
        }
        other => panic!("a 404: {other:?}"),
    }
    for (key, id) in [(BETA, first.id.as_str()), (ALPHA, "resp_nothing")] {
        continuation_refused(&http, &url, key, id).await;
    }
    assert_eq!(calls(&http, &mock).await, before);

    // A streamed response is known once its first event has passed, and its
    // continuation goes to the provider holding it, not to the route's first.
    let streamed = streamed_at_deepseek(&http, &url).await;
    continued_where_it_is(&http, &url, &streamed).await;

    // Deleted, it is forgotten: the next look asks no provider.
    let deleted = alpha.responses().delete(&first.id).await.unwrap();
    assert!(deleted.deleted);
    let before = calls(&http, &mock).await;
    assert!(alpha.responses().retrieve(&first.id).await.is_err());
    assert_eq!(calls(&http, &mock).await, before);
    stack.shutdown().await;
}

/// A gateway on `ledger` in front of the stack's mocks, as the stack's own is
/// configured.
async fn gateway_on(stack: &gatebench_stack::Stack, ledger: &str) -> RunningGateway {
    let config = stack.gateway().gateway().config.clone();
    let state = gatebench_gateway::Gateway::new(config, ledger).unwrap();
    RunningGateway::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// What the gateway notes of stored responses is in its ledger: after a restart,
/// a response (whole or streamed) is still read and continued by its tenant, at
/// the provider holding it, and still refused to another, without a call; one
/// deleted before the restart stays unknown.
#[tokio::test]
async fn stored_responses_are_reached_by_their_tenant_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("gatebench-stored-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.db").display().to_string();
    let _ = std::fs::remove_file(&ledger);
    let stack = stack(|_| {}).await;
    let http = client();
    let mock = stack.mock_url("openai").unwrap();

    let first = gateway_on(&stack, &ledger).await;
    let alpha = sdk(&first.url());
    let whole = a_story(&alpha).await;
    let deleted = a_story(&alpha).await;
    let streamed = streamed_at_deepseek(&http, &first.url()).await;
    assert!(alpha.responses().delete(&deleted.id).await.unwrap().deleted);
    first.shutdown().await;

    let second = gateway_on(&stack, &ledger).await;
    let url = second.url();
    let alpha = sdk(&url);
    let fetched = alpha.responses().retrieve(&whole.id).await.unwrap();
    assert_eq!(fetched.output_text(), whole.output_text());
    continued_where_it_is(&http, &url, &streamed).await;

    let before = calls(&http, &mock).await;
    for (key, id) in [(BETA, whole.id.as_str()), (ALPHA, deleted.id.as_str())] {
        let r = http
            .get(format!("{url}/v1/responses/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{id}");
        continuation_refused(&http, &url, key, id).await;
    }
    assert_eq!(calls(&http, &mock).await, before);
    second.shutdown().await;
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_cut_stream_of_either_api_is_billed_as_the_provider_booked_it() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    set_faults(&http, &mock, json!({"stream_cut": 1.0})).await;
    let cases = [
        (
            "/v1/completions",
            json!({"model": "gpt-4o-mini", "prompt": "Write about the sea at night",
                   "max_tokens": 60, "stream": true}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "Write about the sea at night.",
                   "instructions": "Be vivid.", "max_output_tokens": 60, "stream": true}),
        ),
    ];
    for (path, body) in cases {
        let r = post(&http, &url, path, path, body).await;
        assert_eq!(r.status(), 200, "{path}");
        let id = r.headers()["x-gatebench-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let mut body = r.bytes_stream();
        let mut broke = false;
        while let Some(chunk) = body.next().await {
            broke |= chunk.is_err();
        }
        assert!(broke, "{path}: the client sees the stream break");
        let call = booked(&http, &mock, path).await;
        assert!(call.billed && !call.complete, "{path}: {call:?}");
        let ledger = entry(&http, &url, &id).await;
        assert_eq!(ledger["flags"]["estimated"], true, "{path}");
        assert_eq!(billed(&ledger), books_usage(&call), "{path}");
    }
    stack.shutdown().await;
}

#[tokio::test]
async fn bad_requests_are_refused_in_openai_s_shape() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let cases = [
        // the gateway's own checks
        (
            "/v1/completions",
            json!({"model": " ", "prompt": "x"}),
            "model",
        ),
        ("/v1/responses", json!({"model": "", "input": "x"}), "model"),
        // the provider's, passed on
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": []}),
            "input",
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "x", "max_output_tokens": 3}),
            "max_output_tokens",
        ),
        (
            "/v1/completions",
            json!({"model": "gpt-4o-mini", "prompt": [u32::MAX - 1]}),
            "prompt",
        ),
    ];
    for (path, body, param) in cases {
        let r = post(&http, &url, path, "bad", body.clone()).await;
        assert_eq!(r.status(), 400, "{path} {body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"]["param"], param, "{path} {body}: {error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    }
    // a body that is not the API's: the gateway names the field
    let r = post(
        &http,
        &url,
        "/v1/responses",
        "bad",
        json!({"model": "gpt-4o-mini"}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input"),
        "{error}"
    );
    stack.shutdown().await;
}

/// `gatebench run` drives both APIs, whole and streamed: every request succeeds,
/// a stream's first token is timed, the usage the answers carried is the mock's,
/// and the costs the gateway stated (a stream's in its comment) sum to the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_measures_both_apis_and_sums_their_costs_to_the_ledger() {
    let stack = stack(|_| {}).await;
    let url = stack.gateway_url();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let prompts = fixtures.join("prompts/stories.toml");
    let request = |name: &str, kind: &str, stream: bool| {
        format!(
            r#"[[requests]]
name = "{name}"
kind = "{kind}"
stream = {stream}
max_tokens = 24
prompts = "{}"
api_key = "{ALPHA}"
headers = {{ "x-gatebench-cache" = "no-cache, no-store" }}
"#,
            prompts.display()
        )
    };
    let text = format!(
        "name = \"apis\"\n[load]\nexecutor = \"shared-iterations\"\nvus = 2\niterations = 24\n{}{}{}{}",
        request("text", "completions", false),
        request("text_stream", "completions", true),
        request("response", "responses", false),
        request("response_stream", "responses", true),
    );
    let file = gatebench_driver::ScenarioFile::parse(&fixtures.join("inline.toml"), &text).unwrap();
    let options = gatebench_driver::RunOptions {
        quiet: true,
        ..Default::default()
    };
    let r = gatebench_driver::run(&file, &gatebench_driver::Targets::new(&url), options)
        .await
        .unwrap();
    let mut stated = Decimal::ZERO;
    let mut output = 0;
    for name in ["text", "text_stream", "response", "response_stream"] {
        let k = &r.kinds[name];
        assert!(k.sent > 0, "{name}: none sent");
        assert_eq!(k.ok, k.sent, "{name}: {:?}", k.errors);
        assert_eq!(k.ttft_ms.is_some(), name.ends_with("stream"), "{name}");
        assert!(k.usage.completion_tokens > 0, "{name}");
        let g = k.gateway.as_ref().expect("gateway headers");
        assert_eq!(
            g.cost_responses, k.sent,
            "{name}: every answer states its cost"
        );
        stated += g.cost_usd;
        output += k.usage.completion_tokens;
    }
    let usage: Value = client()
        .get(format!("{url}/v1/gatebench/usage"))
        .bearer_auth(ALPHA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        Decimal::from_str(usage["cost_usd"].as_str().unwrap()).unwrap(),
        stated
    );
    let books: Value = client()
        .get(format!("{}/_mock/books", stack.mock_url("openai").unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(books["total"]["usage"]["output_tokens"], output, "{books}");
    stack.shutdown().await;
}

/// A text completion of one prompt is cached: the same request again (or a
/// paraphrase) is a hit in `text_completion`'s shape, whole or streamed, at no
/// cost and without a call; a chat request with the same text, a prompt list, or
/// an echoed prompt never meets the entry.
#[tokio::test]
async fn a_text_completion_is_served_from_the_cache_in_its_own_shape() {
    let stack = stack(|_| {}).await;
    let http = client();
    let url = stack.gateway_url();
    let mock = stack.mock_url("openai").unwrap();
    let body = |prompt: &str, stream: bool| {
        json!({"model": "gpt-4o-mini", "prompt": prompt, "max_tokens": 24, "stream": stream,
               "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null }})
    };
    let prompt = "Tell me a story about a lighthouse keeper.";
    let first = post(&http, &url, "/v1/completions", "c-1", body(prompt, false)).await;
    assert_eq!(first.headers()["x-gatebench-cache"], "miss");
    let first: Value = first.json().await.unwrap();
    let text = first["choices"][0]["text"].as_str().unwrap().to_owned();

    // whole: the cached text under this request's id, its usage, no cost
    let again = post(&http, &url, "/v1/completions", "c-2", body(prompt, false)).await;
    assert_eq!(again.headers()["x-gatebench-cache"], "hit");
    assert_eq!(again.headers()["x-gatebench-cost-usd"], "0");
    let id = again.headers()["x-gatebench-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["object"], "text_completion");
    assert_eq!(again["id"], format!("cmpl-{id}"));
    assert_eq!(again["choices"][0]["text"], text.as_str());
    assert_eq!(
        again["choices"][0]["finish_reason"],
        first["choices"][0]["finish_reason"]
    );
    assert_eq!(again["usage"], first["usage"]);

    // streamed, as the SDK reads it: text chunks, then the usage chunk
    let request = CreateCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .prompt(prompt)
        .max_tokens(24u32)
        .stream(true)
        .stream_options(async_openai::types::chat::ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        })
        .build()
        .unwrap();
    let mut chunks = sdk(&url)
        .completions()
        .create_stream(request)
        .await
        .unwrap();
    let (mut streamed, mut usage, mut finish) = (String::new(), None, None);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        assert_eq!(chunk.object, "text_completion");
        for choice in &chunk.choices {
            streamed.push_str(&choice.text);
            finish = finish.or(choice.finish_reason);
        }
        usage = usage.or(chunk.usage);
    }
    assert_eq!(streamed, text);
    assert!(finish.is_some());
    assert_eq!(
        usage.map(|u| u.completion_tokens),
        first["usage"]["completion_tokens"]
            .as_u64()
            .map(|n| n as u32)
    );

    // neither a chat request nor a list or an echo meets the entry
    let chat = json!({"model": "gpt-4o-mini", "max_tokens": 24,
                      "messages": [{"role": "user", "content": prompt}]});
    let r = post(&http, &url, "/v1/chat/completions", "c-3", chat).await;
    assert_eq!(r.headers()["x-gatebench-cache"], "miss");
    let mut listed = body(prompt, false);
    listed["prompt"] = json!([prompt]);
    let r = post(&http, &url, "/v1/completions", "c-4", listed).await;
    assert_eq!(r.headers()["x-gatebench-cache"], "bypass");
    let mut echoed = body(prompt, false);
    echoed["echo"] = json!(true);
    let r = post(&http, &url, "/v1/completions", "c-5", echoed).await;
    assert_eq!(r.headers()["x-gatebench-cache"], "bypass");

    // the provider served the first call and the three that missed or passed by
    let page: CallPage = http
        .get(format!("{mock}/_mock/calls?after=0&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served: Vec<_> = page
        .data
        .iter()
        .filter_map(|c| c.client_request_id.as_deref())
        .collect();
    assert_eq!(served, ["c-1", "c-3", "c-4", "c-5"]);
    stack.shutdown().await;
}

/// A ledger page of no entries or of more than a page holds is refused, naming
/// the bounds, not answered with one entry or a thousand.
#[tokio::test]
async fn a_ledger_page_outside_its_bounds_is_refused() {
    let stack = stack(|_| {}).await;
    let http = client();
    for limit in ["0", "1001"] {
        let response = http
            .get(format!(
                "{}/v1/gatebench/ledger?limit={limit}",
                stack.gateway_url()
            ))
            .bearer_auth(ALPHA)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "limit={limit}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["param"], "limit", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("between 1 and 1000"), "{message}");
    }
    stack.shutdown().await;
}
