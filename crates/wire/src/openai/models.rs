//! `GET /v1/models` and `GET /v1/models/{id}`.

use serde::{Deserialize, Serialize};

/// One model (`object: "model"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelObject {
    /// Model id.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// Unix time the model was published.
    pub created: u64,
    /// `openai`, `system`, `deepseek`, an organisation id...
    pub owned_by: String,
}

impl ModelObject {
    /// A model entry.
    pub fn new(id: impl Into<String>, created: u64, owned_by: impl Into<String>) -> Self {
        ModelObject {
            id: id.into(),
            object: "model".to_owned(),
            created,
            owned_by: owned_by.into(),
        }
    }
}

/// The model list (`object: "list"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The models.
    pub data: Vec<ModelObject>,
}

impl ModelList {
    /// A list of these models.
    pub fn new(data: Vec<ModelObject>) -> Self {
        ModelList {
            object: "list".to_owned(),
            data,
        }
    }
}
