//! Voices: `GET /v1/voices`, `GET /v1/voices/{voice_id}` and `GET /v2/voices`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::VoiceSettings;

/// One voice, in the shape of ElevenLabs' voice response model. Fields the real API
/// fills for cloned or shared voices only (samples, fine-tuning, sharing) are `null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    /// 20-character id used in text-to-speech paths.
    pub voice_id: String,
    /// Display name.
    pub name: String,
    /// Audio samples of a cloned voice.
    #[serde(default)]
    pub samples: Option<Vec<serde_json::Value>>,
    /// `premade`, `cloned`, `generated`, `professional`, ...
    pub category: String,
    /// Fine-tuning state of a professional clone.
    #[serde(default)]
    pub fine_tuning: Option<serde_json::Value>,
    /// Free-form labels: `accent`, `age`, `gender`, `use_case`, `description`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// URL of a preview clip.
    #[serde(default)]
    pub preview_url: Option<String>,
    /// Subscription tiers the voice is offered on (empty: all).
    #[serde(default)]
    pub available_for_tiers: Vec<String>,
    /// Stored settings.
    #[serde(default)]
    pub settings: Option<VoiceSettings>,
    /// Voice-library sharing information.
    #[serde(default)]
    pub sharing: Option<serde_json::Value>,
    /// Models the voice has high-quality versions for.
    #[serde(default)]
    pub high_quality_base_model_ids: Vec<String>,
    /// Languages the voice has been checked on.
    #[serde(default)]
    pub verified_languages: Vec<VerifiedLanguage>,
    /// Whether the caller owns the voice.
    #[serde(default)]
    pub is_owner: bool,
    /// Whether the voice is a legacy one.
    #[serde(default)]
    pub is_legacy: bool,
    /// Whether the voice mixes several speakers.
    #[serde(default)]
    pub is_mixed: bool,
    /// Creation time, seconds since the Unix epoch.
    #[serde(default)]
    pub created_at_unix: Option<i64>,
}

/// A language a voice was verified on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifiedLanguage {
    /// ISO 639-1 code.
    pub language: String,
    /// Model it was verified with.
    pub model_id: String,
    /// Accent, e.g. `american`.
    #[serde(default)]
    pub accent: Option<String>,
    /// Locale, e.g. `en-US`.
    #[serde(default)]
    pub locale: Option<String>,
    /// Preview clip in that language.
    #[serde(default)]
    pub preview_url: Option<String>,
}

/// `GET /v1/voices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetVoicesResponse {
    /// Every voice.
    pub voices: Vec<Voice>,
}

/// `GET /v2/voices`: one page of a search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchVoicesResponse {
    /// This page's voices.
    pub voices: Vec<Voice>,
    /// More pages follow.
    pub has_more: bool,
    /// Voices matching the search, over all pages.
    pub total_count: u64,
    /// Token of the next page (`next_page_token` query parameter).
    pub next_page_token: Option<String>,
}
