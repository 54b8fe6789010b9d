//! `GET /v1/models` and `GET /v1/models/{id}`: the chat and embedding models of the
//! profile.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use gatebench_wire::openai::{ModelList, ModelObject};

use super::OpenAiMock;
use crate::json::Json;

/// `GET /v1/models`.
pub(super) async fn list(State(mock): State<Arc<OpenAiMock>>) -> Json<ModelList> {
    Json(ModelList::new(mock.models()))
}

/// `GET /v1/models/{id}`.
pub(super) async fn retrieve(
    State(mock): State<Arc<OpenAiMock>>,
    Path(id): Path<String>,
) -> Response {
    match mock.models().into_iter().find(|m| m.id == id) {
        Some(model) => Json(model).into_response(),
        None => mock.core.style.not_found("model", &id).into_response(),
    }
}

impl OpenAiMock {
    /// Every model served, chat models first, each group sorted by id.
    pub fn models(&self) -> Vec<ModelObject> {
        let chat = self
            .profile
            .chat_models
            .iter()
            .map(|(id, m)| ModelObject::new(id, m.created, &m.owned_by));
        let embedding = self
            .profile
            .embedding_models
            .iter()
            .map(|(id, m)| ModelObject::new(id, m.created, &m.owned_by));
        chat.chain(embedding).collect()
    }
}
