//! `POST /v1/chat/completions` response body (non-streamed).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FinishReason, Role, ToolCall, Usage};

/// A chat completion (`object: "chat.completion"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-...`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix time in seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// One per `n`.
    pub choices: Vec<ChatChoice>,
    /// Token counts of the request.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Tier that served the request (`default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Backend configuration fingerprint (`fp_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

impl ChatCompletion {
    /// The `object` value of a chat completion.
    pub const OBJECT: &'static str = "chat.completion";

    /// The first choice's text, if any.
    pub fn text(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }
}

/// One generated answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Position in `choices`.
    pub index: u32,
    /// The answer.
    pub message: AssistantMessage,
    /// Log probabilities (`null` unless asked for).
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Why generation stopped.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// The assistant message of a choice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: Role,
    /// The text (`null` when the model only called tools).
    #[serde(default)]
    pub content: Option<String>,
    /// A refusal instead of an answer (`null` otherwise).
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls the model made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// URL citations and the like (`[]` when there are none).
    #[serde(default)]
    pub annotations: Vec<Value>,
}

impl AssistantMessage {
    /// An assistant message with text content.
    pub fn text(content: impl Into<String>) -> Self {
        AssistantMessage {
            role: Role::Assistant,
            content: Some(content.into()),
            refusal: None,
            tool_calls: None,
            annotations: Vec::new(),
        }
    }
}
