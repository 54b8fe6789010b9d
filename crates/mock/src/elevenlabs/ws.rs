//! The `stream-input` WebSocket: `GET /v1/text-to-speech/{voice_id}/stream-input`.
//!
//! The handshake is an ordinary request behind the shared middleware (faults, stats,
//! request id). It checks the query (`model_id`, `output_format`,
//! `inactivity_timeout` 1–180 s, default 20), the voice and model, a key sent as a
//! header, and takes a concurrency slot (counted against the header's key, or
//! `anonymous`) and the model's capacity slot for the life of the socket; refusals
//! are ordinary HTTP errors before the upgrade. Characters are counted against the
//! per-minute limit of the key in use (header or first message) as they are spoken.
//!
//! Then the protocol: the first message initialises (`voice_settings`,
//! `generation_config.chunk_length_schedule`, and `xi_api_key` or `authorization` if
//! no key came as a header); its text is only buffered if it is not blank. Each later
//! message's text is appended to a buffer, and a generation starts
//! - when the buffer reaches the next entry of the schedule (default
//!   `[120, 160, 250, 290]` characters; the last entry repeats): the buffer up to its
//!   last whitespace is spoken, the rest waits;
//! - on `try_trigger_generation` with at least 50 characters buffered (same cut);
//! - on `flush: true`, or on `{"text": ""}`, which also ends the input: everything
//!   buffered is spoken.
//!
//! Each generation waits the model's first-byte delay plus its per-character time,
//! then sends one message with its audio, `alignment` and `normalizedAlignment`
//! (milliseconds from the start of that message's audio) and `isFinal: null`. After
//! the end of input the server sends `isFinal: true` and closes with 1000. Errors
//! (bad JSON, binary frames, a missing key, bad settings, the per-minute character
//! limit, `inactivity_timeout` seconds without a message) send
//! `{"message", "error", "code"}` and close with that code. A stream-cut fault drops
//! the connection, with no close frame, right after the first audio message.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatebench_wire::elevenlabs::{
    OutputFormat, StreamInputError, StreamInputMessage, StreamOutputMessage, character_cost,
};
use http::StatusCode;

use super::admission::{self, Admission, Pace, rate_limit_message};
use super::alignment::to_ws;
use super::models::{self, DEFAULT_MODEL, ModelInfo};
use super::request::{check_voice_settings, model_not_found, speech_timeline};
use super::voices::{self, VoiceEntry};
use super::{AppState, ModelLatency, query};
use crate::core::RequestCtx;
use crate::error::{ApiError, Outcome};
use crate::rng::MockRng;

/// ElevenLabs' default generation schedule.
pub const DEFAULT_SCHEDULE: [u32; 4] = [120, 160, 250, 290];
/// Buffered characters `try_trigger_generation` needs.
pub const TRY_TRIGGER_MIN: usize = 50;
const POLICY: u16 = 1008;
const UNSUPPORTED_DATA: u16 = 1003;

/// `GET /v1/text-to-speech/{voice_id}/stream-input`.
pub async fn stream_input(
    State(state): State<AppState>,
    Path(voice_id): Path<String>,
    ctx: RequestCtx,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let session = match Session::open(&state, &voice_id, &ctx, raw.as_deref()) {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return ApiError::status(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "This endpoint speaks WebSocket: connect with an Upgrade: websocket handshake.",
        )
        .into_response();
    };
    let limit = state.core.settings.body_limit;
    let mut response = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| session.run(socket));
    // A 101 is neither a success nor an error to the stats' status classes.
    response.extensions_mut().insert(Outcome("ok"));
    response
}

/// Why a session stops early.
struct Stop;

struct Session {
    state: AppState,
    ctx: RequestCtx,
    voice: &'static VoiceEntry,
    model: &'static ModelInfo,
    format: OutputFormat,
    latency: ModelLatency,
    inactivity: Duration,
    admission: Admission,
    cut: bool,
    key: Option<String>,
    speed: f64,
    schedule: Vec<u32>,
    generations: usize,
}

impl Session {
    fn open(
        state: &AppState,
        voice_id: &str,
        ctx: &RequestCtx,
        raw: Option<&str>,
    ) -> Result<Session, ApiError> {
        let query = query::parse(raw);
        let format = query.output_format()?;
        let inactivity = query.integer("inactivity_timeout", 1, 180)?.unwrap_or(20);
        for flag in [
            "enable_logging",
            "enable_ssml_parsing",
            "sync_alignment",
            "auto_mode",
        ] {
            query.boolean(flag)?;
        }
        let voice = voices::find(voice_id).ok_or_else(|| voices::not_found(voice_id))?;
        let model_id = query.get("model_id").filter(|m| !m.is_empty());
        let model_id = model_id.unwrap_or(DEFAULT_MODEL);
        let model = models::find(model_id).ok_or_else(|| model_not_found(model_id))?;
        let core = &state.core;
        if ctx.api_key().is_some() {
            state.auth.check(core.style, ctx.api_key())?;
        }
        let admission = admission::admit(core, ctx.limit_key(), model.id)?;
        Ok(Session {
            state: state.clone(),
            ctx: ctx.clone(),
            voice,
            model,
            format,
            latency: state.profile.latency(model.id),
            inactivity: Duration::from_secs(inactivity as u64),
            admission,
            cut: ctx.take_stream_cut().is_some(),
            key: ctx.api_key().map(str::to_owned),
            speed: 1.0,
            schedule: DEFAULT_SCHEDULE.to_vec(),
            generations: 0,
        })
    }

    async fn run(mut self, mut socket: WebSocket) {
        let mut rng = self.ctx.rng("ws-latency");
        if self.serve(&mut socket, &mut rng).await.is_ok() {
            let done = StreamOutputMessage {
                is_final: Some(true),
                ..Default::default()
            };
            if send_json(&mut socket, &done).await.is_ok() {
                close(&mut socket, 1000, "").await;
            }
        }
    }

    /// Serves messages until the end of input (`Ok`) or an error or cut (`Err`).
    async fn serve(&mut self, socket: &mut WebSocket, rng: &mut MockRng) -> Result<(), Stop> {
        let mut buffer = String::new();
        let mut initialised = false;
        loop {
            // The inactivity timeout is a protocol rule, kept in wall-clock time.
            let received = tokio::time::timeout(self.inactivity, socket.recv()).await;
            let message = match received {
                Err(_) => {
                    let message = format!(
                        "Have not received a new text input within the timeout of {} seconds.",
                        self.inactivity.as_secs()
                    );
                    return self
                        .fail(socket, "input_timeout_exceeded", message, POLICY)
                        .await;
                }
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Err(Stop),
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Binary(_) => {
                    let message = "Binary messages are not accepted: send JSON text messages.";
                    return self
                        .fail(
                            socket,
                            "invalid_message",
                            message.to_owned(),
                            UNSUPPORTED_DATA,
                        )
                        .await;
                }
                _ => continue,
            };
            let input: StreamInputMessage = match serde_json::from_str(text.as_str()) {
                Ok(input) => input,
                Err(error) => {
                    let message = format!("Invalid message: {error}");
                    return self.fail(socket, "invalid_message", message, POLICY).await;
                }
            };
            if !initialised {
                initialised = true;
                self.initialise(socket, &input).await?;
                if !input.text.trim().is_empty() {
                    buffer.push_str(&input.text);
                }
            } else if input.text.is_empty() {
                let rest = std::mem::take(&mut buffer);
                return self.generate(socket, &rest, rng).await;
            } else {
                buffer.push_str(&input.text);
            }
            if input.flush == Some(true) {
                let all = std::mem::take(&mut buffer);
                self.generate(socket, &all, rng).await?;
                continue;
            }
            loop {
                let threshold = self.schedule[self.generations.min(self.schedule.len() - 1)];
                let buffered = buffer.chars().count();
                let triggered =
                    input.try_trigger_generation == Some(true) && buffered >= TRY_TRIGGER_MIN;
                if buffered == 0 || (buffered < threshold as usize && !triggered) {
                    break;
                }
                let head = take_head(&mut buffer);
                self.generate(socket, &head, rng).await?;
                if triggered {
                    break;
                }
            }
        }
    }

    async fn initialise(
        &mut self,
        socket: &mut WebSocket,
        init: &StreamInputMessage,
    ) -> Result<(), Stop> {
        if self.key.is_none() {
            let bearer = init
                .authorization
                .as_deref()
                .map(|a| a.strip_prefix("Bearer ").unwrap_or(a).trim().to_owned());
            self.key = init.xi_api_key.clone().or(bearer).filter(|k| !k.is_empty());
        }
        if !self.state.auth.accepts(self.key.as_deref()) {
            let (error, message) = match self.key {
                Some(_) => ("invalid_api_key", "Invalid API key"),
                None => (
                    "needs_authorization",
                    "Neither an xi-api-key header nor an xi_api_key field in the first message was received.",
                ),
            };
            return self.fail(socket, error, message.to_owned(), POLICY).await;
        }
        if let Some(settings) = &init.voice_settings {
            if let Some(problem) = check_voice_settings(settings) {
                let message = format!("voice_settings.{}: {}", problem.field, problem.msg);
                return self
                    .fail(socket, "invalid_voice_settings", message, POLICY)
                    .await;
            }
            self.speed = settings.speed.unwrap_or(1.0);
        }
        if let Some(schedule) = init
            .generation_config
            .as_ref()
            .and_then(|g| g.chunk_length_schedule.clone())
        {
            if schedule.is_empty() || schedule.iter().any(|n| !(50..=500).contains(n)) {
                let message = "chunk_length_schedule needs one or more values between 50 and 500.";
                return self
                    .fail(
                        socket,
                        "invalid_generation_config",
                        message.to_owned(),
                        POLICY,
                    )
                    .await;
            }
            self.schedule = schedule;
        }
        Ok(())
    }

    async fn generate(
        &mut self,
        socket: &mut WebSocket,
        text: &str,
        rng: &mut MockRng,
    ) -> Result<(), Stop> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.generations += 1;
        let core = &self.state.core;
        let key = self.key.as_deref().unwrap_or("anonymous");
        let characters = text.chars().count() as u64;
        if let Err(refused) = admission::charge(core, key, self.model.id, characters) {
            let message = rate_limit_message(&refused);
            return self
                .fail(socket, "rate_limit_exceeded", message, POLICY)
                .await;
        }
        let pace = Pace::draw(&self.latency, rng, self.admission.factor());
        let timeline = Arc::new(speech_timeline(
            core,
            self.voice,
            self.model.id,
            text,
            self.speed,
            None,
        ));
        self.ctx.sleep(pace.whole(timeline.normalized.len())).await;
        let rendered = self
            .state
            .audio
            .render(self.format, Arc::clone(&timeline), self.voice.pitch_hz)
            .await;
        let Ok(audio) = rendered else {
            let message = format!("output format {} cannot be rendered", self.format);
            return self
                .fail(socket, "invalid_output_format", message, POLICY)
                .await;
        };
        let (model, voice) = (self.model.id, self.voice.voice_id.as_str());
        self.ctx.serve(|served| {
            served.model.get_or_insert_with(|| model.into());
            served.voice.get_or_insert_with(|| voice.to_owned());
            served.stream = true;
            served.usage.characters += character_cost(model, text);
            served.usage.audio_ms += timeline.duration_ms;
        });
        let message = StreamOutputMessage {
            audio: Some(STANDARD.encode(&audio.bytes)),
            is_final: None,
            normalized_alignment: Some(to_ws(&timeline.normalized, 0)),
            alignment: Some(to_ws(&timeline.original, 0)),
        };
        send_json(socket, &message).await?;
        if self.cut {
            tracing::debug!("stream-input cut after its first audio message");
            return Err(Stop);
        }
        Ok(())
    }

    async fn fail(
        &self,
        socket: &mut WebSocket,
        error: &str,
        message: String,
        code: u16,
    ) -> Result<(), Stop> {
        tracing::debug!(error, code, "stream-input closed on error");
        let body = StreamInputError {
            message,
            error: error.to_owned(),
            code,
        };
        if send_json(socket, &body).await.is_ok() {
            close(socket, code, error).await;
        }
        Err(Stop)
    }
}

/// Takes the buffer up to and including its last whitespace, or all of it if it has
/// none, leaving the rest buffered.
fn take_head(buffer: &mut String) -> String {
    match buffer.rfind(char::is_whitespace) {
        Some(at) if buffer[..at].chars().any(|c| !c.is_whitespace()) => {
            let cut = at + buffer[at..].chars().next().map_or(1, char::len_utf8);
            let rest = buffer.split_off(cut);
            std::mem::replace(buffer, rest)
        }
        _ => std::mem::take(buffer),
    }
}

async fn send_json<T: serde::Serialize>(socket: &mut WebSocket, value: &T) -> Result<(), Stop> {
    let text = serde_json::to_string(value).map_err(|_| Stop)?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| Stop)
}

/// Sends a close frame and waits briefly for the client's, so the close handshake
/// completes instead of the connection just dropping.
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.chars().take(100).collect::<String>().into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let drain = async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_last_whitespace() {
        let mut buffer = "Hello there general".to_owned();
        assert_eq!(take_head(&mut buffer), "Hello there ");
        assert_eq!(buffer, "general");
        let mut buffer = "nospace".to_owned();
        assert_eq!(take_head(&mut buffer), "nospace");
        assert_eq!(buffer, "");
        let mut buffer = "  lead".to_owned();
        assert_eq!(take_head(&mut buffer), "  lead");
        let mut buffer = "héllo wörld\u{3000}ünd".to_owned();
        assert_eq!(take_head(&mut buffer), "héllo wörld\u{3000}");
        assert_eq!(buffer, "ünd");
    }
}
