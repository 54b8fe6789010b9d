//! Text-to-speech: the request body of `POST /v1/text-to-speech/{voice_id}` (and its
//! `/stream`, `/with-timestamps` and `/stream/with-timestamps` variants), voice
//! settings, and the with-timestamps answer.

use serde::{Deserialize, Serialize};

/// Body of every text-to-speech route. `output_format` is a query parameter (see
/// [`super::OutputFormat`]), not a body field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextToSpeechRequest {
    /// The text to speak.
    pub text: String,
    /// Model to use; `eleven_multilingual_v2` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// ISO 639-1 language to enforce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// Overrides the voice's stored settings for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_settings: Option<VoiceSettings>,
    /// Up to three pronunciation dictionaries, applied in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pronunciation_dictionary_locators: Option<Vec<PronunciationDictionaryLocator>>,
    /// Sampling seed, 0 to 4294967295.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Text before this request's, for continuity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_text: Option<String>,
    /// Text after this request's, for continuity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_text: Option<String>,
    /// Request ids of earlier generations (at most three).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_request_ids: Option<Vec<String>>,
    /// Request ids of later generations (at most three).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_request_ids: Option<Vec<String>>,
    /// `auto`, `on` or `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_text_normalization: Option<String>,
    /// Language-specific normalisation (Japanese).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_language_text_normalization: Option<bool>,
    /// Use the instant clone of a professional voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_pvc_as_ivc: Option<bool>,
}

/// Voice settings; every field optional, the voice's own setting applies otherwise.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VoiceSettings {
    /// 0 to 1: higher is steadier, lower more expressive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stability: Option<f64>,
    /// 0 to 1: how closely to match the original voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity_boost: Option<f64>,
    /// 0 to 1: style exaggeration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<f64>,
    /// Boosts similarity to the original speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_speaker_boost: Option<bool>,
    /// 0.7 to 1.2: speaking speed, 1 is the voice's natural pace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

/// A pronunciation dictionary to apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PronunciationDictionaryLocator {
    /// Dictionary id.
    pub pronunciation_dictionary_id: String,
    /// Version id; the latest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Answer of `/with-timestamps`, and each line of `/stream/with-timestamps`: audio as
/// base64 and when each character is spoken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioWithTimestamps {
    /// The audio (or this chunk's part of it), base64.
    pub audio_base64: String,
    /// Timing of the characters of the text as sent; `null` on a streamed chunk that
    /// starts no character.
    pub alignment: Option<CharacterAlignment>,
    /// Timing of the characters of the normalised text.
    pub normalized_alignment: Option<CharacterAlignment>,
}

/// Per-character timing: three arrays of the same length, one entry per character,
/// times in seconds from the start of the audio.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CharacterAlignment {
    /// The characters, one string each.
    pub characters: Vec<String>,
    /// When each character starts.
    pub character_start_times_seconds: Vec<f64>,
    /// When each character ends.
    pub character_end_times_seconds: Vec<f64>,
}

impl CharacterAlignment {
    /// The characters joined back into text.
    pub fn text(&self) -> String {
        self.characters.concat()
    }

    /// End of the last character (0 when empty).
    pub fn end_seconds(&self) -> f64 {
        self.character_end_times_seconds
            .last()
            .copied()
            .unwrap_or(0.0)
    }

    /// Appends another alignment (e.g. the next streamed chunk's).
    pub fn extend(&mut self, other: &CharacterAlignment) {
        self.characters.extend(other.characters.iter().cloned());
        self.character_start_times_seconds
            .extend(&other.character_start_times_seconds);
        self.character_end_times_seconds
            .extend(&other.character_end_times_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_body_parses_and_nulls_are_absent_fields() {
        let body: TextToSpeechRequest = serde_json::from_str(
            r#"{"text":"Hi","model_id":null,"voice_settings":{"speed":1.1,"style":null},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(body.text, "Hi");
        assert_eq!(body.model_id, None);
        assert_eq!(body.voice_settings.unwrap().speed, Some(1.1));
        let json = serde_json::to_string(&TextToSpeechRequest {
            text: "x".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(json, r#"{"text":"x"}"#);
    }

    #[test]
    fn alignments_concatenate() {
        let mut a = CharacterAlignment {
            characters: vec!["H".into()],
            character_start_times_seconds: vec![0.0],
            character_end_times_seconds: vec![0.1],
        };
        a.extend(&CharacterAlignment {
            characters: vec!["i".into()],
            character_start_times_seconds: vec![0.1],
            character_end_times_seconds: vec![0.2],
        });
        assert_eq!(a.text(), "Hi");
        assert_eq!(a.end_seconds(), 0.2);
    }
}
