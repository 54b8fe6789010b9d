//! Tests of the chat and exact-match keys.

use serde_json::{Value, json};

use super::*;

fn base() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a storyteller."},
            {"role": "user", "content": "Tell me a story about a dragon"}
        ]
    })
}

fn keys(tenant: &str, request: &Value) -> ChatKeys {
    ChatKeys::from_request(tenant, request).expect("cacheable")
}

fn with(field: &str, value: Value) -> Value {
    let mut request = base();
    request[field] = value;
    request
}

#[test]
fn query_is_last_user_text() {
    let k = keys("alpha", &base());
    assert_eq!(k.query, "Tell me a story about a dragon");
}

#[test]
fn text_parts_are_joined_and_equal_a_plain_string() {
    let mut parts = base();
    parts["messages"][1]["content"] = json!([
        {"type": "text", "text": "Tell me a story"},
        {"type": "text", "text": "about a dragon"}
    ]);
    let k = keys("alpha", &parts);
    assert_eq!(k.query, "Tell me a story\nabout a dragon");
    // same words, whitespace differs only: same exact key
    assert_eq!(k.exact, keys("alpha", &base()).exact);
    assert_eq!(k.partition, keys("alpha", &base()).partition);
}

#[test]
fn non_text_parts_change_the_partition() {
    let mut image = base();
    image["messages"][1]["content"] = json!([
        {"type": "text", "text": "Tell me a story about a dragon"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    ]);
    assert_ne!(
        keys("alpha", &image).partition,
        keys("alpha", &base()).partition
    );
}

#[test]
fn every_answer_changing_parameter_changes_the_partition() {
    let reference = keys("alpha", &base()).partition;
    let cases: Vec<(&str, Value)> = vec![
        ("temperature", json!(0.2)),
        ("top_p", json!(0.5)),
        ("max_tokens", json!(64)),
        ("max_completion_tokens", json!(64)),
        ("n", json!(2)),
        ("stop", json!(["\n"])),
        ("seed", json!(7)),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        ),
        ("tool_choice", json!("required")),
        ("functions", json!([{"name": "f"}])),
        ("function_call", json!("auto")),
        ("response_format", json!({"type": "json_object"})),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
        ("logit_bias", json!({"50256": -100})),
        ("reasoning_effort", json!("low")),
        ("some_future_parameter", json!(true)),
    ];
    for (field, value) in cases {
        let changed = keys("alpha", &with(field, value)).partition;
        assert_ne!(changed, reference, "{field} must change the partition");
    }
}

#[test]
fn tenant_model_and_prompts_change_the_partition() {
    let reference = keys("alpha", &base()).partition;
    assert_ne!(keys("beta", &base()).partition, reference);
    assert_ne!(
        keys("alpha", &with("model", json!("deepseek-chat"))).partition,
        reference
    );

    let mut system = base();
    system["messages"][0]["content"] = json!("You are a poet.");
    assert_ne!(keys("alpha", &system).partition, reference);

    let mut developer = base();
    developer["messages"][0]["role"] = json!("developer");
    assert_ne!(keys("alpha", &developer).partition, reference);

    let mut turns = base();
    let messages = turns["messages"].as_array_mut().expect("array");
    messages.insert(1, json!({"role": "user", "content": "hi"}));
    messages.insert(2, json!({"role": "assistant", "content": "hello"}));
    assert_ne!(keys("alpha", &turns).partition, reference);

    let mut named = base();
    named["messages"][1]["name"] = json!("sam");
    assert_ne!(keys("alpha", &named).partition, reference);
}

#[test]
fn ignored_fields_do_not_change_any_key() {
    let reference = keys("alpha", &base());
    let cases: Vec<(&str, Value)> = vec![
        ("stream", json!(true)),
        ("stream_options", json!({"include_usage": true})),
        ("user", json!("user-42")),
        ("safety_identifier", json!("abc")),
        ("prompt_cache_key", json!("abc")),
        ("metadata", json!({"run": "7"})),
        ("store", json!(true)),
        ("service_tier", json!("flex")),
        ("parallel_tool_calls", json!(false)),
        ("logprobs", json!(false)),
        ("temperature", json!(1)),
        ("temperature", json!(1.0)),
        ("top_p", json!(1)),
        ("n", json!(1)),
        ("presence_penalty", json!(0)),
        ("frequency_penalty", json!(0.0)),
        ("max_tokens", Value::Null),
    ];
    for (field, value) in cases {
        let k = keys("alpha", &with(field, value));
        assert_eq!(k, reference, "{field} must not change the keys");
    }
}

#[test]
fn parallel_tool_calls_matters_only_with_tools() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    let with_tools = with("tools", tools);
    let mut parallel = with_tools.clone();
    parallel["parallel_tool_calls"] = json!(false);
    assert_ne!(
        keys("alpha", &parallel).partition,
        keys("alpha", &with_tools).partition
    );
}

#[test]
fn field_order_and_number_spelling_do_not_matter() {
    let a: Value = serde_json::from_str(
        r#"{"model":"m","temperature":0.5,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .expect("json");
    let b: Value = serde_json::from_str(
        r#"{"messages":[{"content":"hi","role":"user"}],"max_tokens":10.0,"temperature":0.5,"model":"m"}"#,
    )
    .expect("json");
    assert_eq!(keys("t", &a), keys("t", &b));
}

#[test]
fn query_whitespace_and_case_are_normalised_in_the_exact_key() {
    let mut spaced = base();
    spaced["messages"][1]["content"] = json!("  tell ME a\tstory   about a\n DRAGON ");
    let k = keys("alpha", &spaced);
    let reference = keys("alpha", &base());
    assert_eq!(k.exact, reference.exact);
    assert_eq!(k.partition, reference.partition);
    // the query itself is kept as sent: that is what gets embedded
    assert_eq!(k.query, "  tell ME a\tstory   about a\n DRAGON ");

    let mut other = base();
    other["messages"][1]["content"] = json!("Tell me a story about a unicorn");
    assert_ne!(keys("alpha", &other).exact, reference.exact);
    assert_eq!(keys("alpha", &other).partition, reference.partition);
}

#[test]
fn normalise_query_examples() {
    assert_eq!(normalise_query("  Hello \t\n  World  "), "hello world");
    assert_eq!(normalise_query("ÉTÉ"), "été");
    assert_eq!(normalise_query(""), "");
}

#[test]
fn same_query_in_another_tenant_has_another_exact_key() {
    assert_ne!(keys("alpha", &base()).exact, keys("beta", &base()).exact);
}

#[test]
fn non_cacheable_requests() {
    let cases: Vec<(Value, Uncacheable)> = vec![
        (json!([1, 2]), Uncacheable::NotAnObject),
        (
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            Uncacheable::NoModel,
        ),
        (json!({"model": "m"}), Uncacheable::NoMessages),
        (
            json!({"model": "m", "messages": []}),
            Uncacheable::NoMessages,
        ),
        (
            json!({"model": "m", "messages": "hi"}),
            Uncacheable::NoMessages,
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}),
            Uncacheable::LastNotUser {
                role: "assistant".into(),
            },
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "42", "tool_call_id": "c"}]}),
            Uncacheable::LastNotUser {
                role: "tool".into(),
            },
        ),
        (
            json!({"model": "m", "messages": [{"content": "hi"}]}),
            Uncacheable::LastNotUser {
                role: String::new(),
            },
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "   "}]}),
            Uncacheable::EmptyQuery,
        ),
        (
            json!({"model": "m", "messages": [{"role": "user"}]}),
            Uncacheable::EmptyQuery,
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}),
            Uncacheable::EmptyQuery,
        ),
        (
            json!({"model": "m", "logprobs": true, "messages": [{"role": "user", "content": "hi"}]}),
            Uncacheable::PerCall { field: "logprobs" },
        ),
        (
            json!({"model": "m", "top_logprobs": 3, "messages": [{"role": "user", "content": "hi"}]}),
            Uncacheable::PerCall {
                field: "top_logprobs",
            },
        ),
    ];
    for (request, reason) in cases {
        assert_eq!(
            ChatKeys::try_from_request("t", &request),
            Err(reason.clone()),
            "{request}"
        );
        assert!(ChatKeys::from_request("t", &request).is_none());
    }
}

#[test]
fn exact_keys_cover_tenant_route_and_body() {
    let body = json!({"model": "text-embedding-3-small", "input": "hello", "dimensions": 256});
    let reference = exact_key("alpha", "/v1/embeddings", &body);
    assert_ne!(exact_key("beta", "/v1/embeddings", &body), reference);
    assert_ne!(
        exact_key("alpha", "/v1/text-to-speech/v1", &body),
        reference
    );
    let mut other = body.clone();
    other["dimensions"] = json!(512);
    assert_ne!(exact_key("alpha", "/v1/embeddings", &other), reference);
    let mut user = body.clone();
    user["user"] = json!("u-1");
    assert_eq!(exact_key("alpha", "/v1/embeddings", &user), reference);
    let reordered: Value = serde_json::from_str(
        r#"{"dimensions":256,"input":"hello","model":"text-embedding-3-small"}"#,
    )
    .expect("json");
    assert_eq!(exact_key("alpha", "/v1/embeddings", &reordered), reference);
}

#[test]
fn keys_display_as_32_hex_digits() {
    let k = keys("alpha", &base());
    let s = k.exact.to_string();
    assert_eq!(s.len(), 32);
    assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(ExactKey(1).to_string(), "00000000000000000000000000000001");
}
