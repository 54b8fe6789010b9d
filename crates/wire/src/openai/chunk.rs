//! `chat.completion.chunk`: one server-sent event of a streamed chat completion.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{FinishReason, Role, Usage};

/// One streamed chunk (`data: {...}`; the stream ends with `data: [DONE]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Same for every chunk of a completion.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Same for every chunk of a completion.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Tier that serves the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Deltas; empty in the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Absent unless `stream_options.include_usage` was set; then `null` on every
    /// chunk but the last, which carries the usage of the whole request.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "present_or_null",
        deserialize_with = "present"
    )]
    pub usage: Option<Option<Usage>>,
}

impl ChatCompletionChunk {
    /// The `object` value of a chunk.
    pub const OBJECT: &'static str = "chat.completion.chunk";

    /// The usage this chunk carries, if it is the usage chunk.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()?.as_ref()
    }
}

/// One choice's delta in a chunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Which choice.
    pub index: u32,
    /// What is new.
    pub delta: Delta,
    /// Log probabilities (`null` unless asked for).
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Set on the choice's last chunk, `null` before.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// What a chunk adds to a choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Sent once, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// More text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// More refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A fragment of a streamed tool call: the first carries the call's `id`, `type`
/// and function `name` (with empty `arguments`), later ones only `arguments`
/// fragments; `index` says which call of the choice they belong to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call of the choice.
    pub index: u32,
    /// The call's id (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function` (first fragment only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function's name and an arguments fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// The function part of a tool call fragment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// The function's name (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More of the JSON arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

// `usage` has three states on the wire (absent, `null`, an object); the outer
// `Option` says whether the field is present at all.
fn present_or_null<S: Serializer>(value: &Option<Option<Usage>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(inner) => inner.serialize(s),
        None => s.serialize_none(),
    }
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Usage>>, D::Error> {
    Option::<Usage>::deserialize(d).map(Some)
}
