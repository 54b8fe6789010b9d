//! The WebVTT service: text plus timing in, subtitles out.
//!
//! # `POST /v1/webvtt`
//!
//! Body ([`gatebench_wire::webvtt::WebVttRequest`]), with exactly one of `alignment`
//! and `duration_seconds`:
//!
//! ```json
//! {"text": "Hello there. How are you?",
//!  "alignment": {"characters": ["H", "e", ...],
//!                "character_start_times_seconds": [0.0, 0.07, ...],
//!                "character_end_times_seconds": [0.07, 0.12, ...]},
//!  "max_chars_per_cue": 42, "max_cue_seconds": 7}
//! {"text": "Hello there. How are you?", "duration_seconds": 2.5}
//! ```
//!
//! The words of `text` (runs of characters between whitespace and control characters)
//! are timed, then grouped into cues, each word in exactly one cue, in order:
//!
//! - with `alignment` (ElevenLabs' with-timestamps shape), a word starts when its first
//!   character starts and ends when its last character ends. The alignment must spell
//!   the same words as the text; whitespace may differ.
//! - with `duration_seconds`, the duration is shared out over the words in proportion
//!   to their character counts, without gaps.
//!
//! A cue ends after a sentence (`.`, `!`, `?`, `…`; not after titles such as `Dr.`),
//! before it would pass `max_chars_per_cue` characters (default 42, at least 10) or
//! `max_cue_seconds` (default 7), and at a clause break (`,`, `;`, `:`, dash) once it
//! is two thirds full. A word that alone passes a limit gets a cue of its own. Times
//! are whole milliseconds; a cue whose words take no time lasts 1 ms.
//!
//! The answer is `text/vtt; charset=utf-8`, following the W3C WebVTT syntax:
//!
//! ```text
//! WEBVTT
//!
//! 00:00.000 --> 00:01.020
//! Hello there.
//!
//! 00:01.020 --> 00:02.500
//! How are you?
//! ```
//!
//! Timestamps are `mm:ss.ttt`, or `hh:mm:ss.ttt` from one hour on; every cue ends
//! after it starts and starts are in order. Payload lines hold at most 42 characters
//! (longer cues wrap), are never blank, and write `&`, `<`, `>` as `&amp;`, `&lt;`,
//! `&gt;`, so no payload holds `-->`, a tag or a blank line.
//!
//! With `Accept: application/json` (preferred over `text/vtt`), the same cues come as
//! [`gatebench_wire::webvtt::WebVttResponse`]:
//! `{"cues": [{"start": 0.0, "end": 1.02, "text": "Hello there."}], "duration_seconds": 2.5}`
//! (`text` unescaped and unwrapped; `duration_seconds` is the timeline's length: the
//! duration given, or the alignment's last end time, or the last cue's end if later).
//!
//! # Errors
//!
//! FastAPI's shapes. 422 `{"detail": [{"loc", "msg", "type"}]}` lists every problem
//! found: malformed JSON or invalid UTF-8 (`json_invalid`), a missing or mistyped
//! field, an unknown field, no word in `text`, neither or both timings, a duration or
//! `max_cue_seconds` not in (0, 360000], `max_chars_per_cue` below 10, alignment arrays
//! of different lengths, a time that is negative, decreases or ends before its start
//! (the first such time), characters that do not spell the text's words. Then 401
//! without an accepted key, 413 over the body limit, 429 past the per-key limits
//! (`tokens_per_minute` counts the text's characters) or the hard capacity limit, and
//! whatever faults are injected (see [`crate::control`]).
//!
//! # Latency
//!
//! The answer is sent whole after `first_byte` plus `per_item` per cue (the
//! `[webvtt]` profile section), times the load factor past the soft capacity limit.
//! Output depends only on the request: the same request always gets the same cues.

mod cues;
mod render;
mod timing;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatebench_distr::Delay;
use gatebench_wire::webvtt::{WebVttRequest, WebVttResponse};
use http::{HeaderMap, HeaderValue, header};

use crate::config::ServiceProfile;
use crate::control::{Control, MockApp, assemble};
use crate::core::{Buffered, KeyHeader, MockCore, RequestCtx};
use crate::delay;
use crate::error::{ApiError, ErrorStyle};
use crate::json::Json;
use crate::ratelimit::ConcurrencyPermit;

pub use cues::CueWords;
pub use render::{LINE_CHARS, escape, timestamp};
pub use timing::words;
pub use validate::WebVttError;

const ROUTE: &str = "/v1/webvtt";
/// Capacity is counted under this name, and rate limits per key and this name.
const CAPACITY_KEY: &str = "webvtt";
/// `text/vtt` with its charset, as served.
pub const CONTENT_TYPE: &str = "text/vtt; charset=utf-8";

struct AppState {
    core: Arc<MockCore>,
    first_byte: Delay,
    per_item: Delay,
}

/// The WebVTT mock's router.
pub fn router(profile: &ServiceProfile, seed: u64, time_scale: f64, control: &Control) -> MockApp {
    let core = MockCore::new(
        "webvtt",
        ErrorStyle::Detail,
        KeyHeader::Bearer,
        profile.settings(),
        seed,
        time_scale,
    );
    app(core, profile, control)
}

/// The routes of the mock whose state is `core` (tests hold its capacity slots).
fn app(core: Arc<MockCore>, profile: &ServiceProfile, control: &Control) -> MockApp {
    let state = Arc::new(AppState {
        core: Arc::clone(&core),
        first_byte: profile.first_byte,
        per_item: profile.per_item,
    });
    // `/health` goes through the provider middleware, so an outage window covers it:
    // a gateway's health probe sees the service as its callers would.
    let routes = Router::new()
        .route(ROUTE, post(create))
        .route("/health", get(|| async { http::StatusCode::OK }))
        .with_state(state);
    assemble(core, control, None, routes, Router::new(), Router::new())
}

/// Subtitles for a request: the cues, and the timeline's length in milliseconds.
pub fn subtitles(request: &WebVttRequest) -> Result<(Vec<CueWords<'_>>, u64), Vec<WebVttError>> {
    let plan = validate::plan(request)?;
    let cues = cues::group(&plan.words, plan.limits);
    let last_end = cues.last().map_or(0, |c| c.end_ms);
    Ok((cues, plan.duration_ms.max(last_end)))
}

/// The `text/vtt` document for `cues`.
pub fn document(cues: &[CueWords<'_>]) -> String {
    render::document(cues)
}

/// The JSON answer for `cues`.
pub fn json(cues: &[CueWords<'_>], duration_ms: u64) -> WebVttResponse {
    render::json(cues, duration_ms)
}

async fn create(
    State(state): State<Arc<AppState>>,
    ctx: RequestCtx,
    headers: HeaderMap,
    Buffered(body): Buffered,
) -> Result<Response, ApiError> {
    let core = &state.core;
    let request: WebVttRequest = core.style.parse_json(&body)?;
    let (cues, duration_ms) = subtitles(&request).map_err(|errors| {
        ApiError::validation_issues(errors.iter().map(WebVttError::issue).collect())
    })?;
    let characters = request.text.chars().count() as u64;
    let (limit_headers, _concurrency) = admit(core, &ctx, characters)?;
    let permit = core.enter(CAPACITY_KEY)?;

    ctx.serve(|served| {
        served.model = Some(CAPACITY_KEY.into());
        served.usage.requests = 1;
    });
    let mut rng = ctx.rng("latency");
    let mut wait = state.first_byte.sample(&mut rng);
    for _ in 0..cues.len() {
        wait = wait.saturating_add(state.per_item.sample(&mut rng));
    }
    ctx.sleep_from_received(delay::scale(wait, permit.factor()))
        .await;

    tracing::debug!(cues = cues.len(), duration_ms, "webvtt served");
    let mut response = if wants_json(&headers) {
        Json(json(&cues, duration_ms)).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            document(&cues),
        )
            .into_response()
    };
    response.headers_mut().extend(limit_headers);
    Ok(response)
}

/// Counts the request against the caller's rate limits and concurrency limit.
fn admit(
    core: &MockCore,
    ctx: &RequestCtx,
    tokens: u64,
) -> Result<(HeaderMap, ConcurrencyPermit), ApiError> {
    let key = format!("{}:{CAPACITY_KEY}", ctx.limit_key());
    let refused = |r: crate::ratelimit::Refused| {
        let message = format!(
            "Rate limit reached for {} per minute: limit {}, used {}, requested {}.",
            r.which, r.limit, r.used, r.requested
        );
        core.style
            .rate_limited(r.retry_after, &message, r.report.openai_headers())
    };
    let report = core.limits.check(&key, tokens).map_err(refused)?;
    let concurrency = core.limits.acquire(&key).map_err(|r| {
        core.style.rate_limited(
            r.retry_after,
            &format!(
                "Too many concurrent requests: the limit is {} per key.",
                r.limit
            ),
            HeaderMap::new(),
        )
    })?;
    Ok((report.openai_headers(), concurrency))
}

/// Whether the `Accept` header prefers JSON to WebVTT. Without a preference (no
/// header, `*/*`, equal weights for both) the answer is WebVTT; a type named outright
/// beats a wildcard of the same weight (`application/json, */*` is JSON).
pub fn wants_json(headers: &HeaderMap) -> bool {
    let mut json = 0.0_f64;
    let mut vtt: Option<f64> = None;
    let mut any = 0.0_f64;
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok());
    for range in accept.flat_map(|v| v.split(',')) {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/json" => json = json.max(q),
            "text/vtt" => vtt = Some(vtt.unwrap_or(0.0).max(q)),
            "*/*" | "text/*" => any = any.max(q),
            _ => {}
        }
    }
    match vtt {
        Some(vtt) => json > 0.0 && json > vtt,
        None => json > 0.0 && json >= any,
    }
}
