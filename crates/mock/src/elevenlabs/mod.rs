//! The ElevenLabs-compatible text-to-speech mock (base URL `http://HOST:PORT`, the
//! official `elevenlabs` SDKs work with only the base URL changed).
//!
//! | route                                                  | answer                                   |
//! |--------------------------------------------------------|------------------------------------------|
//! | `POST /v1/text-to-speech/{voice_id}`                   | audio bytes ([`tts`])                    |
//! | `POST /v1/text-to-speech/{voice_id}/stream`            | the same audio, chunked and paced ([`stream`]) |
//! | `POST /v1/text-to-speech/{voice_id}/with-timestamps`   | `{audio_base64, alignment, normalized_alignment}` |
//! | `POST /v1/text-to-speech/{voice_id}/stream/with-timestamps` | newline-delimited JSON chunks of that shape |
//! | `GET /v1/text-to-speech/{voice_id}/stream-input`       | WebSocket ([`ws`])                       |
//! | `GET /v1/voices`, `GET /v1/voices/{voice_id}`, `GET /v2/voices` | voices ([`voices`])             |
//! | `GET /v1/voices/{voice_id}/settings`, `GET /v1/voices/settings/default` | voice settings          |
//! | `GET /v1/models`                                       | models ([`models`])                      |
//!
//! Text-to-speech bodies are [`gatebench_wire::elevenlabs::TextToSpeechRequest`];
//! `output_format` is a query parameter (default `mp3_44100_128`). Audio is real:
//! MP3 frames a decoder accepts, 16-bit PCM, or G.711 (see [`audio`]); its length
//! follows the text, the voice's speaking rate and `voice_settings.speed`, and
//! matches the alignment's last end time (see [`alignment`]). The same request gets
//! the same audio on every route and run.
//!
//! Every answer carries `request-id`, `history-item-id` and `character-cost`:
//! characters billed, one per character of `text`, half (rounded up) for Flash and
//! Turbo models ([`gatebench_wire::elevenlabs::character_cost`]). API keys are
//! checked by this module (see [`auth`]), concurrency, capacity and per-minute
//! characters by [`admission`].

mod account;
pub mod admission;
pub mod alignment;
pub mod audio;
pub mod auth;
pub mod models;
pub mod query;
pub mod request;
pub mod stream;
pub mod tts;
pub mod voices;
pub mod ws;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use gatebench_distr::Delay;
use serde::{Deserialize, Serialize};

use crate::capacity::CapacityConfig;
use crate::control::{Control, MockApp, assemble};
use crate::core::{KeyHeader, MockCore, ServiceSettings};
use crate::error::ErrorStyle;
use crate::faults::FaultSpec;
use crate::ratelimit::RateLimitConfig;

pub use models::{DEFAULT_MODEL, MODELS, ModelInfo};
pub use voices::{VoiceEntry, builtin_voices};

/// Latency of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelLatency {
    /// Time before the first audio byte (drawn once per request or generation).
    pub first_byte: Delay,
    /// Generation time per character of normalised text (drawn once per request).
    pub per_character: Delay,
}

impl Default for ModelLatency {
    fn default() -> Self {
        models::default_latency(DEFAULT_MODEL)
    }
}

/// Profile of the ElevenLabs mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElevenLabsProfile {
    /// See [`ServiceSettings::require_key`].
    pub require_key: bool,
    /// See [`ServiceSettings::api_keys`].
    pub api_keys: Vec<String>,
    /// See [`ServiceSettings::body_limit`]; also the largest WebSocket message.
    pub body_limit: usize,
    /// See [`ServiceSettings::capacity`] (per model).
    pub capacity: CapacityConfig,
    /// See [`ServiceSettings::rate_limits`]; `tokens_per_minute` counts characters.
    pub rate_limits: RateLimitConfig,
    /// See [`ServiceSettings::faults`].
    pub faults: FaultSpec,
    /// See [`ServiceSettings::call_log_capacity`].
    pub call_log_capacity: usize,
    /// Latency by model id; a model left out keeps its built-in latency.
    pub models: BTreeMap<String, ModelLatency>,
}

impl Default for ElevenLabsProfile {
    fn default() -> Self {
        let s = ServiceSettings::default();
        ElevenLabsProfile {
            require_key: s.require_key,
            api_keys: s.api_keys,
            body_limit: s.body_limit,
            // ElevenLabs queues past a plan's concurrency; the mock slows down past
            // 32 requests in flight per model and refuses past 256.
            capacity: CapacityConfig {
                soft_limit: 32,
                hard_limit: 256,
                slope: 1.0,
            },
            // ElevenLabs limits concurrency per plan (15 on Scale and Business for
            // Multilingual v2), not requests or characters per minute.
            rate_limits: RateLimitConfig {
                requests_per_minute: 0,
                tokens_per_minute: 0,
                concurrent_requests: 15,
            },
            faults: s.faults,
            call_log_capacity: s.call_log_capacity,
            models: MODELS
                .iter()
                .map(|m| (m.id.to_owned(), models::default_latency(m.id)))
                .collect(),
        }
    }
}

impl ElevenLabsProfile {
    /// The settings every mock shares.
    pub fn settings(&self) -> ServiceSettings {
        ServiceSettings {
            require_key: self.require_key,
            api_keys: self.api_keys.clone(),
            body_limit: self.body_limit,
            capacity: self.capacity.clone(),
            rate_limits: self.rate_limits.clone(),
            faults: self.faults.clone(),
            call_log_capacity: self.call_log_capacity,
        }
    }

    /// The latency of `model_id`: from the profile, else built in.
    pub fn latency(&self, model_id: &str) -> ModelLatency {
        self.models
            .get(model_id)
            .cloned()
            .unwrap_or_else(|| models::default_latency(model_id))
    }
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// The shared state behind [`AppState`].
#[derive(Debug)]
pub struct Shared {
    /// The mock core (its auth settings are off: see [`auth`]).
    pub core: Arc<MockCore>,
    /// The profile it started with.
    pub profile: ElevenLabsProfile,
    /// Which keys are accepted.
    pub auth: auth::Auth,
    /// Audio rendered for earlier requests.
    pub audio: audio::cache::AudioCache,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The ElevenLabs mock's router.
pub fn router(
    profile: &ElevenLabsProfile,
    seed: u64,
    time_scale: f64,
    control: &Control,
) -> MockApp {
    let mut settings = profile.settings();
    // Keys are checked here, not by the middleware: see `auth`.
    settings.require_key = false;
    settings.api_keys = Vec::new();
    let core = MockCore::new(
        "elevenlabs",
        ErrorStyle::Detail,
        KeyHeader::XiApiKey,
        settings,
        seed,
        time_scale,
    );
    let state = AppState(Arc::new(Shared {
        core: Arc::clone(&core),
        profile: profile.clone(),
        auth: auth::Auth::new(profile.require_key, profile.api_keys.clone()),
        audio: audio::cache::AudioCache::default(),
    }));
    let tts = "/v1/text-to-speech/{voice_id}";
    let http = Router::new()
        .route(tts, post(tts::convert))
        .route(&format!("{tts}/stream"), post(stream::stream))
        .route(
            &format!("{tts}/with-timestamps"),
            post(tts::with_timestamps),
        )
        .route(
            &format!("{tts}/stream/with-timestamps"),
            post(stream::stream_with_timestamps),
        )
        .route("/v1/voices", get(voices::list))
        .route(
            "/v1/voices/settings/default",
            get(voices::default_settings_route),
        )
        .route("/v1/voices/{voice_id}", get(voices::get))
        .route("/v1/voices/{voice_id}/settings", get(voices::settings))
        .route("/v2/voices", get(voices::search))
        .route("/v1/models", get(models::list))
        .route_layer(from_fn_with_state(state.clone(), auth::layer));
    let socket = Router::new().route(&format!("{tts}/stream-input"), get(ws::stream_input));
    let account = Router::new()
        .route("/v1/user/subscription", get(account::subscription))
        .route("/v1/usage/character-stats", get(account::character_stats))
        .route_layer(from_fn_with_state(state.clone(), auth::layer))
        .with_state(state.clone());
    assemble(
        core,
        control,
        None,
        http.merge(socket).with_state(state),
        account,
        Router::new(),
    )
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    /// A capacity slope too steep for a `Duration` stretches every wait to the
    /// longest delay: a request past the soft limit is answered, streamed or whole,
    /// not dropped by a panicking handler.
    #[tokio::test]
    async fn a_steep_capacity_slope_slows_requests_without_panicking_them() {
        let profile = ElevenLabsProfile {
            capacity: crate::capacity::STEEP,
            ..ElevenLabsProfile::default()
        };
        let app = router(
            &profile,
            1,
            crate::capacity::STEEP_TIME_SCALE,
            &Control::default(),
        );
        let post = |path: &str| {
            let request =
                http::Request::post(format!("/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM{path}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        r#"{"text": "Hello there, how are you?"}"#,
                    ))
                    .unwrap();
            app.clone().oneshot(request)
        };
        // a stream holds its capacity slot until its body is read
        let held = post("/stream").await.unwrap();
        assert_eq!(held.status(), 200);
        for path in ["", "/with-timestamps", "/stream", "/stream/with-timestamps"] {
            let response = post(path).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let body = response.into_body().collect().await;
            assert!(body.is_ok_and(|b| !b.to_bytes().is_empty()), "{path}");
        }
        drop(held);
    }

    #[test]
    fn every_model_has_a_latency_and_a_missing_one_falls_back() {
        let profile = ElevenLabsProfile::default();
        assert_eq!(profile.models.len(), MODELS.len());
        let mut partial = profile.clone();
        partial.models.clear();
        assert_eq!(
            partial.latency("eleven_flash_v2_5"),
            profile.latency("eleven_flash_v2_5")
        );
        assert!(
            profile.latency("eleven_flash_v2_5").first_byte.mean()
                < profile.latency("eleven_multilingual_v2").first_byte.mean()
        );
    }
}
