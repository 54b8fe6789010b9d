//! `POST /v1/completions` (legacy text completions): request, response, and the
//! stream chunks, which have the response's shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EmbeddingInput, FinishReason, Stop, StreamOptions, Usage};

/// `prompt`: a string, a list of strings, a token array or a list of token arrays
/// (the four forms of an embeddings `input`).
pub type CompletionPrompt = EmbeddingInput;

/// A legacy completion request. Unknown fields are ignored; numbers are kept as
/// sent so that validation gives the API's own messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model id.
    pub model: String,
    /// What to complete; each prompt gets `n` choices.
    pub prompt: CompletionPrompt,
    /// Cap on generated tokens per choice (the API's default is 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Choices per prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<i64>,
    /// Stream `text_completion` chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options of a streamed answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Up to four sequences where generation stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Best-effort determinism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Token id → bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<Map<String, Value>>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// vLLM extension: generate the whole `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_eos: Option<bool>,
    /// vLLM extension: generate at least this many tokens per choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<i64>,
}

impl CompletionRequest {
    /// The `max_tokens` the API uses when none is given.
    pub const DEFAULT_MAX_TOKENS: i64 = 16;

    /// `stream: true`.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// `stream_options.include_usage: true`.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// A text completion (`object: "text_completion"`); each chunk of a stream has
/// this shape too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextCompletion {
    /// `cmpl-...`, the same on every chunk.
    pub id: String,
    /// Always `text_completion`.
    pub object: String,
    /// Unix time in seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// One per prompt and `n`; empty in a stream's usage chunk.
    pub choices: Vec<TextChoice>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Token counts (in a stream, only on the usage chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl TextCompletion {
    /// The `object` value of a text completion and of its chunks.
    pub const OBJECT: &'static str = "text_completion";
}

/// One choice of a text completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextChoice {
    /// The text (in a stream, what is new).
    pub text: String,
    /// Position: prompt index × `n` + choice.
    pub index: u32,
    /// Log probabilities (`null` unless asked for).
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Why generation stopped (`null` on a stream's chunks before the last).
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}
