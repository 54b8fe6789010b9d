//! A text-to-speech request, validated: what to say, in which voice, model and
//! format. Validation runs in FastAPI's order: query and body first (422), then the
//! voice (404), the model (400 `model_not_found`) and the text length for that model
//! (422).

use gatebench_wire::elevenlabs::{
    OutputFormat, TextToSpeechRequest, VoiceSettings, character_cost,
};
use http::StatusCode;

use super::alignment::Timeline;
use super::models::{self, DEFAULT_MODEL, ModelInfo};
use super::query;
use super::voices::{self, VoiceEntry};
use crate::core::MockCore;
use crate::error::{ApiError, ErrorStyle};

/// A validated request.
#[derive(Clone, Debug)]
pub struct Job {
    /// The voice.
    pub voice: &'static VoiceEntry,
    /// The model.
    pub model: &'static ModelInfo,
    /// The audio format.
    pub format: OutputFormat,
    /// What to say.
    pub text: String,
    /// `voice_settings.speed` (1 when absent).
    pub speed: f64,
    /// `seed`, if any.
    pub seed: Option<u32>,
}

/// A value out of range: which field, what is wrong, FastAPI's error type.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Field name inside `voice_settings`.
    pub field: &'static str,
    /// Message.
    pub msg: String,
    /// Error type.
    pub kind: &'static str,
}

/// Checks the ranges ElevenLabs enforces: stability, similarity and style in
/// `[0, 1]`, speed in `[0.7, 1.2]`.
pub fn check_voice_settings(settings: &VoiceSettings) -> Option<Problem> {
    let fields = [
        ("stability", settings.stability, 0.0, 1.0),
        ("similarity_boost", settings.similarity_boost, 0.0, 1.0),
        ("style", settings.style, 0.0, 1.0),
        ("speed", settings.speed, 0.7, 1.2),
    ];
    fields.into_iter().find_map(|(field, value, min, max)| {
        let value = value?;
        if value < min {
            Some(Problem {
                field,
                msg: format!("Input should be greater than or equal to {min}"),
                kind: "greater_than_equal",
            })
        } else if value > max {
            Some(Problem {
                field,
                msg: format!("Input should be less than or equal to {max}"),
                kind: "less_than_equal",
            })
        } else {
            None
        }
    })
}

fn body_error(field: &str, msg: impl Into<String>, kind: &str) -> ApiError {
    ApiError::validation(&["body", field], msg, kind)
}

fn check_body(body: &TextToSpeechRequest) -> Result<(), ApiError> {
    if body.text.trim().is_empty() {
        return Err(body_error(
            "text",
            "Text must contain at least one character that is not whitespace",
            "string_too_short",
        ));
    }
    if let Some(problem) = body.voice_settings.as_ref().and_then(check_voice_settings) {
        return Err(ApiError::validation(
            &["body", "voice_settings", problem.field],
            problem.msg,
            problem.kind,
        ));
    }
    let lists = [
        (
            "previous_request_ids",
            body.previous_request_ids.as_ref().map(Vec::len),
        ),
        (
            "next_request_ids",
            body.next_request_ids.as_ref().map(Vec::len),
        ),
        (
            "pronunciation_dictionary_locators",
            body.pronunciation_dictionary_locators
                .as_ref()
                .map(Vec::len),
        ),
    ];
    for (field, len) in lists {
        if let Some(len) = len.filter(|&n| n > 3) {
            return Err(body_error(
                field,
                format!("List should have at most 3 items after validation, not {len}"),
                "too_long",
            ));
        }
    }
    if let Some(mode) = &body.apply_text_normalization
        && !matches!(mode.as_str(), "auto" | "on" | "off")
    {
        return Err(body_error(
            "apply_text_normalization",
            "Input should be 'auto', 'on' or 'off'",
            "enum",
        ));
    }
    Ok(())
}

/// ElevenLabs' answer for an unknown model.
pub fn model_not_found(model_id: &str) -> ApiError {
    ApiError::status(
        StatusCode::BAD_REQUEST,
        "model_not_found",
        format!("A model with model ID {model_id} does not exist."),
    )
}

/// The text is longer than the model takes.
pub fn text_too_long(model: &ModelInfo, characters: u64) -> ApiError {
    body_error(
        "text",
        format!(
            "String should have at most {} characters for model {}, got {characters}",
            model.max_characters, model.id
        ),
        "string_too_long",
    )
}

impl Job {
    /// Validates a request to `/v1/text-to-speech/{voice_id}[...]`.
    pub fn parse(
        style: ErrorStyle,
        voice_id: &str,
        raw_query: Option<&str>,
        body: &[u8],
    ) -> Result<Job, ApiError> {
        let query = query::parse(raw_query);
        let format = query.output_format()?;
        query.boolean("enable_logging")?;
        query.integer("optimize_streaming_latency", 0, 4)?;
        let body: TextToSpeechRequest = style.parse_json(body)?;
        check_body(&body)?;
        let voice = voices::find(voice_id).ok_or_else(|| voices::not_found(voice_id))?;
        let model_id = body.model_id.as_deref().unwrap_or(DEFAULT_MODEL);
        let model = models::find(model_id).ok_or_else(|| model_not_found(model_id))?;
        let job = Job {
            voice,
            model,
            format,
            speed: body
                .voice_settings
                .as_ref()
                .and_then(|s| s.speed)
                .unwrap_or(1.0),
            seed: body.seed,
            text: body.text,
        };
        if job.characters() > u64::from(model.max_characters) {
            return Err(text_too_long(model, job.characters()));
        }
        Ok(job)
    }

    /// Characters in the text (Unicode scalar values).
    pub fn characters(&self) -> u64 {
        self.text.chars().count() as u64
    }

    /// Characters billed (the `character-cost` header).
    pub fn cost(&self) -> u64 {
        character_cost(self.model.id, &self.text)
    }

    /// The timing of the speech (see [`speech_timeline`]).
    pub fn timeline(&self, core: &MockCore) -> Timeline {
        speech_timeline(
            core,
            self.voice,
            self.model.id,
            &self.text,
            self.speed,
            self.seed,
        )
    }
}

/// The timing of `text` spoken by `voice`. It depends only on what was asked (voice,
/// model, text, speed, seed), not on the output format or the route, so every format
/// and route of the same request gets the same timeline.
pub fn speech_timeline(
    core: &MockCore,
    voice: &VoiceEntry,
    model_id: &str,
    text: &str,
    speed: f64,
    seed: Option<u32>,
) -> Timeline {
    let mut rng = core.content_rng(&[
        voice.voice_id.as_bytes(),
        model_id.as_bytes(),
        text.as_bytes(),
        &speed.to_bits().to_le_bytes(),
        &seed.map_or(u64::MAX, u64::from).to_le_bytes(),
    ]);
    Timeline::build(text, voice.speaking_rate * speed, &mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RACHEL: &str = "21m00Tcm4TlvDq8ikWAM";

    fn parse(query: Option<&str>, body: &str) -> Result<Job, ApiError> {
        Job::parse(ErrorStyle::Detail, RACHEL, query, body.as_bytes())
    }

    #[test]
    fn defaults_apply() {
        let job = parse(None, r#"{"text":"Hello"}"#).unwrap();
        assert_eq!(job.model.id, DEFAULT_MODEL);
        assert_eq!(job.format, OutputFormat::DEFAULT);
        assert_eq!((job.speed, job.cost()), (1.0, 5));
        let job = parse(
            Some("output_format=pcm_16000&enable_logging=false"),
            r#"{"text":"Hello","model_id":"eleven_flash_v2_5","voice_settings":{"speed":0.8}}"#,
        )
        .unwrap();
        assert_eq!(job.format.sample_rate, 16_000);
        assert_eq!((job.speed, job.cost()), (0.8, 3));
    }

    #[test]
    fn bad_requests_get_the_right_status() {
        let status = |q: Option<&str>, body: &str| parse(q, body).unwrap_err().status_code();
        assert_eq!(status(None, r#"{"text":""}"#), 422);
        assert_eq!(status(None, r#"{"text":"  \n "}"#), 422);
        assert_eq!(status(None, r#"{"model_id":"x"}"#), 422);
        assert_eq!(status(None, r#"{"text":5}"#), 422);
        assert_eq!(status(None, r#"{"text":"hi","seed":-1}"#), 422);
        assert_eq!(
            status(None, r#"{"text":"hi","voice_settings":{"speed":2}}"#),
            422
        );
        assert_eq!(
            status(None, r#"{"text":"hi","apply_text_normalization":"maybe"}"#),
            422
        );
        assert_eq!(
            status(
                None,
                r#"{"text":"hi","next_request_ids":["a","b","c","d"]}"#
            ),
            422
        );
        assert_eq!(status(Some("output_format=wav"), r#"{"text":"hi"}"#), 422);
        assert_eq!(
            status(Some("optimize_streaming_latency=9"), r#"{"text":"hi"}"#),
            422
        );
        assert_eq!(status(None, "{not json"), 422);
        assert_eq!(status(None, r#"{"text":"hi","model_id":"eleven_x"}"#), 400);
        let long = format!(
            r#"{{"text":"{}","model_id":"eleven_v3"}}"#,
            "a".repeat(5001)
        );
        assert_eq!(status(None, &long), 422);
        let unknown = Job::parse(ErrorStyle::Detail, "nope", None, br#"{"text":"hi"}"#);
        assert_eq!(unknown.unwrap_err().status_code(), 404);
    }
}
