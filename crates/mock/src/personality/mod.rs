//! The personality service: age-appropriate personality traits for a child profile,
//! for whoever writes the child a story.
//!
//! # `POST /v1/personality`
//!
//! Body ([`gatebench_wire::personality::PersonalityRequest`]):
//!
//! ```json
//! {"age": 7, "interests": ["dinosaurs", "space"], "name": "Mia", "story_theme": "a lost star"}
//! ```
//!
//! `age` (whole years, 3 to 12) and `interests` (at most 10 strings of 1 to 50
//! characters; may be empty) are required; `name` (1 to 50 characters) and
//! `story_theme` (1 to 200) are optional. Strings are trimmed; interests are compared
//! without case, order or duplicates.
//!
//! Answer ([`gatebench_wire::personality::PersonalityResponse`]):
//!
//! ```json
//! {"age_band": "6-8",
//!  "traits": [{"name": "inquisitive", "score": 0.81,
//!              "description": "Asks lots of questions and wants to know how things work."}, ...],
//!  "tone": "upbeat and adventurous, with a sense of discovery",
//!  "reading_level": {"grade": "Grade 2", "lexile": "420L-650L", "words_per_sentence": 10,
//!                    "description": "Early reader: ..."},
//!  "guidelines": ["Keep sentences to about 8 to 12 words, mostly simple and compound.", ...]}
//! ```
//!
//! - `age_band` is `3-5` (read-aloud picture books), `6-8` (early readers) or `9-12`
//!   (middle grade). Each band has its own words for the same trait: a 4-year-old is
//!   "curious", a 7-year-old "inquisitive", an 11-year-old "investigative".
//! - `traits`: the five strongest of ten facets (curiosity, adventure, creativity,
//!   kindness, energy, persistence, logic, humor, calm, teamwork), highest first, each
//!   scored in [0.05, 0.98] with two decimals. Interests raise the facets they point
//!   to (dinosaurs and space: curiosity and adventure; Lego and robots: logic,
//!   creativity, persistence); an interest no keyword knows feeds a facet drawn for it.
//! - `tone` follows the band and the strongest trait.
//! - `reading_level`: US grade for the age, the typical Lexile text measure range of
//!   that grade (2012 Common Core bands; `BR`, beginning reader, for read-aloud ages)
//!   and words per sentence to aim for.
//! - `guidelines`: the band's writing rules (sentence length, vocabulary, conflict,
//!   length, endings), then ones for the child's traits, interests, name and theme.
//!
//! The same request (up to case, order and duplicates of interests and surrounding
//! whitespace) always gets the same answer for the same seed.
//!
//! # Errors
//!
//! FastAPI's shapes. 422 `{"detail": [{"loc", "msg", "type"}]}` lists every problem:
//! malformed JSON or invalid UTF-8 (`json_invalid`), a missing field (`missing`), a
//! wrong type or unknown field, an age out of range (`["body","age"]`), too many
//! interests, an empty or too long string (`["body","interests",2]`). Then 401 without
//! an accepted key, 413 over the body limit, 429 past the per-key limits
//! (`tokens_per_minute` counts one per interest, at least one per request) or the hard
//! capacity limit, and whatever faults are injected (see [`crate::control`]).
//!
//! # Latency
//!
//! The answer is sent whole after `first_byte` plus `per_item` per interest (the
//! `[personality]` profile section), times the load factor past the soft capacity
//! limit.

mod bands;
mod derive;
mod facets;
mod validate;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatebench_distr::Delay;
use gatebench_wire::personality::{PersonalityRequest, PersonalityResponse};
use http::HeaderMap;

use crate::config::ServiceProfile;
use crate::control::{Control, MockApp, assemble};
use crate::core::{Buffered, KeyHeader, MockCore, RequestCtx};
use crate::delay;
use crate::error::{ApiError, ErrorStyle};
use crate::json::Json;
use crate::ratelimit::{ConcurrencyPermit, Refused};

pub use derive::TRAITS_SHOWN;
pub use validate::{Child, PersonalityError};

const ROUTE: &str = "/v1/personality";
/// Capacity is counted under this name, and rate limits per key and this name.
const CAPACITY_KEY: &str = "personality";

struct AppState {
    core: Arc<MockCore>,
    first_byte: Delay,
    per_item: Delay,
}

/// The personality mock's router.
pub fn router(profile: &ServiceProfile, seed: u64, time_scale: f64, control: &Control) -> MockApp {
    let core = MockCore::new(
        "personality",
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

/// The answer to `request`, drawing from the core's content generator seeded by the
/// request's canonical form.
pub fn personality(
    core: &MockCore,
    request: &PersonalityRequest,
) -> Result<PersonalityResponse, Vec<PersonalityError>> {
    let child = validate::check(request)?;
    let mut rng = core.content_rng(&[b"personality", child.canonical().as_bytes()]);
    Ok(derive::derive(&child, &mut rng))
}

async fn create(
    State(state): State<Arc<AppState>>,
    ctx: RequestCtx,
    Buffered(body): Buffered,
) -> Result<Response, ApiError> {
    let core = &state.core;
    let request: PersonalityRequest = core.style.parse_json(&body)?;
    let answer = personality(core, &request).map_err(|errors| {
        ApiError::validation_issues(errors.iter().map(PersonalityError::issue).collect())
    })?;
    let items = request.interests.len() as u64;
    let (limit_headers, _concurrency) = admit(core, &ctx, items.max(1))?;
    let permit = core.enter(CAPACITY_KEY)?;

    ctx.serve(|served| {
        served.model = Some(CAPACITY_KEY.into());
        served.usage.requests = 1;
    });
    let mut rng = ctx.rng("latency");
    let mut wait = state.first_byte.sample(&mut rng);
    for _ in 0..items {
        wait = wait.saturating_add(state.per_item.sample(&mut rng));
    }
    ctx.sleep_from_received(delay::scale(wait, permit.factor()))
        .await;

    tracing::debug!(age_band = %answer.age_band, interests = items, "personality served");
    let mut response = Json(answer).into_response();
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
    let report = core.limits.check(&key, tokens).map_err(|r: Refused| {
        let message = format!(
            "Rate limit reached for {} per minute: limit {}, used {}, requested {}.",
            r.which, r.limit, r.used, r.requested
        );
        core.style
            .rate_limited(r.retry_after, &message, r.report.openai_headers())
    })?;
    let concurrency = core.limits.acquire(&key).map_err(|r| {
        let message = format!(
            "Too many concurrent requests: the limit is {} per key.",
            r.limit
        );
        core.style
            .rate_limited(r.retry_after, &message, HeaderMap::new())
    })?;
    Ok((report.openai_headers(), concurrency))
}
