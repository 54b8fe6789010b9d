//! Probes of the OpenAI-compatible routes: chat completions (plain, streamed, from
//! the cache, and every way a request can be refused), legacy text completions,
//! responses, embeddings and models.

use serde_json::json;

use super::{
    Action, CHAT, CHAT_MODEL, COMPLETIONS, Code, EMBED, EMBED_MODEL, Keys, OVERSIZED, Probe,
    RESPONSES, STORED, STORED_ITEMS, Script, call, chat_body, gateway_headers, media, openai_error,
    status,
};
use crate::checks::endpoints::call::{Auth, Request};
use crate::checks::endpoints::shapes;

pub(super) fn chat(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let n = &keys.nonce;
    let path = "/v1/chat/completions";
    let prompt = |topic: &str| format!("Endpoint probe {n}: {topic}");
    let mut stream_body = chat_body(&prompt("explain in two sentences how tides form."));
    stream_body["stream"] = json!(true);
    let mut usage_body = chat_body(&prompt("explain in two sentences why bread dough rises."));
    usage_body["stream"] = json!(true);
    usage_body["stream_options"] = json!({ "include_usage": true });
    let mut oversized =
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":""#.to_vec();
    oversized.resize(OVERSIZED, b'a');
    oversized.extend_from_slice(br#""}]}"#);
    vec![
        call(
            "chat completion",
            CHAT,
            "200 chat.completion (id, created, model, choices[0].message.content, finish_reason, usage with cached_tokens) and the x-gatebench-* and server-timing headers",
            Request::post(path, own(), chat_body(&prompt("name three uses of copper wire."))),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let shape = shapes::chat_completion(&reply.json()?)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "chat completion, high priority, cache skipped",
            CHAT,
            "200 chat.completion with x-gatebench-cache: bypass",
            Request::post(path, own(), chat_body(&prompt("name two metals that rust.")))
                .header("x-gatebench-priority", "high")
                .header("x-gatebench-cache", "no-cache"),
            Box::new(|reply| {
                status(reply, 200)?;
                let shape = shapes::chat_completion(&reply.json()?)?;
                match reply.header("x-gatebench-cache") {
                    Some("bypass") => Ok(format!("{shape}; {}", gateway_headers(reply, true)?)),
                    other => Err(format!("x-gatebench-cache {other:?}, not bypass")),
                }
            }),
        ),
        call(
            "chat stream",
            CHAT,
            "200 text/event-stream of chat.completion.chunk events ending with [DONE], no usage chunk",
            Request::post(path, own(), stream_body),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/event-stream")?;
                let shape = shapes::chat_stream(reply.text()?, false)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, false)?))
            }),
        ),
        call(
            "chat stream with include_usage",
            CHAT,
            "200 text/event-stream whose last chunk before [DONE] has empty choices and the usage",
            Request::post(path, own(), usage_body),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/event-stream")?;
                shapes::chat_stream(reply.text()?, true)
            }),
        ),
        Probe {
            name: "chat cache replay",
            route: CHAT,
            expect: "the same request twice: the second answer is x-gatebench-cache: hit with a similarity, costs 0 and is a whole chat.completion".into(),
            action: Action::Script(Script::CacheReplay),
        },
        call(
            "chat without a key",
            CHAT,
            "401 OpenAI error shape, code a string or null",
            Request::post(path, Auth::None, chat_body(&prompt("hello"))),
            openai_error(401, Code::Any, None),
        ),
        call(
            "chat with a wrong key",
            CHAT,
            "401 OpenAI error shape, code invalid_api_key",
            Request::post(path, Auth::Bearer("gb-nobody-probe".into()), chat_body(&prompt("hello"))),
            openai_error(401, Code::Is("invalid_api_key"), None),
        ),
        call(
            "chat with malformed JSON",
            CHAT,
            "400 OpenAI error shape",
            Request::post_raw(path, own(), br#"{"model": "gpt-4o-mini", "messages": ["#.to_vec()),
            openai_error(400, Code::Any, None),
        ),
        call(
            "chat body not an object",
            CHAT,
            "400 OpenAI error shape",
            Request::post(path, own(), json!([1, 2])),
            openai_error(400, Code::Any, None),
        ),
        call(
            "chat without model",
            CHAT,
            "400 OpenAI error shape, param model",
            Request::post(path, own(), json!({ "messages": [{ "role": "user", "content": "hi" }] })),
            openai_error(400, Code::Any, Some("model")),
        ),
        call(
            "chat with messages of the wrong type",
            CHAT,
            "400 OpenAI error shape, param messages",
            Request::post(path, own(), json!({ "model": CHAT_MODEL, "messages": "hello" })),
            openai_error(400, Code::Any, Some("messages")),
        ),
        call(
            "chat with no messages",
            CHAT,
            "400 OpenAI error shape, param messages",
            Request::post(path, own(), json!({ "model": CHAT_MODEL, "messages": [] })),
            openai_error(400, Code::Any, Some("messages")),
        ),
        call(
            "chat with an unknown model",
            CHAT,
            "404 OpenAI error shape, code model_not_found (the provider's answer)",
            Request::post(
                path,
                own(),
                json!({ "model": "gpt-nonexistent-probe", "messages": [{ "role": "user", "content": prompt("hi") }], "max_tokens": 8 }),
            ),
            openai_error(404, Code::Is("model_not_found"), None),
        ),
        call(
            "chat with a bad priority",
            CHAT,
            "400 OpenAI error shape, param x-gatebench-priority",
            Request::post(path, own(), chat_body(&prompt("hi"))).header("x-gatebench-priority", "urgent"),
            openai_error(400, Code::Any, Some("x-gatebench-priority")),
        ),
        call(
            "chat with a bad deadline",
            CHAT,
            "400 OpenAI error shape, param x-gatebench-deadline-ms",
            Request::post(path, own(), chat_body(&prompt("hi"))).header("x-gatebench-deadline-ms", "soon"),
            openai_error(400, Code::Any, Some("x-gatebench-deadline-ms")),
        ),
        call(
            "chat with a bad cache directive",
            CHAT,
            "400 OpenAI error shape, param x-gatebench-cache",
            Request::post(path, own(), chat_body(&prompt("hi"))).header("x-gatebench-cache", "forever"),
            openai_error(400, Code::Any, Some("x-gatebench-cache")),
        ),
        call(
            "chat body over the limit",
            CHAT,
            "413 OpenAI error shape, code request_too_large (9 MiB body, 8 MiB limit)",
            Request::post_raw(path, own(), oversized),
            openai_error(413, Code::Is("request_too_large"), None),
        ),
    ]
}

pub(super) fn completions(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let n = &keys.nonce;
    let path = "/v1/completions";
    let body = |topic: &str| json!({ "model": CHAT_MODEL, "prompt": format!("Endpoint probe {n}: {topic}"), "max_tokens": 32 });
    let mut stream_body = body("the tide comes in because");
    stream_body["stream"] = json!(true);
    let mut usage_body = body("bread dough rises because");
    usage_body["stream"] = json!(true);
    usage_body["stream_options"] = json!({ "include_usage": true });
    vec![
        call(
            "text completion",
            COMPLETIONS,
            "200 text_completion (id, created, model, choices[].text, finish_reason, usage) and the x-gatebench-* and server-timing headers",
            Request::post(path, own(), body("copper wire is used for")),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let shape = shapes::text_completion(&reply.json()?)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "text completion stream",
            COMPLETIONS,
            "200 text/event-stream of text_completion chunks ending with [DONE], no usage chunk",
            Request::post(path, own(), stream_body),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/event-stream")?;
                shapes::completion_stream(reply.text()?, shapes::Completions::Text, false)
            }),
        ),
        call(
            "text completion stream with include_usage",
            COMPLETIONS,
            "200 text/event-stream whose last chunk before [DONE] has empty choices and the usage",
            Request::post(path, own(), usage_body),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/event-stream")?;
                shapes::completion_stream(reply.text()?, shapes::Completions::Text, true)
            }),
        ),
        call(
            "text completion without a prompt",
            COMPLETIONS,
            "400 OpenAI error shape",
            Request::post(path, own(), json!({ "model": CHAT_MODEL })),
            openai_error(400, Code::Any, None),
        ),
        call(
            "text completion without a key",
            COMPLETIONS,
            "401 OpenAI error shape",
            Request::post(path, Auth::None, body("hi")),
            openai_error(401, Code::Any, None),
        ),
    ]
}

pub(super) fn responses(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let n = &keys.nonce;
    let path = "/v1/responses";
    let body = |topic: &str| json!({ "model": CHAT_MODEL, "input": format!("Endpoint probe {n}: {topic}"), "max_output_tokens": 48 });
    let mut stream_body = body("explain in two sentences how a kite flies.");
    stream_body["stream"] = json!(true);
    vec![
        call(
            "response",
            RESPONSES,
            "200 response (resp_ id, status completed or incomplete, output_text, usage with input_tokens_details.cached_tokens) and the x-gatebench-* and server-timing headers",
            Request::post(path, own(), body("name three uses of glass.")),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let shape = shapes::response(&reply.json()?)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "response stream",
            RESPONSES,
            "200 text/event-stream from response.created to response.completed (or incomplete), numbered from 0, its deltas the final text",
            Request::post(path, own(), stream_body),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "text/event-stream")?;
                let shape = shapes::response_stream(reply.text()?)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, false)?))
            }),
        ),
        call(
            "response with an empty input",
            RESPONSES,
            "400 OpenAI error shape, param input",
            Request::post(path, own(), json!({ "model": CHAT_MODEL, "input": [] })),
            openai_error(400, Code::Any, Some("input")),
        ),
        call(
            "response without a key",
            RESPONSES,
            "401 OpenAI error shape",
            Request::post(path, Auth::None, body("hi")),
            openai_error(401, Code::Any, None),
        ),
        Probe {
            name: "stored response",
            route: STORED,
            expect: "a response made, then read back whole (the same id), its input items listed (one, with its id), unknown to another tenant (404), deleted ({deleted: true}) and then unknown (404)".into(),
            action: Action::Script(Script::StoredResponse),
        },
        call(
            "an unknown stored response",
            STORED,
            "404 OpenAI error shape",
            Request::get("/v1/responses/resp_probe_unknown", own()),
            openai_error(404, Code::Any, None),
        ),
        call(
            "input items of an unknown response",
            STORED_ITEMS,
            "404 OpenAI error shape",
            Request::get("/v1/responses/resp_probe_unknown/input_items", own()),
            openai_error(404, Code::Any, None),
        ),
        call(
            "a continuation of an unknown response",
            RESPONSES,
            "400 OpenAI error shape, code previous_response_not_found, param previous_response_id",
            Request::post(
                path,
                own(),
                json!({ "model": CHAT_MODEL, "input": "hi", "previous_response_id": "resp_probe_unknown" }),
            ),
            openai_error(
                400,
                Code::Is("previous_response_not_found"),
                Some("previous_response_id"),
            ),
        ),
    ]
}

pub(super) fn embeddings(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    let n = &keys.nonce;
    let path = "/v1/embeddings";
    let (model, dims) = EMBED_MODEL;
    let body =
        |input: &str| json!({ "model": model, "input": format!("Endpoint probe {n}: {input}") });
    let mut base64 = body("a lantern in the fog");
    base64["encoding_format"] = json!("base64");
    let mut shortened = body("a kite over the dunes");
    shortened["dimensions"] = json!(256);
    vec![
        call(
            "embeddings",
            EMBED,
            "200 list of embedding objects, 1536 floats each, usage with prompt_tokens = total_tokens",
            Request::post(path, own(), body("a quiet harbour at dawn")),
            Box::new(move |reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let shape = shapes::embeddings(&reply.json()?, dims, false)?;
                Ok(format!("{shape}; {}", gateway_headers(reply, true)?))
            }),
        ),
        call(
            "embeddings as base64",
            EMBED,
            "200 with each embedding a base64 string of 1536 little-endian f32",
            Request::post(path, own(), base64),
            Box::new(move |reply| {
                status(reply, 200)?;
                shapes::embeddings(&reply.json()?, dims, true)
            }),
        ),
        call(
            "embeddings with dimensions",
            EMBED,
            "200 with 256-dimension embeddings",
            Request::post(path, own(), shortened),
            Box::new(|reply| {
                status(reply, 200)?;
                shapes::embeddings(&reply.json()?, 256, false)
            }),
        ),
        call(
            "embeddings with a bad input",
            EMBED,
            "400 OpenAI error shape, param input",
            Request::post(
                path,
                own(),
                json!({ "model": model, "input": { "text": "not a string" } }),
            ),
            openai_error(400, Code::Any, Some("input")),
        ),
        call(
            "embeddings with an unknown model",
            EMBED,
            "404 OpenAI error shape, code model_not_found (the provider's answer)",
            Request::post(
                path,
                own(),
                json!({ "model": "text-embedding-nonexistent-probe", "input": "hi" }),
            ),
            openai_error(404, Code::Is("model_not_found"), None),
        ),
        call(
            "embeddings without a key",
            EMBED,
            "401 OpenAI error shape",
            Request::post(path, Auth::None, body("hi")),
            openai_error(401, Code::Any, None),
        ),
        call(
            "models",
            "GET /v1/models",
            "200 list of unique {id, object: model, created, owned_by}, with gpt-4o-mini and text-embedding-3-small",
            Request::get("/v1/models", own()),
            Box::new(move |reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                shapes::model_list(&reply.json()?, &[CHAT_MODEL, model])
            }),
        ),
        call(
            "one model",
            "GET /v1/models/{model}",
            "200 {id: gpt-4o-mini, object: model, created, owned_by}",
            Request::get(format!("/v1/models/{CHAT_MODEL}"), own()),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                shapes::model(&reply.json()?, CHAT_MODEL)
            }),
        ),
        call(
            "an unknown model",
            "GET /v1/models/{model}",
            "404 OpenAI error shape, code model_not_found",
            Request::get("/v1/models/gpt-nonexistent-probe", own()),
            openai_error(404, Code::Is("model_not_found"), None),
        ),
    ]
}
