use axum::response::IntoResponse as _;
use gatebench_wire::openai::{ChatMessage, MessageContent, StreamOptions};
use serde_json::{Value, json};

use super::*;

fn body(error: ApiError) -> (u16, Value) {
    let response = error.into_response();
    let status = response.status().as_u16();
    let bytes = futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn request() -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini", vec![ChatMessage::user("Hello")])
}

fn refused(request: &ChatCompletionRequest) -> (u16, Value) {
    body(chat(request).expect_err("the request is invalid"))
}

#[test]
fn a_plain_request_passes() {
    chat(&request()).unwrap();
}

#[test]
fn empty_messages_are_refused_with_the_api_s_code() {
    let (status, body) = refused(&ChatCompletionRequest {
        messages: vec![],
        ..request()
    });
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "messages");
    assert_eq!(body["error"]["code"], "empty_array");
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[test]
fn an_unknown_role_names_the_message() {
    let mut r = request();
    r.messages
        .push(ChatMessage::new(Role::Other("robot".into()), "x"));
    let (_, body) = refused(&r);
    assert_eq!(body["error"]["param"], "messages[1].role");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'robot'")
    );
}

#[test]
fn a_user_message_without_content_is_refused() {
    let mut r = request();
    r.messages[0].content = None;
    assert_eq!(refused(&r).1["error"]["param"], "messages[0].content");
    r.messages[0].content = Some(MessageContent::Text(String::new()));
    chat(&r).unwrap();
}

#[test]
fn out_of_range_numbers_name_the_parameter_and_the_bound() {
    let cases = [
        (
            ChatCompletionRequest {
                temperature: Some(2.5),
                ..request()
            },
            "temperature",
            "decimal_above_max_value",
        ),
        (
            ChatCompletionRequest {
                top_p: Some(-0.1),
                ..request()
            },
            "top_p",
            "decimal_below_min_value",
        ),
        (
            ChatCompletionRequest {
                n: Some(0),
                ..request()
            },
            "n",
            "integer_below_min_value",
        ),
        (
            ChatCompletionRequest {
                max_tokens: Some(0),
                ..request()
            },
            "max_tokens",
            "integer_below_min_value",
        ),
        (
            ChatCompletionRequest {
                max_completion_tokens: Some(-5),
                ..request()
            },
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        (
            ChatCompletionRequest {
                presence_penalty: Some(3.0),
                ..request()
            },
            "presence_penalty",
            "decimal_above_max_value",
        ),
    ];
    for (r, param, code) in cases {
        let (status, body) = refused(&r);
        assert_eq!(status, 400);
        assert_eq!(body["error"]["param"], param);
        assert_eq!(body["error"]["code"], code);
    }
    let (_, body) = refused(&ChatCompletionRequest {
        temperature: Some(3.0),
        ..request()
    });
    assert_eq!(
        body["error"]["message"],
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead."
    );
}

#[test]
fn five_stop_sequences_are_one_too_many() {
    let r = ChatCompletionRequest {
        stop: Some(gatebench_wire::openai::Stop::Many(
            (0..5).map(|i| i.to_string()).collect(),
        )),
        ..request()
    };
    assert_eq!(refused(&r).1["error"]["code"], "array_above_max_length");
}

#[test]
fn stream_options_need_stream() {
    let r = ChatCompletionRequest {
        stream_options: Some(StreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        ..request()
    };
    assert_eq!(refused(&r).1["error"]["param"], "stream_options");
    chat(&ChatCompletionRequest {
        stream: Some(true),
        ..r
    })
    .unwrap();
}

#[test]
fn json_mode_needs_the_word_json() {
    let r = ChatCompletionRequest {
        response_format: Some(ResponseFormat::JsonObject),
        ..request()
    };
    assert_eq!(refused(&r).1["error"]["param"], "messages");
    let mut r = r;
    r.messages.push(ChatMessage::system("Answer in JSON."));
    chat(&r).unwrap();
}

#[test]
fn model_limits_are_enforced() {
    let model = ChatModel::default();
    let too_many = ChatCompletionRequest {
        max_tokens: Some(i64::from(model.max_output_tokens) + 1),
        ..request()
    };
    let (_, b) = body(chat_for_model(&too_many, &model, 10).unwrap_err());
    assert_eq!(b["error"]["param"], "max_tokens");
    let (_, b) =
        body(chat_for_model(&request(), &model, model.context_window as usize + 1).unwrap_err());
    assert_eq!(b["error"]["code"], "context_length_exceeded");
}

#[test]
fn embedding_inputs_and_dimensions_are_checked() {
    let model = EmbeddingModel::default();
    let parse = |v: Value| serde_json::from_value::<EmbeddingRequest>(v).unwrap();
    for input in [json!(""), json!([]), json!(["a", ""]), json!([[]])] {
        let r = parse(json!({"model": "m", "input": input}));
        let (status, b) = body(embeddings(&r, &model).unwrap_err());
        assert_eq!((status, &b["error"]["param"]), (400, &json!("input")));
    }
    let many: Vec<String> = (0..2049).map(|i| i.to_string()).collect();
    let r = parse(json!({"model": "m", "input": many}));
    assert_eq!(
        body(embeddings(&r, &model).unwrap_err()).1["error"]["code"],
        "array_above_max_length"
    );
    let r = parse(json!({"model": "m", "input": "hi", "dimensions": 0}));
    assert!(embeddings(&r, &model).is_err());
    let r = parse(json!({"model": "m", "input": "hi", "dimensions": 256}));
    embeddings(&r, &model).unwrap();
    let ada = EmbeddingModel {
        shortening: false,
        ..EmbeddingModel::default()
    };
    let (_, b) = body(embeddings(&r, &ada).unwrap_err());
    assert_eq!(b["error"]["param"], "dimensions");
    assert!(embedding_tokens(&[8193], &model).is_err());
    embedding_tokens(&[8192, 8192], &model).unwrap();
}
