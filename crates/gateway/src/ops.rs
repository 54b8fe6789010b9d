//! Operational endpoints: `/healthz` (the process is up), `/readyz` (every
//! provider's circuit is closed), `/metrics` (Prometheus), and
//! `/v1/models` and `/v1/models/{model}` (what clients may ask for).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use crate::error::GatewayError;
use crate::health::CircuitState;
use crate::state::Gateway;

/// `GET /healthz`.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 503 while a provider's circuit is open or half-open (recovering:
/// not yet proven by a trial).
pub async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    let providers: Vec<_> = gateway
        .upstreams
        .providers()
        .iter()
        .map(|p| (p.name().to_owned(), p.circuit.state(), p.queue.snapshot()))
        .collect();
    let ready = providers
        .iter()
        .all(|(_, state, _)| *state == CircuitState::Closed);
    let body = json!({
        "status": if ready { "ready" } else { "degraded" },
        "providers": providers.iter().map(|(name, state, queue)| json!({
            "name": name,
            "circuit": state,
            "in_flight": queue.in_flight,
            "waiting": queue.waiting.total(),
        })).collect::<Vec<_>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    let mut response = gateway.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// `GET /v1/models`: routed models and every priced chat or embedding model (a key
/// is needed, as with OpenAI).
pub async fn models(State(gateway): State<Arc<Gateway>>, headers: http::HeaderMap) -> Response {
    if let Err(error) = gateway.auth.authenticate(&headers, false) {
        return GatewayError::from(error).into_response();
    }
    let data: Vec<_> = listed(&gateway)
        .into_iter()
        .map(|(id, owner)| model_object(&id, &owner))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

/// `GET /v1/models/{model}`: one model of the list, or OpenAI's 404
/// `model_not_found`.
pub async fn model(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    if let Err(error) = gateway.auth.authenticate(&headers, false) {
        return GatewayError::from(error).into_response();
    }
    match listed(&gateway).into_iter().find(|(model, _)| *model == id) {
        Some((id, owner)) => Json(model_object(&id, &owner)).into_response(),
        None => GatewayError::Refused {
            status: StatusCode::NOT_FOUND,
            code: "model_not_found",
            message: format!("The model `{id}` does not exist or you do not have access to it."),
        }
        .into_response(),
    }
}

fn model_object(id: &str, owner: &str) -> serde_json::Value {
    json!({ "id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": owner })
}

/// The models clients may ask for, with their owners, sorted: every priced chat
/// or embedding model, and every routed one.
fn listed(gateway: &Gateway) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = gateway
        .prices
        .prices()
        .iter()
        .filter(|p| {
            matches!(
                p.kind,
                gatebench_cost::Kind::Chat | gatebench_cost::Kind::Embeddings
            )
        })
        .map(|p| (p.model.clone(), p.provider.clone()))
        .collect();
    for model in gateway.upstreams.routed_models() {
        if !ids.iter().any(|(id, _)| id == model) {
            let owner = gateway
                .upstreams
                .plan(crate::config::ProviderKind::Openai, Some(model))
                .first()
                .map_or_else(|| "gatebench".to_owned(), |t| t.provider.name().to_owned());
            ids.push((model.to_owned(), owner));
        }
    }
    ids.sort();
    ids
}
