//! `POST /v1/responses`, the Responses API: `input` as a string or a list of
//! messages (and function calls with their outputs), `instructions`,
//! `max_output_tokens`, `text.format`, answered whole as a `response` object or
//! streamed as its documented event sequence (`stream.rs`).
//!
//! The request becomes a chat conversation (instructions first, as a system
//! message) and goes through the chat pipeline: the same prompt count, prompt
//! cache, text, caps, tool calls and latency. A response cut by
//! `max_output_tokens` is `incomplete`, as the API reports it; each tool call is
//! a `function_call` output item.
//!
//! A response is stored unless `store` is false (`store.rs`), under the API key
//! that created it, as it will end: `GET /v1/responses/{id}`, `DELETE` and
//! `.../input_items` serve it (`lookup.rs`). A request with
//! `previous_response_id` continues that conversation: its prompt is the earlier
//! turns (their input and output, not their instructions) then its own input, so
//! its `input_tokens` count them all, as the API bills them, and the prompt cache
//! sees the shared prefix. An id the mock does not hold is refused with the API's
//! 400 `previous_response_not_found`.

mod lookup;
mod store;
mod stream;

pub(super) use lookup::{delete, input_items, retrieve};
pub(super) use store::Store;
use store::Stored;

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatebench_wire::openai::{
    ChatCompletionRequest, FinishReason, InputContent, InputError, InputItem, InputTokensDetails,
    OutputItem, OutputText, OutputTokensDetails, ResponseInput, ResponseObject, ResponseRequest,
    ResponseUsage, Role,
};
use rand::RngExt as _;
use serde_json::{Value, json};

use super::OpenAiMock;
use super::admission::admit;
use super::arguments;
use super::chat::{self, Generated};
use super::completion::{Call, Memo, Written};
use super::reasoning;
use super::timing::Timing;
use super::validate::{self, invalid};
use crate::core::{Buffered, RequestCtx};
use crate::error::ApiError;
use crate::json::Json;
use crate::rng::MockRng;

/// The smallest `max_output_tokens` the API accepts.
const MIN_OUTPUT_TOKENS: i64 = 16;

/// The route handler.
pub(super) async fn handle(
    State(mock): State<Arc<OpenAiMock>>,
    ctx: RequestCtx,
    Buffered(body): Buffered,
) -> Response {
    match serve(&mock, &ctx, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve(mock: &OpenAiMock, ctx: &RequestCtx, body: &[u8]) -> Result<Response, ApiError> {
    let request: ResponseRequest = mock.request(body, arguments::RESPONSES)?;
    let model = mock.chat_model(&request.model)?;
    check_cap(&request, model.max_output_tokens)?;
    if let Some(truncation) = request
        .truncation
        .as_deref()
        .filter(|t| !["auto", "disabled"].contains(t))
    {
        return Err(invalid(
            "truncation",
            format!("Invalid value: '{truncation}'. Supported values are: 'auto' and 'disabled'."),
            Some("invalid_value"),
        ));
    }
    let previous = match &request.previous_response_id {
        Some(id) => Some(
            mock.responses
                .get(ctx.api_key(), id)
                .ok_or_else(|| previous_not_found(id))?,
        ),
        None => None,
    };
    let mut conversation = as_chat(&request, previous.as_deref())?;
    check_calls(&conversation)?;
    validate::chat(&conversation)?;
    // `reasoning.effort` here, `reasoning_effort` in chat's pipeline
    let effort = request.reasoning.as_ref().and_then(|r| r.get("effort"));
    let effort = match effort {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => Some(e.clone()),
        Some(other) => Some(other.to_string()),
    };
    reasoning::effort(effort.as_deref(), "reasoning.effort", model)?;
    conversation.reasoning_effort = effort;
    let planned = chat::plan(mock, &conversation, model)?.with_call_ids(ctx);
    let reserved = match request.max_output_tokens {
        Some(cap) => cap.max(0) as u64,
        None => u64::from(planned.usage.completion_tokens),
    };
    let admission = admit(
        &mock.core,
        ctx,
        &request.model,
        planned.prompt.len() as u64 + reserved,
    )?;
    let cached = mock
        .prompt_cache
        .lookup_and_store(&request.model, &planned.prompt);
    let written = planned.choices.first().cloned().unwrap_or_else(|| Written {
        text: String::new(),
        tokens: 0,
        finish: FinishReason::Stop,
        calls: Vec::new(),
        pieces: Memo::default(),
        message: Memo::default(),
    });
    let output = Output::of(&written, &mut ctx.rng("item_id"));
    let usage = ResponseUsage {
        input_tokens: planned.usage.prompt_tokens,
        input_tokens_details: InputTokensDetails {
            cached_tokens: cached,
        },
        output_tokens: written.tokens + planned.reasoning,
        output_tokens_details: OutputTokensDetails {
            reasoning_tokens: planned.reasoning,
        },
        total_tokens: planned.usage.prompt_tokens + written.tokens + planned.reasoning,
    };
    let timing = Timing::draw(model, ctx, &admission).thinking(planned.reasoning);
    let response_id = format!("resp_{}", hex_id(ctx, "response_id"));
    Generated {
        model: &request.model,
        input: usage.input_tokens,
        cached,
        output: usage.output_tokens,
        content: Some(&written.text),
        prompt: chat::prompt_hash(&conversation),
        response_id: &response_id,
        stream: request.is_stream(),
    }
    .book(mock, ctx);
    let started = skeleton(&request, &response_id, model.reasoning_tokens.is_some());
    if started.store {
        // kept as it will end: a stream's response can be fetched while it streams
        let done = finished(started.clone(), &output, usage.clone());
        let stored = Stored::new(
            serde_json::to_vec(&done).unwrap_or_default().into(),
            &request.input,
            {
                let mut rng = ctx.rng("input_item_id");
                move |item: &InputItem| item_id(&mut rng, item)
            },
            output.as_input(),
            previous,
        );
        mock.responses.insert(ctx.api_key(), response_id, stored);
    }
    if request.is_stream() {
        let plan = stream::Plan {
            started,
            output,
            usage,
            encoding: model.tokenizer,
            timing,
        };
        return Ok(stream::respond(plan, ctx.clone(), admission));
    }
    ctx.sleep_from_received(timing.whole(written.tokens)).await;
    let done = finished(started, &output, usage);
    let mut response = Json(done).into_response();
    response.headers_mut().extend(admission.headers.clone());
    Ok(response)
}

/// A response's output: one message, or one function call per call.
struct Output {
    items: Vec<Item>,
    /// The cap cut it.
    incomplete: bool,
}

impl Output {
    /// The output of `written`, its items' ids drawn from `rng`.
    fn of(written: &Written, rng: &mut MockRng) -> Output {
        let items = match written.calls.as_slice() {
            [] => vec![Item {
                id: format!("msg_{}", hex(rng)),
                text: written.text.clone(),
                call: None,
            }],
            calls => calls
                .iter()
                .map(|call| Item {
                    id: format!("fc_{}", hex(rng)),
                    text: call.arguments.clone(),
                    call: Some(call.clone()),
                })
                .collect(),
        };
        Output {
            items,
            incomplete: written.finish == FinishReason::Length,
        }
    }

    /// The items as they ended.
    fn ended(&self) -> Vec<OutputItem> {
        self.items.iter().map(|i| i.item(true, self)).collect()
    }

    /// The items as the next turn's input sees them.
    fn as_input(&self) -> Vec<InputItem> {
        self.items.iter().map(Item::as_input).collect()
    }
}

/// One output item: a message, or a function call (whose `text` is its
/// arguments).
struct Item {
    id: String,
    text: String,
    call: Option<Call>,
}

impl Item {
    /// The item as added (empty, `in_progress`) or as it ended.
    fn item(&self, ended: bool, output: &Output) -> OutputItem {
        let status = match (ended, output.incomplete) {
            (false, _) => "in_progress",
            (true, true) => "incomplete",
            (true, false) => "completed",
        };
        match &self.call {
            Some(call) => OutputItem::FunctionCall {
                id: self.id.clone(),
                call_id: call.id.clone(),
                name: call.name.clone(),
                arguments: if ended {
                    self.text.clone()
                } else {
                    String::new()
                },
                status: status.to_owned(),
            },
            None => OutputItem::Message {
                id: self.id.clone(),
                status: status.to_owned(),
                role: Role::Assistant,
                content: if ended {
                    vec![OutputText::new(self.text.clone())]
                } else {
                    Vec::new()
                },
            },
        }
    }

    /// The item as the next turn's input sees it.
    fn as_input(&self) -> InputItem {
        match &self.call {
            Some(call) => InputItem {
                kind: Some("function_call".to_owned()),
                call_id: Some(call.id.clone()),
                name: Some(call.name.clone()),
                arguments: Some(self.text.clone()),
                ..InputItem::default()
            },
            None => InputItem {
                kind: Some("message".to_owned()),
                role: Some(Role::Assistant),
                content: Some(InputContent::Text(self.text.clone())),
                ..InputItem::default()
            },
        }
    }
}

/// `max_output_tokens` within the API's range and the model's.
fn check_cap(request: &ResponseRequest, limit: u32) -> Result<(), ApiError> {
    let Some(cap) = request.max_output_tokens else {
        return Ok(());
    };
    if cap < MIN_OUTPUT_TOKENS {
        return Err(invalid(
            "max_output_tokens",
            format!(
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {cap} instead."
            ),
            Some("integer_below_min_value"),
        ));
    }
    if cap > i64::from(limit) {
        return Err(invalid(
            "max_output_tokens",
            format!(
                "max_output_tokens is too large: {cap}. This model supports at most {limit} output tokens, whereas you provided {cap}."
            ),
            Some("invalid_value"),
        ));
    }
    Ok(())
}

/// The request as a chat conversation, for the chat pipeline: after its
/// instructions, the conversation of the response it continues, then its input.
fn as_chat(
    request: &ResponseRequest,
    previous: Option<&Stored>,
) -> Result<ChatCompletionRequest, ApiError> {
    let invalid = |e: InputError| invalid(&e.param, e.message, Some(e.code));
    let Some(previous) = previous else {
        return request.as_chat().map_err(invalid);
    };
    // the input is checked as sent, so that an error names the request's own items
    request.as_chat().map_err(invalid)?;
    let mut items = previous.conversation();
    items.extend(store::items_of(&request.input));
    let continued = ResponseRequest {
        input: ResponseInput::Items(items),
        ..request.clone()
    };
    continued.as_chat().map_err(invalid)
}

/// The API's pairing of function calls with their outputs over the whole
/// conversation: every output answers a call made before it, and every call
/// is answered (a continuation of an answer that called functions sends their
/// outputs).
fn check_calls(conversation: &ChatCompletionRequest) -> Result<(), ApiError> {
    let mut open: Vec<&str> = Vec::new();
    for message in &conversation.messages {
        for call in message.tool_calls.iter().flatten() {
            open.push(&call.id);
        }
        if message.role == Role::Tool {
            let id = message.tool_call_id.as_deref().unwrap_or_default();
            let Some(at) = open.iter().position(|c| *c == id) else {
                return Err(invalid(
                    "input",
                    format!("No tool call found for function call output with call_id {id}."),
                    None,
                ));
            };
            open.remove(at);
        }
    }
    match open.first() {
        Some(id) => Err(invalid(
            "input",
            format!("No tool output found for function call {id}."),
            None,
        )),
        None => Ok(()),
    }
}

/// The API's refusal of a `previous_response_id` it does not hold.
fn previous_not_found(id: &str) -> ApiError {
    invalid(
        "previous_response_id",
        format!("Previous response with id '{id}' not found."),
        Some("previous_response_not_found"),
    )
}

/// An input item's id drawn from `rng`, as the API gives them: `msg_` for a
/// message, `fc_` for a function call, `fco_` for its output.
fn item_id(rng: &mut MockRng, item: &InputItem) -> String {
    let prefix = match item.kind.as_deref() {
        None | Some("message") => "msg",
        Some("function_call") => "fc",
        Some("function_call_output") => "fco",
        Some(_) => "item",
    };
    format!("{prefix}_{}", hex(rng))
}

/// The response as created: `in_progress`, no output, no usage; the request's
/// settings echoed as the API echoes them.
fn skeleton(request: &ResponseRequest, id: &str, reasoning_model: bool) -> ResponseObject {
    ResponseObject {
        id: id.to_owned(),
        object: ResponseObject::OBJECT.to_owned(),
        created_at: chat::unix_now(),
        status: "in_progress".to_owned(),
        completed_at: None,
        background: request.background.unwrap_or(false),
        error: None,
        incomplete_details: None,
        instructions: request.instructions.clone(),
        max_output_tokens: request.max_output_tokens,
        model: request.model.clone(),
        output: Vec::new(),
        parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
        previous_response_id: request.previous_response_id.clone(),
        prompt_cache_key: request.prompt_cache_key.clone(),
        reasoning: {
            let mut reasoning = request
                .reasoning
                .clone()
                .unwrap_or_else(|| json!({"effort": null, "summary": null}));
            // a reasoning model states the effort it reasons at, `medium` unless asked
            if reasoning_model && let Some(fields) = reasoning.as_object_mut() {
                let effort = fields.entry("effort").or_insert(Value::Null);
                if effort.is_null() {
                    *effort = json!("medium");
                }
            }
            reasoning
        },
        safety_identifier: request.safety_identifier.clone(),
        temperature: request.temperature.unwrap_or(1.0),
        top_p: request.top_p.unwrap_or(1.0),
        // the format is always stated, `text` by default
        text: {
            let mut text = request.text.clone().unwrap_or_else(|| json!({}));
            if let Some(fields) = text.as_object_mut() {
                fields
                    .entry("format")
                    .or_insert_with(|| json!({"type": "text"}));
            }
            text
        },
        tool_choice: request.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        tools: request.tools.clone().unwrap_or_default(),
        truncation: request
            .truncation
            .clone()
            .unwrap_or_else(|| "disabled".to_owned()),
        metadata: request.metadata.clone().unwrap_or_default(),
        service_tier: "default".to_owned(),
        store: request.store.unwrap_or(true),
        usage: None,
        user: request.user.clone(),
    }
}

/// The response as it ended: `completed`, or `incomplete` when the cap cut it.
fn finished(mut response: ResponseObject, output: &Output, usage: ResponseUsage) -> ResponseObject {
    if output.incomplete {
        response.status = "incomplete".to_owned();
        response.incomplete_details = Some(json!({"reason": "max_output_tokens"}));
    } else {
        response.status = "completed".to_owned();
        response.completed_at = Some(chat::unix_now());
    }
    response.output = output.ended();
    response.usage = Some(usage);
    response
}

/// 48 hex digits drawn for `purpose`, like the API's ids.
fn hex_id(ctx: &RequestCtx, purpose: &str) -> String {
    hex(&mut ctx.rng(purpose))
}

/// 48 hex digits drawn from `rng`.
fn hex(rng: &mut MockRng) -> String {
    let mut id = String::with_capacity(48);
    for _ in 0..3 {
        gatebench_wire::hex::push(&mut id, rng.random::<u64>(), 16);
    }
    id
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn conversation(input: Value) -> ChatCompletionRequest {
        let request: ResponseRequest =
            serde_json::from_value(json!({"model": "gpt-4o-mini", "input": input})).unwrap();
        request.as_chat().unwrap()
    }

    /// An item of a type the API does not have is refused, naming it; the API's
    /// other items (reasoning, references) pass, adding nothing to the prompt.
    #[test]
    fn an_input_item_of_no_known_type_is_refused() {
        let request = |item: Value| -> ResponseRequest {
            let user = json!({"role": "user", "content": "Hello"});
            serde_json::from_value(json!({"model": "gpt-4o-mini", "input": [user, item]})).unwrap()
        };
        let e = request(json!({"type": "thought", "text": "hm"}))
            .as_chat()
            .unwrap_err();
        assert_eq!(
            (e.param.as_str(), e.code),
            ("input[1].type", "invalid_value")
        );
        assert!(
            e.message
                .starts_with("Invalid value: 'thought'. Supported values are: 'message'"),
            "{}",
            e.message
        );
        let reasoning = json!({"type": "reasoning", "id": "rs_1", "summary": []});
        assert_eq!(request(reasoning).as_chat().unwrap().messages.len(), 1);
    }

    #[test]
    fn every_function_call_is_answered_and_every_output_answers_one() {
        let user = json!({"role": "user", "content": "Where is my order?"});
        let call = json!({"type": "function_call", "call_id": "call_1", "name": "lookup_order",
                          "arguments": "{}"});
        let output =
            |id: &str| json!({"type": "function_call_output", "call_id": id, "output": "{}"});
        let answered = conversation(json!([user, call, output("call_1"), user]));
        assert!(check_calls(&answered).is_ok());
        let unanswered = check_calls(&conversation(json!([user, call, user]))).unwrap_err();
        assert_eq!(unanswered.status_code(), 400);
        assert!(
            format!("{unanswered:?}").contains("No tool output found for function call call_1."),
            "{unanswered:?}"
        );
        // calls made together are one assistant turn; their outputs may come in
        // any order
        let second = json!({"type": "function_call", "call_id": "call_2", "name": "lookup_order",
                            "arguments": "{}"});
        let together = conversation(json!([
            user,
            call,
            second,
            output("call_2"),
            output("call_1")
        ]));
        let ids: Vec<&str> = together.messages[1]
            .tool_calls
            .iter()
            .flatten()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, ["call_1", "call_2"]);
        assert_eq!(together.messages.len(), 4);
        assert!(check_calls(&together).is_ok());
        let stray = check_calls(&conversation(json!([user, output("call_9")]))).unwrap_err();
        assert!(
            format!("{stray:?}")
                .contains("No tool call found for function call output with call_id call_9."),
            "{stray:?}"
        );
    }
}
