//! The text-to-speech models the mock knows, their limits and default latencies, and
//! `GET /v1/models`.
//!
//! Character limits follow ElevenLabs' models page: Multilingual v2 and the v1 models
//! take 10,000 characters per request, Flash and Turbo v2.5 40,000, Flash and Turbo
//! v2 30,000, Eleven v3 5,000.

use std::time::Duration;

use gatebench_distr::Delay;
use gatebench_wire::elevenlabs::{Model, ModelLanguage, ModelRates, is_half_price_model};

use super::ModelLatency;
use crate::json::Json;

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";

/// What the mock knows about one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelInfo {
    /// `model_id`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Longest `text` accepted, in characters.
    pub max_characters: u32,
    /// ISO 639-1 codes of the languages it speaks.
    pub languages: &'static [&'static str],
}

impl ModelInfo {
    /// Flash and Turbo: half price, and ElevenLabs' larger concurrency pool.
    pub fn low_latency(&self) -> bool {
        is_half_price_model(self.id)
    }
}

const V2: &[&str] = &[
    "en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl",
    "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru",
];
const V2_5: &[&str] = &[
    "en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil", "pl",
    "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta", "uk", "ru", "hu", "no",
    "vi",
];
const ENGLISH: &[&str] = &["en"];
const V1_MULTI: &[&str] = &["en", "fr", "de", "hi", "it", "pl", "pt", "es"];

/// Every model, the default first.
pub const MODELS: [ModelInfo; 8] = [
    ModelInfo {
        id: "eleven_multilingual_v2",
        name: "Eleven Multilingual v2",
        description: "Most lifelike model with rich emotional expression.",
        max_characters: 10_000,
        languages: V2,
    },
    ModelInfo {
        id: "eleven_flash_v2_5",
        name: "Eleven Flash v2.5",
        description: "Ultra-fast model optimised for real-time use.",
        max_characters: 40_000,
        languages: V2_5,
    },
    ModelInfo {
        id: "eleven_turbo_v2_5",
        name: "Eleven Turbo v2.5",
        description: "High quality, low-latency model balancing quality and speed.",
        max_characters: 40_000,
        languages: V2_5,
    },
    ModelInfo {
        id: "eleven_flash_v2",
        name: "Eleven Flash v2",
        description: "Ultra-fast English model optimised for real-time use.",
        max_characters: 30_000,
        languages: ENGLISH,
    },
    ModelInfo {
        id: "eleven_turbo_v2",
        name: "Eleven Turbo v2",
        description: "Low-latency English model.",
        max_characters: 30_000,
        languages: ENGLISH,
    },
    ModelInfo {
        id: "eleven_v3",
        name: "Eleven v3",
        description: "Most expressive model, for dramatic delivery; not meant for real time.",
        max_characters: 5_000,
        languages: V2_5,
    },
    ModelInfo {
        id: "eleven_monolingual_v1",
        name: "Eleven English v1",
        description: "First generation English model, kept for backward compatibility.",
        max_characters: 10_000,
        languages: ENGLISH,
    },
    ModelInfo {
        id: "eleven_multilingual_v1",
        name: "Eleven Multilingual v1",
        description: "First multilingual model, kept for backward compatibility.",
        max_characters: 10_000,
        languages: V1_MULTI,
    },
];

/// The model with this id.
pub fn find(id: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().find(|m| m.id == id)
}

fn lognormal(median_us: u64, p99_us: u64) -> Delay {
    Delay::LogNormal {
        median: Duration::from_micros(median_us),
        p99: Duration::from_micros(p99_us),
    }
}

/// Built-in latency of a model (the shipped profile repeats these with their sources).
pub fn default_latency(id: &str) -> ModelLatency {
    let (first_byte, per_character) = match id {
        "eleven_flash_v2_5" | "eleven_flash_v2" => {
            (lognormal(75_000, 250_000), lognormal(1_500, 3_000))
        }
        "eleven_turbo_v2_5" | "eleven_turbo_v2" => {
            (lognormal(275_000, 700_000), lognormal(2_500, 5_000))
        }
        "eleven_v3" => (lognormal(1_200_000, 3_500_000), lognormal(10_000, 20_000)),
        "eleven_monolingual_v1" | "eleven_multilingual_v1" => {
            (lognormal(400_000, 1_200_000), lognormal(4_000, 8_000))
        }
        _ => (lognormal(500_000, 1_500_000), lognormal(5_000, 10_000)),
    };
    ModelLatency {
        first_byte,
        per_character,
    }
}

fn language_name(code: &str) -> &'static str {
    match code {
        "en" => "English",
        "ja" => "Japanese",
        "zh" => "Chinese",
        "de" => "German",
        "hi" => "Hindi",
        "fr" => "French",
        "ko" => "Korean",
        "pt" => "Portuguese",
        "it" => "Italian",
        "es" => "Spanish",
        "id" => "Indonesian",
        "nl" => "Dutch",
        "tr" => "Turkish",
        "fil" => "Filipino",
        "pl" => "Polish",
        "sv" => "Swedish",
        "bg" => "Bulgarian",
        "ro" => "Romanian",
        "ar" => "Arabic",
        "cs" => "Czech",
        "el" => "Greek",
        "fi" => "Finnish",
        "hr" => "Croatian",
        "ms" => "Malay",
        "sk" => "Slovak",
        "da" => "Danish",
        "ta" => "Tamil",
        "uk" => "Ukrainian",
        "ru" => "Russian",
        "hu" => "Hungarian",
        "no" => "Norwegian",
        "vi" => "Vietnamese",
        _ => "Unknown",
    }
}

/// The wire shape of a model.
pub fn to_wire(model: &ModelInfo) -> Model {
    let multiplier = if model.low_latency() { 0.5 } else { 1.0 };
    Model {
        model_id: model.id.to_owned(),
        name: model.name.to_owned(),
        can_be_finetuned: true,
        can_do_text_to_speech: true,
        can_do_voice_conversion: false,
        can_use_style: !model.low_latency(),
        can_use_speaker_boost: true,
        serves_pro_voices: !model.low_latency(),
        token_cost_factor: multiplier,
        description: model.description.to_owned(),
        requires_alpha_access: false,
        max_characters_request_free_user: model.max_characters.min(2_500),
        max_characters_request_subscribed_user: model.max_characters,
        maximum_text_length_per_request: model.max_characters,
        languages: model
            .languages
            .iter()
            .map(|code| ModelLanguage {
                language_id: (*code).to_owned(),
                name: language_name(code).to_owned(),
            })
            .collect(),
        model_rates: ModelRates {
            character_cost_multiplier: multiplier,
        },
        concurrency_group: if model.low_latency() {
            "turbo"
        } else {
            "standard"
        }
        .to_owned(),
    }
}

/// `GET /v1/models`: a bare JSON array, as ElevenLabs answers.
pub async fn list() -> Json<Vec<Model>> {
    Json(MODELS.iter().map(to_wire).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_is_known_and_first() {
        assert_eq!(MODELS[0].id, DEFAULT_MODEL);
        assert!(find("eleven_flash_v2_5").is_some_and(ModelInfo::low_latency));
        assert!(!find("eleven_v3").unwrap().low_latency());
        assert!(find("eleven_nonexistent").is_none());
        for model in &MODELS {
            assert!(
                model
                    .languages
                    .iter()
                    .all(|code| language_name(code) != "Unknown")
            );
        }
    }
}
