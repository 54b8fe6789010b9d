//! WebVTT service shapes (gatebench's own API).
//!
//! `POST /v1/webvtt` turns text plus timing into subtitles: the timing is either a
//! text-to-speech character alignment (ElevenLabs' `alignment` shape, so a
//! with-timestamps answer can be passed on as it is) or a total duration. The answer
//! is a `text/vtt` document, or [`WebVttResponse`] for `Accept: application/json`.
//! Errors use FastAPI's shapes (see [`crate::elevenlabs`]).

use serde::{Deserialize, Serialize};

/// `max_chars_per_cue` when not given: 42 characters, the usual line length limit
/// of subtitle style guides.
pub const DEFAULT_MAX_CHARS_PER_CUE: u32 = 42;
/// Smallest `max_chars_per_cue` accepted.
pub const MIN_MAX_CHARS_PER_CUE: u32 = 10;
/// `max_cue_seconds` when not given: subtitle style guides cap a cue at 7 seconds.
pub const DEFAULT_MAX_CUE_SECONDS: f64 = 7.0;
/// Longest timeline accepted (durations, alignment times): 100 hours.
pub const MAX_TIMELINE_SECONDS: f64 = 360_000.0;

/// `POST /v1/webvtt` body. Exactly one of `alignment` and `duration_seconds`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebVttRequest {
    /// The text to subtitle; its words (runs of characters between whitespace or
    /// control characters) all appear in the cues, once each, in order.
    pub text: String,
    /// Per-character timing of `text`, e.g. from text-to-speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<Alignment>,
    /// Total duration to spread the words over, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// Longest cue text in characters (default [`DEFAULT_MAX_CHARS_PER_CUE`], at
    /// least [`MIN_MAX_CHARS_PER_CUE`]); a single longer word gets a cue of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars_per_cue: Option<u32>,
    /// Longest cue in seconds (default [`DEFAULT_MAX_CUE_SECONDS`]); a single
    /// longer word gets a cue of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cue_seconds: Option<f64>,
}

/// Character timing, field for field ElevenLabs' `alignment`: three arrays of the
/// same length, one entry per character.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// The characters, one string each.
    pub characters: Vec<String>,
    /// When each character starts, in seconds.
    pub character_start_times_seconds: Vec<f64>,
    /// When each character ends, in seconds.
    pub character_end_times_seconds: Vec<f64>,
}

/// `POST /v1/webvtt` answer for `Accept: application/json`: the same cues as the
/// `text/vtt` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebVttResponse {
    /// Cues in order of start time.
    pub cues: Vec<Cue>,
    /// Length of the timeline: `duration_seconds`, or the alignment's last end time.
    pub duration_seconds: f64,
}

/// One cue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// Start, in seconds (whole milliseconds, as in the document).
    pub start: f64,
    /// End, in seconds, after `start`.
    pub end: f64,
    /// The cue's words joined by single spaces, unescaped and unwrapped.
    pub text: String,
}
