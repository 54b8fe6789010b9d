//! ElevenLabs' account routes, answered from the mock's books:
//! `GET /v1/user/subscription` (characters used this period and the plan's limit)
//! and `GET /v1/usage/character-stats` (characters over time, optionally broken
//! down by voice, model or API key).
//!
//! The mock's plan is a Business-like tier of [`CHARACTER_LIMIT`] characters; the
//! period starts when the mock starts (or is reset). `character-stats` takes
//! `start_unix` and `end_unix` in Unix milliseconds, `breakdown_type` (`none`,
//! `voice`, `model`, `api_keys`), `aggregation_interval` (`hour`, `day`, `week`,
//! `month` as 30 days, `cumulative`) or `aggregation_bucket_size` in seconds, and
//! `metric` (`character_count`, `credits`: the same figure here). The books keep
//! usage per minute, so a bucket holds the minutes that start inside it.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::query;
use crate::error::ApiError;
use crate::json::Json;

/// Characters the mock's plan allows per period.
pub const CHARACTER_LIMIT: u64 = 11_000_000;

/// `GET /v1/user/subscription`.
pub async fn subscription(State(state): State<AppState>) -> Json<Value> {
    let books = state.core.books.summary();
    let reset_unix = (books.since_ms / 1000) + 30 * 86_400;
    Json(json!({
        "tier": "business",
        "character_count": books.total.usage.characters,
        "character_limit": CHARACTER_LIMIT,
        "can_extend_character_limit": false,
        "allowed_to_extend_character_limit": false,
        "next_character_count_reset_unix": reset_unix,
        "voice_slots_used": 0,
        "professional_voice_slots_used": 0,
        "voice_limit": 660,
        "voice_add_edit_counter": 0,
        "professional_voice_limit": 0,
        "can_extend_voice_limit": false,
        "can_use_instant_voice_cloning": true,
        "can_use_professional_voice_cloning": false,
        "currency": "usd",
        "status": "active",
        "billing_period": "monthly_period",
        "character_refresh_period": "monthly_period",
    }))
}

/// `GET /v1/usage/character-stats`.
pub async fn character_stats(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    match stats(&state, raw.as_deref()) {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(&["query", param], message, "value_error")
}

fn stats(state: &AppState, raw: Option<&str>) -> Result<Value, ApiError> {
    let q = query::parse(raw);
    let start_ms = q.integer("start_unix", 0, i64::MAX)?.ok_or_else(|| {
        ApiError::validation(&["query", "start_unix"], "Field required", "missing")
    })? as u64;
    let end_ms = q
        .integer("end_unix", 0, i64::MAX)?
        .ok_or_else(|| ApiError::validation(&["query", "end_unix"], "Field required", "missing"))?
        as u64;
    if end_ms <= start_ms {
        return Err(invalid("end_unix", "end_unix must be after start_unix"));
    }
    let breakdown = q.get("breakdown_type").unwrap_or("none");
    if !["none", "voice", "model", "api_keys"].contains(&breakdown) {
        return Err(invalid(
            "breakdown_type",
            format!("Input should be 'none', 'voice', 'model' or 'api_keys'; got '{breakdown}'"),
        ));
    }
    let metric = q.get("metric").unwrap_or("character_count");
    if !["character_count", "credits"].contains(&metric) {
        return Err(invalid(
            "metric",
            format!("Input should be 'character_count' or 'credits'; got '{metric}'"),
        ));
    }
    let (start, end) = (start_ms / 1000, end_ms.div_ceil(1000));
    let width = match q.integer("aggregation_bucket_size", 60, i64::MAX)? {
        Some(seconds) => seconds as u64,
        None => match q.get("aggregation_interval").unwrap_or("day") {
            "hour" => 3600,
            "day" => 86_400,
            "week" => 7 * 86_400,
            "month" => 30 * 86_400,
            "cumulative" => end - start,
            other => {
                return Err(invalid(
                    "aggregation_interval",
                    format!(
                        "Input should be 'hour', 'day', 'week', 'month' or 'cumulative'; got '{other}'"
                    ),
                ));
            }
        },
    };
    let buckets = state.core.books.buckets(
        start,
        end,
        width,
        |_| true,
        |g| match breakdown {
            "voice" => g.voice.clone(),
            "model" => g.model.clone(),
            "api_keys" => g.key.clone(),
            _ => "All".to_owned(),
        },
    );
    let mut usage: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (i, (_, groups)) in buckets.iter().enumerate() {
        for (name, tally) in groups.iter().filter(|(_, t)| t.billed > 0) {
            let series = usage
                .entry(name.clone())
                .or_insert_with(|| vec![0; buckets.len()]);
            series[i] = tally.usage.characters;
        }
    }
    if breakdown == "none" {
        usage
            .entry("All".to_owned())
            .or_insert_with(|| vec![0; buckets.len()]);
    }
    let time: Vec<u64> = buckets.iter().map(|(t, _)| t * 1000).collect();
    Ok(json!({ "time": time, "usage": usage }))
}
