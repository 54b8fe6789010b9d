//! Models (`GET /v1/models`) and how a text-to-speech request is billed.

use serde::{Deserialize, Serialize};

/// One model, in the shape of ElevenLabs' model response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Id used as `model_id`.
    pub model_id: String,
    /// Display name.
    pub name: String,
    /// Whether it can be fine-tuned.
    pub can_be_finetuned: bool,
    /// Whether it does text-to-speech.
    pub can_do_text_to_speech: bool,
    /// Whether it does speech-to-speech.
    pub can_do_voice_conversion: bool,
    /// Whether it honours `voice_settings.style`.
    pub can_use_style: bool,
    /// Whether it honours `voice_settings.use_speaker_boost`.
    pub can_use_speaker_boost: bool,
    /// Whether it serves professional voice clones.
    pub serves_pro_voices: bool,
    /// Cost factor relative to the reference model.
    pub token_cost_factor: f64,
    /// Description.
    pub description: String,
    /// Whether it is in alpha.
    pub requires_alpha_access: bool,
    /// Longest `text` for free users.
    pub max_characters_request_free_user: u32,
    /// Longest `text` for subscribers.
    pub max_characters_request_subscribed_user: u32,
    /// Longest `text` accepted.
    pub maximum_text_length_per_request: u32,
    /// Languages spoken.
    pub languages: Vec<ModelLanguage>,
    /// Billing rates.
    pub model_rates: ModelRates,
    /// `standard` or `turbo` (Flash and Turbo models share the larger pool).
    pub concurrency_group: String,
}

/// A language a model speaks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelLanguage {
    /// ISO 639-1 code.
    pub language_id: String,
    /// English name.
    pub name: String,
}

/// Billing rates of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRates {
    /// Credits per character: 1, or 0.5 for Flash and Turbo.
    pub character_cost_multiplier: f64,
}

/// Flash and Turbo models bill half a credit per character.
pub fn is_half_price_model(model_id: &str) -> bool {
    model_id.starts_with("eleven_flash") || model_id.starts_with("eleven_turbo")
}

/// Characters billed for speaking `text` with `model_id`, as the `character-cost`
/// header reports it: one per Unicode scalar value of the text as sent (spaces and
/// punctuation included); half of that, rounded up, for Flash and Turbo models.
pub fn character_cost(model_id: &str, text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    if is_half_price_model(model_id) {
        chars.div_ceil(2)
    } else {
        chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_and_turbo_bill_half_rounded_up() {
        assert_eq!(character_cost("eleven_multilingual_v2", "Hello, world"), 12);
        assert_eq!(character_cost("eleven_v3", "héllo"), 5);
        assert_eq!(character_cost("eleven_flash_v2_5", "Hello, world"), 6);
        assert_eq!(character_cost("eleven_turbo_v2_5", "Hello"), 3);
        assert_eq!(character_cost("eleven_flash_v2", "a"), 1);
        assert_eq!(character_cost("eleven_turbo_v2", ""), 0);
        assert!(!is_half_price_model("eleven_monolingual_v1"));
    }
}
