//! ElevenLabs API shapes: text-to-speech requests and answers (audio, character
//! alignment, streamed chunks), output formats, voices, models, the `stream-input`
//! WebSocket messages, and errors.
//!
//! ElevenLabs answers in FastAPI's shapes: validation errors as a list of
//! `{"loc", "msg", "type"}` under `detail`, other errors as `{"detail": {"status",
//! "message"}}`. gatebench's own services (personality, WebVTT) use the same shapes.
//!
//! Requests are lenient like the real API: unknown fields are ignored, optional
//! fields may be absent or `null`.

mod formats;
mod models;
mod stream_input;
mod tts;
mod voices;

pub use formats::{Codec, OutputFormat};
pub use models::{Model, ModelLanguage, ModelRates, character_cost, is_half_price_model};
pub use stream_input::{
    GenerationConfig, StreamInputError, StreamInputMessage, StreamOutputMessage, WsAlignment,
};
pub use tts::{
    AudioWithTimestamps, CharacterAlignment, PronunciationDictionaryLocator, TextToSpeechRequest,
    VoiceSettings,
};
pub use voices::{GetVoicesResponse, SearchVoicesResponse, VerifiedLanguage, Voice};

use serde::{Deserialize, Serialize};

/// Response header: characters billed for the request (see [`character_cost`]).
pub const CHARACTER_COST_HEADER: &str = "character-cost";
/// Response header: the request's id.
pub const REQUEST_ID_HEADER: &str = "request-id";
/// Response header: id of the history item the generation was saved as.
pub const HISTORY_ITEM_ID_HEADER: &str = "history-item-id";
/// Request header carrying the API key.
pub const API_KEY_HEADER: &str = "xi-api-key";

/// `422` body: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationErrorBody {
    /// One entry per problem found.
    pub detail: Vec<ValidationIssue>,
}

/// One validation problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationIssue {
    /// Where the problem is, e.g. `["body", "text"]` or `["query", "output_format"]`.
    pub loc: Vec<serde_json::Value>,
    /// What is wrong.
    pub msg: String,
    /// Machine-readable kind, e.g. `missing`, `value_error`, `json_invalid`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Non-validation error body: `{"detail": {"status": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusErrorBody {
    /// The error itself.
    pub detail: StatusDetail,
}

/// `status` is a machine-readable code such as `invalid_api_key`,
/// `too_many_concurrent_requests` or `voice_not_found`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusDetail {
    /// Machine-readable code.
    pub status: String,
    /// Human-readable message.
    pub message: String,
}

impl StatusErrorBody {
    /// Builds a status error body.
    pub fn new(status: impl Into<String>, message: impl Into<String>) -> Self {
        StatusErrorBody {
            detail: StatusDetail {
                status: status.into(),
                message: message.into(),
            },
        }
    }
}

impl ValidationErrorBody {
    /// A body with a single problem at `loc`.
    pub fn single(loc: &[&str], msg: impl Into<String>, kind: impl Into<String>) -> Self {
        ValidationErrorBody {
            detail: vec![ValidationIssue {
                loc: loc.iter().map(|s| serde_json::Value::from(*s)).collect(),
                msg: msg.into(),
                kind: kind.into(),
            }],
        }
    }
}
