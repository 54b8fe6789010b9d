//! A tenant's own money: `GET /v1/gatebench/usage` (totals) and
//! `GET /v1/gatebench/ledger?after=ID&limit=N` (entries, oldest first). A tenant
//! sees only its own. And `GET /v1/gatebench/config`: the settings a suite judges
//! the gateway by (cache threshold, fallback price), read-only.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use crate::error::GatewayError;
use crate::state::Gateway;

/// Largest page of ledger entries.
pub const MAX_PAGE: usize = 1000;

/// `GET /v1/gatebench/usage`.
pub async fn usage(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let tenant = match gateway.auth.authenticate(&headers, true) {
        Ok(t) => t,
        Err(error) => return GatewayError::from(error).into_response(),
    };
    let totals = gateway.ledger.totals(&tenant.id);
    let budget = gateway.budgets.state(&tenant.id);
    let mut body = serde_json::to_value(&totals).unwrap_or_default();
    if let Some(object) = body.as_object_mut() {
        object.insert(
            "budget".into(),
            json!({
                "limit_usd": budget.as_ref().and_then(|b| b.limit).map(|d| d.normalize().to_string()),
                "spent_usd": budget.as_ref().map(|b| b.spent.normalize().to_string()),
                "reserved_usd": budget.as_ref().map(|b| b.reserved.normalize().to_string()),
            }),
        );
    }
    Json(body).into_response()
}

/// Query of `GET /v1/gatebench/ledger`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Entries with an id above this one.
    #[serde(default)]
    after: u64,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/gatebench/ledger`.
pub async fn ledger(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let tenant = match gateway.auth.authenticate(&headers, true) {
        Ok(t) => t,
        Err(error) => return GatewayError::from(error).into_response(),
    };
    let Query(page) = match page {
        Ok(page) => page,
        Err(rejection) => {
            return GatewayError::bad_request(
                format!("invalid query: {}", rejection.body_text()),
                None,
            )
            .into_response();
        }
    };
    let limit = page.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return GatewayError::bad_request(
            format!("limit must be between 1 and {MAX_PAGE}, got {limit}"),
            Some("limit"),
        )
        .into_response();
    }
    let tenant_id = tenant.id.to_string();
    let gw = Arc::clone(&gateway);
    // Reading waits for pending writes: off the async workers.
    let read =
        tokio::task::spawn_blocking(move || gw.ledger.entries(&tenant_id, page.after, limit + 1))
            .await;
    let mut entries = match read {
        Ok(Ok(entries)) => entries,
        Ok(Err(error)) => {
            return GatewayError::Internal(format!("ledger read failed: {error}")).into_response();
        }
        Err(error) => {
            return GatewayError::Internal(format!("ledger read panicked: {error}"))
                .into_response();
        }
    };
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    let next_after = entries.last().map(|e| e.id);
    Json(json!({ "object": "list", "data": entries, "has_more": has_more, "next_after": next_after })).into_response()
}

/// `GET /v1/gatebench/config`: what a suite needs to judge this gateway, read-only
/// and free of secrets: the cache's settings and the fallback price of unknown
/// models. A tenant reads it with its own key.
pub async fn config(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(error) = gateway.auth.authenticate(&headers, true) {
        return GatewayError::from(error).into_response();
    }
    let cache = &gateway.config.cache;
    let fallback = gateway.prices.fallback();
    let price = |d: rust_decimal::Decimal| d.normalize().to_string();
    Json(json!({
        "cache": {
            "enabled": cache.enabled,
            // as written (0.67), not as the f32 widened to f64 (0.6700000166893005)
            "threshold": cache.threshold.to_string().parse::<f64>().ok(),
            "ttl_s": cache.ttl.as_secs_f64(),
            "embedding_model": cache.embedding_model,
            "dimensions": cache.dimensions,
        },
        "pricing": {
            "fallback": {
                "input_per_million": price(fallback.input_per_million),
                "cached_input_per_million": price(fallback.cached_input_per_million),
                "output_per_million": price(fallback.output_per_million),
                "per_thousand_characters": price(fallback.per_thousand_characters),
                "per_request": price(fallback.per_request),
            }
        }
    }))
    .into_response()
}
