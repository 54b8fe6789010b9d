//! `POST /v1/text-to-speech/{voice_id}` (audio bytes) and `.../with-timestamps`
//! (JSON with base64 audio and alignment), and what every text-to-speech route
//! shares: validation, admission, timing, rendering and headers.
//!
//! A non-streamed answer waits the whole generation (first byte, then the
//! per-character time of every normalised character) and then sends everything.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_wire::books::hash;
use gatebench_wire::elevenlabs::{
    AudioWithTimestamps, CHARACTER_COST_HEADER, HISTORY_ITEM_ID_HEADER,
};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use rand::RngExt as _;

use super::AppState;
use super::admission::{self, Admission, Pace};
use super::alignment::{Timeline, to_seconds};
use super::audio::{Audio, RenderError};
use super::request::Job;
use crate::core::{Buffered, RequestCtx};
use crate::error::ApiError;
use crate::json::Json;

/// A request ready to be answered.
pub struct Prepared {
    /// What was asked.
    pub job: Job,
    /// Slots held until the answer is sent.
    pub admission: Admission,
    /// Its delays.
    pub pace: Pace,
    /// Its timing.
    pub timeline: Arc<Timeline>,
    /// Its audio.
    pub audio: Audio,
}

/// Validates, admits, times and renders a request.
pub async fn prepare(
    state: &AppState,
    voice_id: &str,
    ctx: &RequestCtx,
    raw_query: Option<&str>,
    body: &[u8],
) -> Result<Prepared, ApiError> {
    let core = &state.core;
    let job = Job::parse(core.style, voice_id, raw_query, body)?;
    let key = ctx.limit_key();
    let admission = admission::admit(core, key, job.model.id)?;
    admission::charge(core, key, job.model.id, job.characters())
        .map_err(|refused| admission::rate_limited(core, &refused))?;
    let latency = state.profile.latency(job.model.id);
    let pace = Pace::for_request(&latency, ctx, admission.factor());
    let timeline = Arc::new(job.timeline(core));
    let audio = state
        .audio
        .render(job.format, Arc::clone(&timeline), job.voice.pitch_hz)
        .await
        .map_err(|error| match error {
            RenderError::Unsupported(e) => {
                ApiError::validation(&["query", "output_format"], e.to_string(), "enum")
            }
            RenderError::Interrupted => core.style.server_fault(StatusCode::INTERNAL_SERVER_ERROR),
            RenderError::Encode(e) => {
                tracing::error!(error = %e, format = %job.format, "speech could not be encoded");
                core.style.server_fault(StatusCode::INTERNAL_SERVER_ERROR)
            }
        })?;
    let history_item = history_item_id(ctx);
    ctx.serve(|served| {
        served.model = Some(job.model.id.into());
        served.voice = Some(job.voice.voice_id.clone());
        served.usage.characters = job.cost();
        served.usage.audio_ms = timeline.duration_ms;
        served.content_digest = Some(hash(&audio.bytes));
        served.prompt_digest = Some(hash(job.text.as_bytes()));
        served.response_id = Some(history_item);
    });
    tracing::debug!(
        voice = job.voice.voice_id,
        model = job.model.id,
        format = %job.format,
        characters = job.characters(),
        duration_ms = timeline.duration_ms,
        "speech rendered"
    );
    Ok(Prepared {
        job,
        admission,
        pace,
        timeline,
        audio,
    })
}

/// A 20-character id, like ElevenLabs' history item ids.
fn history_item_id(ctx: &RequestCtx) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = ctx.rng("history-item");
    (0..20)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// `content-type`, `character-cost` and `history-item-id` (the middleware adds
/// `request-id`).
pub fn headers(job: &Job, ctx: &RequestCtx, content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        HeaderName::from_static(CHARACTER_COST_HEADER),
        HeaderValue::from(job.cost()),
    );
    if let Ok(id) = HeaderValue::from_str(&history_item_id(ctx)) {
        headers.insert(HeaderName::from_static(HISTORY_ITEM_ID_HEADER), id);
    }
    headers
}

/// `POST /v1/text-to-speech/{voice_id}`.
pub async fn convert(
    State(state): State<AppState>,
    Path(voice_id): Path<String>,
    ctx: RequestCtx,
    RawQuery(query): RawQuery,
    Buffered(body): Buffered,
) -> Response {
    let prepared = match prepare(&state, &voice_id, &ctx, query.as_deref(), &body).await {
        Ok(p) => p,
        Err(error) => return error.into_response(),
    };
    wait_whole_generation(&prepared, &ctx).await;
    let headers = headers(&prepared.job, &ctx, prepared.job.format.content_type());
    (StatusCode::OK, headers, prepared.audio.bytes).into_response()
}

/// `POST /v1/text-to-speech/{voice_id}/with-timestamps`.
pub async fn with_timestamps(
    State(state): State<AppState>,
    Path(voice_id): Path<String>,
    ctx: RequestCtx,
    RawQuery(query): RawQuery,
    Buffered(body): Buffered,
) -> Response {
    let prepared = match prepare(&state, &voice_id, &ctx, query.as_deref(), &body).await {
        Ok(p) => p,
        Err(error) => return error.into_response(),
    };
    wait_whole_generation(&prepared, &ctx).await;
    let answer = AudioWithTimestamps {
        audio_base64: STANDARD.encode(&prepared.audio.bytes),
        alignment: Some(to_seconds(&prepared.timeline.original)),
        normalized_alignment: Some(to_seconds(&prepared.timeline.normalized)),
    };
    let headers = headers(&prepared.job, &ctx, "application/json");
    (StatusCode::OK, headers, Json(answer)).into_response()
}

/// Waits until the whole answer is due, counted from the request's arrival: the
/// time spent rendering the audio is part of the delay, not added to it.
async fn wait_whole_generation(prepared: &Prepared, ctx: &RequestCtx) {
    let pace = prepared.pace;
    let characters = prepared.timeline.normalized.len();
    ctx.sleep_from_received(pace.whole(characters)).await;
}
