//! The voices the mock offers (embedded from `fixtures/voices.toml`) and the voice
//! routes: `GET /v1/voices`, `GET /v1/voices/{voice_id}`, `GET /v2/voices`,
//! `GET /v1/voices/{voice_id}/settings` and `GET /v1/voices/settings/default`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use gatebench_wire::elevenlabs::{
    GetVoicesResponse, SearchVoicesResponse, VerifiedLanguage, Voice, VoiceSettings,
};
use http::StatusCode;
use serde::Deserialize;

use super::query::{self, Query};
use crate::error::ApiError;
use crate::json::Json;

const FIXTURE: &str = include_str!("../../../../fixtures/voices.toml");

/// One voice of the fixture file.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceEntry {
    /// 20-character id.
    pub voice_id: String,
    /// Display name.
    pub name: String,
    /// Longer description.
    pub description: String,
    /// Characters per second of ordinary prose at speed 1.
    pub speaking_rate: f64,
    /// Fundamental frequency of the synthetic voice.
    pub pitch_hz: f64,
    /// `accent`, `age`, `gender`, `use_case`, `description`.
    pub labels: BTreeMap<String, String>,
    /// `premade` unless the file says otherwise.
    #[serde(default = "premade")]
    pub category: String,
}

fn premade() -> String {
    "premade".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoiceFile {
    voice: Vec<VoiceEntry>,
}

static VOICES: LazyLock<Vec<VoiceEntry>> = LazyLock::new(|| {
    // The file is compiled in and checked by a unit test: failing here is a build
    // defect, not bad input.
    let file: VoiceFile = toml::from_str(FIXTURE).expect("fixtures/voices.toml is valid");
    file.voice
});

/// Every voice, in file order.
pub fn builtin_voices() -> &'static [VoiceEntry] {
    &VOICES
}

/// The voice with this id.
pub fn find(voice_id: &str) -> Option<&'static VoiceEntry> {
    VOICES.iter().find(|v| v.voice_id == voice_id)
}

/// The settings every premade voice is stored with (ElevenLabs' defaults).
pub fn default_settings() -> VoiceSettings {
    VoiceSettings {
        stability: Some(0.5),
        similarity_boost: Some(0.75),
        style: Some(0.0),
        use_speaker_boost: Some(true),
        speed: Some(1.0),
    }
}

/// The wire shape of a voice.
pub fn to_wire(entry: &VoiceEntry) -> Voice {
    let accent = entry.labels.get("accent").cloned();
    Voice {
        voice_id: entry.voice_id.clone(),
        name: entry.name.clone(),
        samples: None,
        category: entry.category.clone(),
        fine_tuning: None,
        labels: entry.labels.clone(),
        description: Some(entry.description.clone()),
        preview_url: Some(format!(
            "https://storage.example.invalid/voices/{}/preview.mp3",
            entry.voice_id
        )),
        available_for_tiers: Vec::new(),
        settings: Some(default_settings()),
        sharing: None,
        high_quality_base_model_ids: vec![
            "eleven_multilingual_v2".to_owned(),
            "eleven_turbo_v2_5".to_owned(),
            "eleven_flash_v2_5".to_owned(),
        ],
        verified_languages: vec![VerifiedLanguage {
            language: "en".to_owned(),
            model_id: "eleven_multilingual_v2".to_owned(),
            accent,
            locale: None,
            preview_url: None,
        }],
        is_owner: false,
        is_legacy: false,
        is_mixed: false,
        created_at_unix: None,
    }
}

/// ElevenLabs' answer for an unknown voice id.
pub fn not_found(voice_id: &str) -> ApiError {
    ApiError::status(
        StatusCode::NOT_FOUND,
        "voice_not_found",
        format!("A voice with the voice_id {voice_id} was not found."),
    )
}

/// `GET /v1/voices`.
pub async fn list() -> Json<GetVoicesResponse> {
    Json(GetVoicesResponse {
        voices: VOICES.iter().map(to_wire).collect(),
    })
}

/// `GET /v1/voices/{voice_id}`.
pub async fn get(Path(voice_id): Path<String>) -> Response {
    match find(&voice_id) {
        Some(entry) => Json(to_wire(entry)).into_response(),
        None => not_found(&voice_id).into_response(),
    }
}

/// `GET /v1/voices/{voice_id}/settings`.
pub async fn settings(Path(voice_id): Path<String>) -> Response {
    match find(&voice_id) {
        Some(_) => Json(default_settings()).into_response(),
        None => not_found(&voice_id).into_response(),
    }
}

/// `GET /v1/voices/settings/default`.
pub async fn default_settings_route() -> Json<VoiceSettings> {
    Json(default_settings())
}

/// `GET /v2/voices`: `search` (in name, description and labels, any case),
/// `page_size` (1 to 100, default 10) and `next_page_token` (from the previous page).
pub async fn search(RawQuery(raw): RawQuery) -> Response {
    match search_page(&query::parse(raw.as_deref())) {
        Ok(page) => Json(page).into_response(),
        Err(error) => error.into_response(),
    }
}

fn search_page(query: &Query) -> Result<SearchVoicesResponse, ApiError> {
    let page_size = query.integer("page_size", 1, 100)?.unwrap_or(10) as usize;
    let start = match query.get("next_page_token") {
        None | Some("") => 0,
        Some(token) => token.parse::<usize>().map_err(|_| {
            ApiError::validation(
                &["query", "next_page_token"],
                "Invalid page token",
                "value_error",
            )
        })?,
    };
    let needle = query.get("search").unwrap_or("").to_lowercase();
    let matching: Vec<&VoiceEntry> = VOICES
        .iter()
        .filter(|v| {
            needle.is_empty()
                || v.name.to_lowercase().contains(&needle)
                || v.description.to_lowercase().contains(&needle)
                || v.labels
                    .values()
                    .any(|l| l.to_lowercase().contains(&needle))
        })
        .collect();
    let end = (start + page_size).min(matching.len());
    let voices = matching
        .get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .map(|v| to_wire(v))
        .collect();
    Ok(SearchVoicesResponse {
        voices,
        has_more: end < matching.len(),
        total_count: matching.len() as u64,
        next_page_token: (end < matching.len()).then(|| end.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_holds_a_dozen_well_formed_voices() {
        let voices = builtin_voices();
        assert_eq!(voices.len(), 12);
        for v in voices {
            assert_eq!(v.voice_id.len(), 20, "{}", v.voice_id);
            assert!(v.voice_id.chars().all(|c| c.is_ascii_alphanumeric()));
            assert!((10.0..=20.0).contains(&v.speaking_rate), "{}", v.name);
            assert!((60.0..=400.0).contains(&v.pitch_hz), "{}", v.name);
            for label in ["accent", "age", "gender", "use_case"] {
                assert!(v.labels.contains_key(label), "{} lacks {label}", v.name);
            }
        }
        let mut ids: Vec<_> = voices.iter().map(|v| &v.voice_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12);
    }

    #[test]
    fn search_filters_and_pages() {
        let british = search_page(&query::parse(Some("search=British&page_size=2"))).unwrap();
        assert_eq!(british.total_count, 3);
        assert_eq!(british.voices.len(), 2);
        assert!(british.has_more);
        let token = british.next_page_token.unwrap();
        let rest = search_page(&query::parse(Some(&format!(
            "search=british&next_page_token={token}"
        ))))
        .unwrap();
        assert_eq!(rest.voices.len(), 1);
        assert!(!rest.has_more);
        assert!(search_page(&query::parse(Some("page_size=0"))).is_err());
    }
}
