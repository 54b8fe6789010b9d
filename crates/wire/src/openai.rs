//! OpenAI API shapes: errors, chat completions (request, response, stream chunks),
//! legacy text completions, the Responses API, usage, embeddings and models.
//!
//! Requests are lenient, as the real API is about what it ignores: unknown fields
//! are skipped, so a request from any SDK version parses. Fields the API documents
//! as optional are `Option` and left out when `None`; response fields the official
//! SDKs expect to see as `null` (`logprobs`, `refusal`, `finish_reason` on stream
//! chunks) are always written.

mod chat;
mod chunk;
mod completions;
mod conversation;
mod embeddings;
mod models;
mod response;
mod responses;
mod strings;
mod usage;

pub use chat::{
    ChatCompletionRequest, ChatMessage, ContentPart, FunctionCall, FunctionDefinition, ImageUrl,
    JsonSchemaFormat, MessageContent, ResponseFormat, Stop, StreamOptions, Tool, ToolCall,
};
pub use chunk::{ChatCompletionChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
pub use completions::{CompletionPrompt, CompletionRequest, TextChoice, TextCompletion};
pub use conversation::{InputError, check_function_name};
pub use embeddings::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, EncodingFormat,
};
pub use models::{ModelList, ModelObject};
pub use response::{AssistantMessage, ChatChoice, ChatCompletion};
pub use responses::{
    InputContent, InputItem, InputPart, InputTokensDetails, OutputItem, OutputText,
    OutputTokensDetails, ResponseEvent, ResponseInput, ResponseObject, ResponseRequest,
    ResponseUsage,
};
pub use strings::{FinishReason, Role};
pub use usage::{CompletionTokensDetails, PromptTokensDetails, Usage};

use serde::{Deserialize, Serialize};

/// The body of every OpenAI error response: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorObject,
}

/// `{"message", "type", "param", "code"}`; `param` and `code` are always present,
/// `null` when they do not apply, as the official SDKs expect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Human-readable message.
    pub message: String,
    /// Error type, e.g. `invalid_request_error`, `server_error`, `requests`, `tokens`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// Machine-readable code, e.g. `model_not_found`, `rate_limit_exceeded`.
    pub code: Option<String>,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorObject {
                message: message.into(),
                kind: kind.into(),
                param: None,
                code: None,
            },
        }
    }

    /// Sets the parameter at fault.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.error.param = Some(param.into());
        self
    }

    /// Sets the machine-readable code.
    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.error.code = Some(code.into());
        self
    }
}

#[cfg(test)]
mod tests;
