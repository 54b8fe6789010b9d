//! Property tests (fuzzing with proptest) of what parses client input: request bodies
//! at the gateway and the OpenAI mock, scenario files, and gateway configurations.
//!
//! Inputs are raw bytes, truncated JSON, and valid requests or files with one value
//! replaced by an arbitrary one. The properties: no server panics or answers 500,
//! every error has a JSON body, and a file's error names a line inside the file.
//! `GATEBENCH_FUZZ_CASES` sets the cases per target (default 200; proptest shrinks a
//! failure to a minimal input).

use std::path::Path;
use std::time::Duration;

use gatebench_driver::ScenarioFile;
use gatebench_gateway::GatewayConfig;
use gatebench_stack::{Stack, StackOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("GATEBENCH_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Any JSON value, nested a little: the wrong types and edge values a client sends.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(1e308)),
        Just(json!(-1)),
        Just(json!(0)),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: raw bytes, a truncated valid body, or a valid body with one field
/// (or one message field) replaced by an arbitrary value.
fn body(valid: Value, fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let text = serde_json::to_vec(&valid).unwrap();
    let len = text.len();
    let message_field = prop::sample::select(vec!["role", "content", "name", "tool_calls"]);
    let replaced = {
        let valid = valid.clone();
        (prop::sample::select(fields), json_value()).prop_map(move |(field, value)| {
            let mut body = valid.clone();
            body[field] = value;
            serde_json::to_vec(&body).unwrap()
        })
    };
    let in_message = (message_field, json_value()).prop_map(move |(field, value)| {
        let mut body = valid.clone();
        if let Some(first) = body.get_mut("messages").and_then(|m| m.get_mut(0)) {
            first[field] = value;
        }
        serde_json::to_vec(&body).unwrap()
    });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        (0..len).prop_map(move |cut| text[..cut].to_vec()),
        replaced,
        in_message,
    ]
}

const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "stream",
    "stream_options",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "seed",
    "logprobs",
    "top_logprobs",
    "user",
    "ignore_eos",
    "min_tokens",
    "unknown_argument",
];

fn chat() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello there"}],
        "max_tokens": 8
    })
}

/// Posts `body` and checks the answer: no 500, a JSON body on every error, a
/// server that answered at all (a panic drops the connection).
async fn check(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let response = client
        .post(url)
        .header("authorization", "Bearer gb-alpha-dev")
        .header("xi-api-key", "gb-alpha-dev")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("{url}: no answer: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    prop_assert!(status != 500, "{url}: 500: {text}");
    if status.is_client_error() || status.is_server_error() {
        prop_assert!(
            serde_json::from_str::<Value>(&text).is_ok(),
            "{url}: {status} without a JSON body: {text:?}"
        );
    }
    Ok(())
}

#[test]
fn request_bodies_never_break_the_gateway_or_the_mock() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut options = StackOptions::ephemeral(11, 0.0);
    options.profile.openai.rate_limits = Default::default();
    options.profile.elevenlabs.rate_limits = Default::default();
    let stack = rt.block_on(Stack::start(options)).unwrap();
    let client = gatebench_tls::http_client()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let gateway = stack.gateway_url();
    let openai = stack.mock_url("openai").unwrap();
    let embeddings = json!({"model": "text-embedding-3-small", "input": "hi"});
    let responses = json!({"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": 16});
    let speech = json!({"text": "Hello there.", "model_id": "eleven_flash_v2_5"});
    let targets: Vec<(String, BoxedStrategy<Vec<u8>>)> = vec![
        (
            format!("{gateway}/v1/chat/completions"),
            body(chat(), CHAT_FIELDS).boxed(),
        ),
        (
            format!("{gateway}/v1/embeddings"),
            body(
                embeddings.clone(),
                &["model", "input", "dimensions", "encoding_format"],
            )
            .boxed(),
        ),
        (
            format!("{gateway}/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"),
            body(speech, &["text", "model_id", "voice_settings", "seed"]).boxed(),
        ),
        (
            format!("{openai}/v1/chat/completions"),
            body(chat(), CHAT_FIELDS).boxed(),
        ),
        (
            format!("{openai}/v1/responses"),
            body(
                responses,
                &[
                    "model",
                    "input",
                    "max_output_tokens",
                    "stream",
                    "tools",
                    "text",
                ],
            )
            .boxed(),
        ),
        (
            format!("{openai}/v1/embeddings"),
            body(
                embeddings,
                &["model", "input", "dimensions", "encoding_format"],
            )
            .boxed(),
        ),
    ];
    for (url, strategy) in targets {
        runner()
            .run(&strategy, |body| rt.block_on(check(&client, &url, body)))
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    rt.block_on(stack.shutdown());
}

/// A valid file with one line dropped, duplicated or given another value, or with
/// bytes inserted.
fn mutated(valid: &'static str) -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = valid.lines().collect();
    let n = lines.len();
    let value = prop_oneof![
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("\"\"".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("\"9999999999999999999h\"".to_owned()),
        "\"[a-z0-9%<> .]{0,12}\"",
        any::<i64>().prop_map(|i| i.to_string()),
    ];
    (0..n, 0..4u8, value, ".{0,8}").prop_map(move |(at, how, value, junk)| {
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        match how {
            0 => {
                out.remove(at);
            }
            1 => {
                let line = out[at].clone();
                out.insert(at, line);
            }
            2 => {
                if let Some((key, _)) = out[at].split_once(" = ") {
                    out[at] = format!("{key} = {value}");
                }
            }
            _ => {
                let chars = out[at].chars().count();
                let middle = out[at]
                    .char_indices()
                    .nth(chars / 2)
                    .map_or(out[at].len(), |(i, _)| i);
                out[at].insert_str(middle, &junk);
            }
        }
        out.join("\n")
    })
}

const SCENARIO: &str = r#"name = "mix"
seed = 7
[load]
executor = "ramping-arrival-rate"
start_rate = 5
stages = [{ duration = "10s", target = 50 }]
max_vus = 40
[[requests]]
name = "story"
kind = "chat"
stream = true
weight = 3
max_tokens = 20
prompts = "fixtures/prompts/support.toml"
priority = "high"
[[requests]]
name = "voice"
kind = "tts"
texts = "fixtures/tts/texts.toml"
[thresholds]
"latency{request:story}" = ["p95 < 8s"]
errors = "rate < 1%"
[resources]
interval = "1s"
watch_processes = ["postgres"]
prometheus = { url = "/metrics", series = ["up"], thresholds = { up = { warn = 1 } } }
[resources.thresholds]
process_rss_bytes = { warn = 1_000_000, critical = 2e9 }
system_cpu_percent = { critical = 95 }
"#;

#[test]
fn scenario_files_fail_with_a_line_inside_the_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fuzz.toml");
    // mutations start from a file that parses
    ScenarioFile::parse(&path, SCENARIO).unwrap();
    runner()
        .run(&mutated(SCENARIO), |text| {
            if let Err(error) = ScenarioFile::parse(&path, &text) {
                let lines = text.lines().count().max(1);
                prop_assert!(
                    (1..=lines + 1).contains(&error.line()),
                    "line {} of {lines}: {error}",
                    error.line()
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn gateway_configs_fail_with_a_line_inside_the_file() {
    let demo = gatebench_gateway::config::DEMO_CONFIG;
    runner()
        .run(&mutated(demo), |text| {
            if let Err(error) = GatewayConfig::from_toml(&text, "gw.toml") {
                // `gw.toml:LINE: ` (found after parsing) or toml's `at line LINE`
                let shown = error.to_string();
                let number = |rest: &str| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse::<usize>().ok()
                };
                let line = shown.strip_prefix("gw.toml:").and_then(number).or_else(|| {
                    shown
                        .split_once("at line ")
                        .and_then(|(_, rest)| number(rest))
                });
                let lines = text.lines().count().max(1);
                prop_assert!(
                    line.is_some_and(|l| (1..=lines + 1).contains(&l)),
                    "no line inside the file: {shown}"
                );
                prop_assert!(!shown.contains(": ``:"), "an empty key: {shown}");
            }
            Ok(())
        })
        .unwrap();
}
