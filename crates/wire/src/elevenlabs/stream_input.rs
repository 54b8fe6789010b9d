//! Messages of the `stream-input` WebSocket
//! (`/v1/text-to-speech/{voice_id}/stream-input`).
//!
//! The client sends [`StreamInputMessage`]s: first an initialisation message whose
//! `text` is a single space (with `voice_settings`, `generation_config`, and the API
//! key as `xi_api_key` if not sent as a header), then text, and `{"text": ""}` to
//! finish. The server answers with [`StreamOutputMessage`]s carrying audio and
//! alignment, then one with `isFinal: true`, and closes. Errors arrive as a
//! [`StreamInputError`] just before the socket closes.

use serde::{Deserialize, Serialize};

use super::VoiceSettings;

/// A message from the client.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamInputMessage {
    /// Text to add to the buffer: `" "` to initialise, `""` to finish.
    pub text: String,
    /// Generate now if the buffer holds enough text (deprecated by ElevenLabs in
    /// favour of `flush`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_trigger_generation: Option<bool>,
    /// Generate whatever the buffer holds now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush: Option<bool>,
    /// Voice settings (initialisation message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_settings: Option<VoiceSettings>,
    /// When to generate (initialisation message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// API key, for clients that cannot set headers (initialisation message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xi_api_key: Option<String>,
    /// `Bearer TOKEN`, the alternative to `xi_api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
}

/// Generation schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Buffered characters that trigger the first, second, ... generation (the last
    /// entry repeats). ElevenLabs' default is `[120, 160, 250, 290]`; each entry
    /// must be between 50 and 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_length_schedule: Option<Vec<u32>>,
}

/// A message from the server. Every field is written, `null` when it does not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamOutputMessage {
    /// A chunk of audio, base64, in the requested `output_format`.
    pub audio: Option<String>,
    /// `true` on the last message, `null` otherwise.
    pub is_final: Option<bool>,
    /// Timing of the normalised text in this chunk.
    pub normalized_alignment: Option<WsAlignment>,
    /// Timing of the text as sent in this chunk.
    pub alignment: Option<WsAlignment>,
}

/// Per-character timing of one chunk, in milliseconds from the start of the chunk's
/// audio.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WsAlignment {
    /// The characters, one string each.
    pub chars: Vec<String>,
    /// When each character starts.
    #[serde(rename = "charStartTimesMs")]
    pub char_start_times_ms: Vec<u64>,
    /// How long each character lasts.
    #[serde(rename = "charsDurationsMs")]
    pub chars_durations_ms: Vec<u64>,
}

/// An error, sent just before the server closes the socket with `code`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamInputError {
    /// Human-readable message.
    pub message: String,
    /// Machine-readable code, e.g. `invalid_api_key`, `input_timeout_exceeded`.
    pub error: String,
    /// WebSocket close code the socket is closed with (1008 for policy violations).
    pub code: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_uses_camel_case_and_writes_nulls() {
        let final_message = StreamOutputMessage {
            is_final: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&final_message).unwrap(),
            r#"{"audio":null,"isFinal":true,"normalizedAlignment":null,"alignment":null}"#
        );
        let alignment = WsAlignment {
            chars: vec!["a".into()],
            char_start_times_ms: vec![0],
            chars_durations_ms: vec![70],
        };
        let json = serde_json::to_value(&alignment).unwrap();
        assert_eq!(json["charStartTimesMs"][0], 0);
        assert_eq!(json["charsDurationsMs"][0], 70);
    }

    #[test]
    fn the_sdk_initialisation_message_parses() {
        let init: StreamInputMessage = serde_json::from_str(
            r#"{"text":" ","try_trigger_generation":true,"voice_settings":null,"generation_config":{"chunk_length_schedule":[50]}}"#,
        )
        .unwrap();
        assert_eq!(init.text, " ");
        assert_eq!(
            init.generation_config.unwrap().chunk_length_schedule,
            Some(vec![50])
        );
    }
}
