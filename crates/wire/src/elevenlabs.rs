//! ElevenLabs API shapes: errors (text-to-speech and voices come with the mock).
//!
//! ElevenLabs answers in FastAPI's shapes: validation errors as a list of
//! `{"loc", "msg", "type"}` under `detail`, other errors as `{"detail": {"status",
//! "message"}}`. gatebench's own services (personality, WebVTT) use the same shapes.

use serde::{Deserialize, Serialize};

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
