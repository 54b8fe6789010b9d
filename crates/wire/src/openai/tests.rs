use serde_json::json;

use super::*;

#[test]
fn a_request_from_an_sdk_with_fields_we_do_not_know_parses() {
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "name": "ann", "content": [
                {"type": "text", "text": "Hello "},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                {"type": "text", "text": "there"}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"}
        ],
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_completion_tokens": 50,
        "stop": "\n\n",
        "seed": -3,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "prediction": {"type": "content", "content": "later API field"},
        "modalities": ["text"],
        "web_search_options": {}
    });
    let request: ChatCompletionRequest = serde_json::from_value(body).unwrap();
    assert!(request.is_stream() && request.include_usage());
    assert_eq!(request.token_cap(), Some(50));
    assert_eq!(request.stop_sequences(), ["\n\n"]);
    assert_eq!(request.messages[0].role, Role::Developer);
    assert_eq!(request.messages[1].text(), "Hello there");
    assert_eq!(request.messages[2].content, None);
    assert_eq!(request.last_user_text().as_deref(), Some("Hello there"));
    assert!(matches!(
        request.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
}

#[test]
fn unknown_roles_and_finish_reasons_survive_a_round_trip() {
    let message: ChatMessage =
        serde_json::from_value(json!({"role": "narrator", "content": "x"})).unwrap();
    assert_eq!(message.role, Role::Other("narrator".into()));
    assert_eq!(serde_json::to_value(&message).unwrap()["role"], "narrator");
    let reason: FinishReason = serde_json::from_value(json!("length")).unwrap();
    assert_eq!(reason, FinishReason::Length);
    let other: FinishReason =
        serde_json::from_value(json!("insufficient_system_resource")).unwrap();
    assert_eq!(other.as_str(), "insufficient_system_resource");
}

#[test]
fn a_completion_writes_the_nulls_the_sdks_expect() {
    let completion = ChatCompletion {
        id: "chatcmpl-1".into(),
        object: ChatCompletion::OBJECT.into(),
        created: 1,
        model: "gpt-4o".into(),
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage::text("Hi"),
            logprobs: None,
            finish_reason: Some(FinishReason::Stop),
        }],
        usage: Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 1,
            total_tokens: 10,
            prompt_tokens_details: Some(PromptTokensDetails::default()),
            ..Default::default()
        }),
        service_tier: Some("default".into()),
        system_fingerprint: None,
    };
    let value = serde_json::to_value(&completion).unwrap();
    let choice = &value["choices"][0];
    assert_eq!(choice["logprobs"], json!(null));
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["refusal"], json!(null));
    assert_eq!(choice["message"]["annotations"], json!([]));
    assert_eq!(value["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert!(value["usage"].get("prompt_cache_hit_tokens").is_none());
    let back: ChatCompletion = serde_json::from_value(value).unwrap();
    assert_eq!(back, completion);
}

#[test]
fn chunk_usage_is_absent_null_or_present() {
    let mut chunk = ChatCompletionChunk {
        id: "c".into(),
        object: ChatCompletionChunk::OBJECT.into(),
        created: 1,
        model: "m".into(),
        system_fingerprint: None,
        service_tier: None,
        choices: vec![ChunkChoice {
            index: 0,
            delta: Delta {
                content: Some("a".into()),
                ..Default::default()
            },
            logprobs: None,
            finish_reason: None,
        }],
        usage: None,
    };
    let absent = serde_json::to_value(&chunk).unwrap();
    assert!(absent.get("usage").is_none());
    assert_eq!(absent["choices"][0]["finish_reason"], json!(null));
    chunk.usage = Some(None);
    let null = serde_json::to_value(&chunk).unwrap();
    assert_eq!(null["usage"], json!(null));
    let back: ChatCompletionChunk = serde_json::from_value(null).unwrap();
    assert_eq!(back.usage, Some(None));
    let back: ChatCompletionChunk = serde_json::from_value(absent).unwrap();
    assert_eq!(back.usage, None);
}

#[test]
fn content_and_stop_are_a_string_or_a_list_and_say_so_when_neither() {
    let content = |value| serde_json::from_str::<MessageContent>(value);
    assert_eq!(
        content(r#""caf\u00e9""#).unwrap(),
        MessageContent::Text("café".into())
    );
    assert_eq!(content("[]").unwrap(), MessageContent::Parts(vec![]));
    assert_eq!(
        content(r#"[{"type":"text","text":"a"}]"#).unwrap(),
        MessageContent::Parts(vec![ContentPart::Text { text: "a".into() }])
    );
    let wrong = content("5").unwrap_err().to_string();
    assert!(
        wrong.starts_with(
            "invalid type: integer `5`, expected a string or an array of content parts"
        ),
        "{wrong}"
    );
    assert!(content(r#"[{"text":"a"}]"#).is_err());
    assert!(content(r#"{"type":"text"}"#).is_err());

    let stop = |value| serde_json::from_str::<Stop>(value);
    assert_eq!(stop(r#""\n""#).unwrap(), Stop::One("\n".into()));
    assert_eq!(
        stop(r#"["a","b"]"#).unwrap(),
        Stop::Many(vec!["a".into(), "b".into()])
    );
    let wrong = stop("[1]").unwrap_err().to_string();
    assert!(
        wrong.starts_with("invalid type: integer `1`, expected a string"),
        "{wrong}"
    );
    assert!(stop("null").is_err());

    // both serialise as they parse
    for value in [r#""x""#, r#"[{"type":"text","text":"a"}]"#] {
        assert_eq!(
            serde_json::to_string(&content(value).unwrap()).unwrap(),
            value
        );
    }
}

#[test]
fn embedding_inputs_of_every_shape_parse() {
    let parse = |input| {
        serde_json::from_value::<EmbeddingRequest>(json!({"model": "m", "input": input}))
            .map(|r| r.input)
    };
    assert_eq!(parse(json!("a")).unwrap(), EmbeddingInput::Text("a".into()));
    assert_eq!(parse(json!(["a", "b"])).unwrap().len(), 2);
    assert_eq!(
        parse(json!([1, 2, 3])).unwrap(),
        EmbeddingInput::Tokens(vec![1, 2, 3])
    );
    assert_eq!(parse(json!([[1], [2, 3]])).unwrap().len(), 2);
    assert!(parse(json!([])).unwrap().is_empty());
    assert!(parse(json!([1, "a"])).is_err());
    assert!(parse(json!({"a": 1})).is_err());
}

#[test]
fn provider_responses_with_extra_fields_parse() {
    // A DeepSeek completion: its own cache fields in usage, fields OpenAI lacks.
    let deepseek = json!({
        "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e",
        "object": "chat.completion",
        "created": 1705651092,
        "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 16, "completion_tokens": 10, "total_tokens": 26,
                  "prompt_tokens_details": {"cached_tokens": 0},
                  "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 16},
        "system_fingerprint": "fp_1"
    });
    let completion: ChatCompletion = serde_json::from_value(deepseek).unwrap();
    let usage = completion.usage.unwrap();
    assert_eq!(usage.prompt_cache_miss_tokens, Some(16));
    assert_eq!(
        completion.choices[0].message.annotations,
        Vec::<serde_json::Value>::new()
    );
    // An OpenAI chunk with the obfuscation padding newer API versions add.
    let chunk = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "service_tier": "default", "system_fingerprint": "fp_1", "obfuscation": "x1y2",
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "logprobs": null, "finish_reason": null}]
    });
    let chunk: ChatCompletionChunk = serde_json::from_value(chunk).unwrap();
    assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("Hel"));
}
