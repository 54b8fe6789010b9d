//! `POST /v1/responses` (the Responses API): the request, the response object, and
//! the server-sent events of a streamed response.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Role;

/// A Responses API request. Unknown fields are ignored; numbers are kept as sent
/// so that validation gives the API's own messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseRequest {
    /// Model id.
    pub model: String,
    /// A string (one user message) or a list of input items.
    pub input: ResponseInput,
    /// A system (developer) message put before the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Cap on generated tokens, reasoning included (at least 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    /// Stream server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// `{"format": {"type": "text" | "json_object" | "json_schema", ...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Value>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// `none`, `auto`, `required` or a named tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Allow several tool calls in one turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Key-value pairs echoed in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// The response this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Store the response for later retrieval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `{"effort", "summary"}` (reasoning models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Value>,
    /// Prompt cache routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// Stable end-user id for abuse detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// `auto` (drop early input that does not fit the context) or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    /// Run in the background (poll for the result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// vLLM extension: ignore the end of the answer and generate the whole
    /// `max_output_tokens` (benchmark tools send it to fix output lengths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_eos: Option<bool>,
    /// vLLM extension: generate at least this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<i64>,
}

impl ResponseRequest {
    /// `stream: true`.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}

/// `input`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResponseInput {
    /// One user message.
    Text(String),
    /// Messages and other items (function calls and their outputs).
    Items(Vec<InputItem>),
}

/// One input item: a message (`role` and `content`; `type` is `message` or
/// absent), a `function_call` or a `function_call_output`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputItem {
    /// `message`, `function_call`, `function_call_output`, ...
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A message's author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// A message's text or content parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<InputContent>,
    /// A function call's (or its output's) call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// A function call's function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A function call's JSON arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// A function call output's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// A message's content: a string or typed parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputContent {
    /// Plain text.
    Text(String),
    /// `input_text`, `output_text`, `input_image`, `input_file`, ... parts.
    Parts(Vec<InputPart>),
}

impl InputContent {
    /// The text of the content (text parts concatenated).
    pub fn text(&self) -> String {
        match self {
            InputContent::Text(s) => s.clone(),
            InputContent::Parts(parts) => parts.iter().filter_map(|p| p.text.as_deref()).collect(),
        }
    }
}

/// One content part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputPart {
    /// `input_text`, `output_text`, `input_image`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a text part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A response (`object: "response"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// `resp_...`.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix time in seconds.
    pub created_at: u64,
    /// `in_progress`, `completed`, `incomplete`, ...
    pub status: String,
    /// When it completed (`null` before).
    pub completed_at: Option<u64>,
    /// As requested (default `false`).
    pub background: bool,
    /// Always `null` here.
    pub error: Option<Value>,
    /// Why it is incomplete (`{"reason": "max_output_tokens"}`), else `null`.
    pub incomplete_details: Option<Value>,
    /// The request's instructions.
    pub instructions: Option<String>,
    /// The request's cap.
    pub max_output_tokens: Option<i64>,
    /// The model that answered.
    pub model: String,
    /// Generated items (empty until the first is added).
    pub output: Vec<OutputItem>,
    /// As requested (default `true`).
    pub parallel_tool_calls: bool,
    /// As requested.
    pub previous_response_id: Option<String>,
    /// As requested.
    pub prompt_cache_key: Option<String>,
    /// As requested (default `{"effort": null, "summary": null}`).
    pub reasoning: Value,
    /// As requested.
    pub safety_identifier: Option<String>,
    /// As requested (default 1).
    pub temperature: f64,
    /// As requested (default 1).
    pub top_p: f64,
    /// As requested (default `{"format": {"type": "text"}}`).
    pub text: Value,
    /// As requested (default `auto`).
    pub tool_choice: Value,
    /// As requested (default `[]`).
    pub tools: Vec<Value>,
    /// Always `disabled`.
    pub truncation: String,
    /// As requested (default `{}`).
    pub metadata: Map<String, Value>,
    /// Tier that served it (`default`).
    pub service_tier: String,
    /// As requested (default `true`).
    pub store: bool,
    /// Token counts (`null` until completed).
    pub usage: Option<ResponseUsage>,
    /// As requested.
    pub user: Option<String>,
}

impl ResponseObject {
    /// The `object` value of a response.
    pub const OBJECT: &'static str = "response";

    /// The text of every `output_text` part of every message item.
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter_map(|item| match item {
                OutputItem::Message { content, .. } => Some(content),
                OutputItem::FunctionCall { .. } => None,
            })
            .flatten()
            .map(|part| part.text.as_str())
            .collect()
    }
}

/// One generated item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// An assistant message.
    Message {
        /// `msg_...`.
        id: String,
        /// `in_progress`, `completed` or `incomplete`.
        status: String,
        /// Always `assistant`.
        role: Role,
        /// Its text parts.
        content: Vec<OutputText>,
    },
    /// A call of a function tool.
    FunctionCall {
        /// `fc_...`.
        id: String,
        /// `call_...`, echoed by the `function_call_output` that answers it.
        call_id: String,
        /// The function.
        name: String,
        /// Its arguments, JSON-encoded.
        arguments: String,
        /// `in_progress` or `completed`.
        status: String,
    },
}

/// An `output_text` content part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    pub text: String,
    /// Citations (`[]`).
    pub annotations: Vec<Value>,
    /// Log probabilities (`[]` unless asked for).
    pub logprobs: Vec<Value>,
}

impl OutputText {
    /// An `output_text` part.
    pub fn new(text: impl Into<String>) -> Self {
        OutputText {
            kind: "output_text".to_owned(),
            text: text.into(),
            annotations: Vec::new(),
            logprobs: Vec::new(),
        }
    }
}

/// `usage` of a response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Input tokens.
    pub input_tokens: u32,
    /// Breakdown of the input tokens.
    pub input_tokens_details: InputTokensDetails,
    /// Generated tokens, reasoning included.
    pub output_tokens: u32,
    /// Breakdown of the generated tokens.
    pub output_tokens_details: OutputTokensDetails,
    /// `input_tokens + output_tokens`.
    pub total_tokens: u32,
}

/// `usage.input_tokens_details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Input tokens served from the prompt cache.
    pub cached_tokens: u32,
}

/// `usage.output_tokens_details`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Tokens spent reasoning.
    pub reasoning_tokens: u32,
}

/// One server-sent event of a streamed response (`event: TYPE` and `data: {...}`
/// with the same `type`); every event carries its `sequence_number`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ResponseEvent {
    /// The response exists (`in_progress`, no output).
    #[serde(rename = "response.created")]
    Created {
        /// Position in the stream, from 0.
        sequence_number: u64,
        /// The response so far.
        response: Box<ResponseObject>,
    },
    /// Generation started.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// Position in the stream.
        sequence_number: u64,
        /// The response so far.
        response: Box<ResponseObject>,
    },
    /// An output item begins.
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        /// Position in the stream.
        sequence_number: u64,
        /// Which item.
        output_index: u32,
        /// The item, empty.
        item: OutputItem,
    },
    /// A content part of a message begins.
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        /// Position in the stream.
        sequence_number: u64,
        /// The message's id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// Which part.
        content_index: u32,
        /// The part, empty.
        part: OutputText,
    },
    /// More text.
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        /// Position in the stream.
        sequence_number: u64,
        /// The message's id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// Which part.
        content_index: u32,
        /// The new text.
        delta: String,
        /// Log probabilities (`[]`).
        logprobs: Vec<Value>,
    },
    /// The part's whole text.
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        /// Position in the stream.
        sequence_number: u64,
        /// The message's id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// Which part.
        content_index: u32,
        /// The whole text.
        text: String,
        /// Log probabilities (`[]`).
        logprobs: Vec<Value>,
    },
    /// A content part is complete.
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        /// Position in the stream.
        sequence_number: u64,
        /// The message's id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// Which part.
        content_index: u32,
        /// The whole part.
        part: OutputText,
    },
    /// More of a function call's arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        /// Position in the stream.
        sequence_number: u64,
        /// The call's item id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// The new fragment.
        delta: String,
    },
    /// A function call's whole arguments.
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        /// Position in the stream.
        sequence_number: u64,
        /// The call's item id.
        item_id: String,
        /// Which item.
        output_index: u32,
        /// The function.
        name: String,
        /// The whole arguments.
        arguments: String,
    },
    /// An output item is complete.
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        /// Position in the stream.
        sequence_number: u64,
        /// Which item.
        output_index: u32,
        /// The whole item.
        item: OutputItem,
    },
    /// The response is complete, with its usage.
    #[serde(rename = "response.completed")]
    Completed {
        /// Position in the stream.
        sequence_number: u64,
        /// The whole response.
        response: Box<ResponseObject>,
    },
    /// The response stopped at `max_output_tokens`, with its usage.
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// Position in the stream.
        sequence_number: u64,
        /// The whole response.
        response: Box<ResponseObject>,
    },
}

impl ResponseEvent {
    /// The event's `type`, also its SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ResponseEvent::Created { .. } => "response.created",
            ResponseEvent::InProgress { .. } => "response.in_progress",
            ResponseEvent::OutputItemAdded { .. } => "response.output_item.added",
            ResponseEvent::ContentPartAdded { .. } => "response.content_part.added",
            ResponseEvent::OutputTextDelta { .. } => "response.output_text.delta",
            ResponseEvent::OutputTextDone { .. } => "response.output_text.done",
            ResponseEvent::ContentPartDone { .. } => "response.content_part.done",
            ResponseEvent::FunctionCallArgumentsDelta { .. } => {
                "response.function_call_arguments.delta"
            }
            ResponseEvent::FunctionCallArgumentsDone { .. } => {
                "response.function_call_arguments.done"
            }
            ResponseEvent::OutputItemDone { .. } => "response.output_item.done",
            ResponseEvent::Completed { .. } => "response.completed",
            ResponseEvent::Incomplete { .. } => "response.incomplete",
        }
    }
}
