//! Checking a WebVTT request and turning it into timed words and cue limits.
//!
//! Every independent problem is reported (FastAPI lists them all), but only the first
//! problem inside the alignment arrays: a million bad times make one clear message,
//! not a million.

use gatebench_wire::elevenlabs::ValidationIssue;
use gatebench_wire::webvtt::{
    Alignment, DEFAULT_MAX_CHARS_PER_CUE, DEFAULT_MAX_CUE_SECONDS, MAX_TIMELINE_SECONDS,
    MIN_MAX_CHARS_PER_CUE, WebVttRequest,
};
use serde_json::Value;

use super::cues::CueLimits;
use super::timing::{self, Mismatch, TimedWord};

/// A request that cannot be served, with what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WebVttError {
    /// No word in the text.
    #[error("text must contain at least one word")]
    EmptyText,
    /// Neither timing given.
    #[error("one of alignment or duration_seconds is required")]
    NoTiming,
    /// Both timings given.
    #[error("give either alignment or duration_seconds, not both")]
    BothTimings,
    /// A number out of its range.
    #[error("{field} must be {rule} (got {value})")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The range, in words.
        rule: String,
        /// What was sent.
        value: f64,
    },
    /// The alignment arrays differ in length.
    #[error(
        "alignment arrays must have the same length: characters has {characters}, character_start_times_seconds has {starts}, character_end_times_seconds has {ends}"
    )]
    LengthMismatch {
        /// Length of `characters`.
        characters: usize,
        /// Length of `character_start_times_seconds`.
        starts: usize,
        /// Length of `character_end_times_seconds`.
        ends: usize,
    },
    /// A time is not a number of seconds within the timeline.
    #[error(
        "{array}[{index}] is {value}: times must be between 0 and {max} seconds",
        max = MAX_TIMELINE_SECONDS
    )]
    TimeOutOfRange {
        /// Which array.
        array: &'static str,
        /// Index in it.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A time is earlier than the one before it.
    #[error(
        "{array}[{index}] ({value}) is before {array}[{prev}] ({previous}): times must be non-decreasing",
        prev = .index - 1
    )]
    TimesDecrease {
        /// Which array.
        array: &'static str,
        /// Index of the later, smaller time.
        index: usize,
        /// The smaller time.
        value: f64,
        /// The time before it.
        previous: f64,
    },
    /// A character ends before it starts.
    #[error(
        "character_end_times_seconds[{index}] ({end}) is before character_start_times_seconds[{index}] ({start})"
    )]
    EndBeforeStart {
        /// Index of the character.
        index: usize,
        /// Its start.
        start: f64,
        /// Its end.
        end: f64,
    },
    /// The alignment spells other words than the text.
    #[error("alignment characters do not spell the text: {}", describe(.0))]
    CharactersMismatch(Mismatch),
}

fn describe(m: &Mismatch) -> String {
    let n = m.word + 1;
    match (&m.expected, &m.found) {
        (Some(e), Some(f)) => {
            format!("word {n} is \"{e}\" in the text but \"{f}\" in the alignment")
        }
        (Some(e), None) => format!("the alignment ends before word {n} of the text (\"{e}\")"),
        (None, Some(f)) => format!("the alignment has a word after the text ends (\"{f}\")"),
        (None, None) => "they differ".to_owned(),
    }
}

impl WebVttError {
    /// Where the problem is, FastAPI style (`["body", "alignment", ...]`).
    pub fn loc(&self) -> Vec<Value> {
        let mut loc = vec![Value::from("body")];
        match self {
            WebVttError::EmptyText => loc.push("text".into()),
            WebVttError::NoTiming | WebVttError::BothTimings => {}
            WebVttError::OutOfRange { field, .. } => loc.push((*field).into()),
            WebVttError::LengthMismatch { .. } => loc.push("alignment".into()),
            WebVttError::TimeOutOfRange { array, index, .. }
            | WebVttError::TimesDecrease { array, index, .. } => {
                loc.extend(["alignment".into(), (*array).into(), (*index).into()]);
            }
            WebVttError::EndBeforeStart { index, .. } => loc.extend([
                "alignment".into(),
                "character_end_times_seconds".into(),
                (*index).into(),
            ]),
            WebVttError::CharactersMismatch(_) => {
                loc.extend(["alignment".into(), "characters".into()]);
            }
        }
        loc
    }

    /// Machine-readable kind, in pydantic's vocabulary.
    pub fn kind(&self) -> &'static str {
        match self {
            WebVttError::EmptyText => "string_too_short",
            WebVttError::NoTiming => "missing",
            WebVttError::OutOfRange { .. } => "out_of_range",
            _ => "value_error",
        }
    }

    /// As one entry of a 422 body.
    pub fn issue(&self) -> ValidationIssue {
        ValidationIssue {
            loc: self.loc(),
            msg: self.to_string(),
            kind: self.kind().to_owned(),
        }
    }
}

/// What a valid request asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan<'a> {
    /// The text's words with their times.
    pub words: Vec<TimedWord<'a>>,
    /// Cue limits.
    pub limits: CueLimits,
    /// Length of the timeline, in milliseconds.
    pub duration_ms: u64,
}

/// Checks `request` and times its words.
pub fn plan(request: &WebVttRequest) -> Result<Plan<'_>, Vec<WebVttError>> {
    let mut errors = Vec::new();
    if timing::words(&request.text).next().is_none() {
        errors.push(WebVttError::EmptyText);
    }
    let max_chars = request
        .max_chars_per_cue
        .unwrap_or(DEFAULT_MAX_CHARS_PER_CUE);
    if max_chars < MIN_MAX_CHARS_PER_CUE {
        errors.push(WebVttError::OutOfRange {
            field: "max_chars_per_cue",
            rule: format!("at least {MIN_MAX_CHARS_PER_CUE}"),
            value: f64::from(max_chars),
        });
    }
    let max_seconds = request.max_cue_seconds.unwrap_or(DEFAULT_MAX_CUE_SECONDS);
    if let Some(error) = seconds_error("max_cue_seconds", max_seconds) {
        errors.push(error);
    }
    match (&request.alignment, request.duration_seconds) {
        (Some(_), Some(_)) => errors.push(WebVttError::BothTimings),
        (None, None) => errors.push(WebVttError::NoTiming),
        (None, Some(d)) => errors.extend(seconds_error("duration_seconds", d)),
        (Some(a), None) => errors.extend(alignment_error(a)),
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let (words, duration_ms) = match (&request.alignment, request.duration_seconds) {
        (Some(a), _) => {
            let starts: Vec<u64> = a
                .character_start_times_seconds
                .iter()
                .map(|&s| timing::to_ms(s))
                .collect();
            let ends: Vec<u64> = a
                .character_end_times_seconds
                .iter()
                .map(|&s| timing::to_ms(s))
                .collect();
            let words = timing::from_alignment(&request.text, &a.characters, &starts, &ends)
                .map_err(|m| vec![WebVttError::CharactersMismatch(m)])?;
            (words, ends.last().copied().unwrap_or(0))
        }
        (None, d) => {
            let total = timing::to_ms(d.unwrap_or(0.0));
            (timing::from_duration(&request.text, total), total)
        }
    };
    Ok(Plan {
        words,
        limits: CueLimits {
            max_chars: max_chars as usize,
            max_ms: timing::to_ms(max_seconds),
        },
        duration_ms,
    })
}

fn seconds_error(field: &'static str, value: f64) -> Option<WebVttError> {
    let ok = value.is_finite() && value > 0.0 && value <= MAX_TIMELINE_SECONDS;
    (!ok).then(|| WebVttError::OutOfRange {
        field,
        rule: format!("greater than 0 and at most {MAX_TIMELINE_SECONDS} seconds"),
        value,
    })
}

fn alignment_error(a: &Alignment) -> Option<WebVttError> {
    let (characters, starts, ends) = (
        a.characters.len(),
        a.character_start_times_seconds.len(),
        a.character_end_times_seconds.len(),
    );
    if characters != starts || characters != ends {
        return Some(WebVttError::LengthMismatch {
            characters,
            starts,
            ends,
        });
    }
    for (array, times) in [
        (
            "character_start_times_seconds",
            &a.character_start_times_seconds,
        ),
        (
            "character_end_times_seconds",
            &a.character_end_times_seconds,
        ),
    ] {
        for (index, &value) in times.iter().enumerate() {
            if !(value.is_finite() && (0.0..=MAX_TIMELINE_SECONDS).contains(&value)) {
                return Some(WebVttError::TimeOutOfRange {
                    array,
                    index,
                    value,
                });
            }
            if index > 0 && value < times[index - 1] {
                return Some(WebVttError::TimesDecrease {
                    array,
                    index,
                    value,
                    previous: times[index - 1],
                });
            }
        }
    }
    let pairs = a
        .character_start_times_seconds
        .iter()
        .zip(&a.character_end_times_seconds);
    pairs
        .enumerate()
        .find(|(_, (s, e))| e < s)
        .map(|(index, (&start, &end))| WebVttError::EndBeforeStart { index, start, end })
}
