//! Personality service shapes (gatebench's own API).
//!
//! `POST /v1/personality` takes a child's profile ([`PersonalityRequest`]) and returns
//! what a story writer needs to pitch a story at that child ([`PersonalityResponse`]):
//! an age band, a handful of scored traits, a tone, a reading level and writing
//! guidelines. Errors use FastAPI's shapes (see [`crate::elevenlabs`]).

use serde::{Deserialize, Serialize};

/// Youngest age served.
pub const MIN_AGE: i64 = 3;
/// Oldest age served.
pub const MAX_AGE: i64 = 12;
/// Most interests one request may list.
pub const MAX_INTERESTS: usize = 10;
/// Longest interest, in characters.
pub const MAX_INTEREST_CHARS: usize = 50;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 50;
/// Longest story theme, in characters.
pub const MAX_THEME_CHARS: usize = 200;

/// `POST /v1/personality` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalityRequest {
    /// The child's age in whole years, [`MIN_AGE`] to [`MAX_AGE`].
    pub age: i64,
    /// What the child likes (`"dinosaurs"`, `"space"`), at most [`MAX_INTERESTS`];
    /// may be empty. Order, case and duplicates do not change the answer.
    pub interests: Vec<String>,
    /// The child's name, used in the guidelines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the story should be about (`"making a new friend"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story_theme: Option<String>,
}

/// `POST /v1/personality` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PersonalityResponse {
    /// `"3-5"`, `"6-8"` or `"9-12"`.
    pub age_band: String,
    /// The strongest traits, highest score first (ties by name).
    pub traits: Vec<Trait>,
    /// How the story should sound (`"warm, cozy and reassuring"`).
    pub tone: String,
    /// Grade and text complexity to write at.
    pub reading_level: ReadingLevel,
    /// Concrete instructions for the writer, most general first.
    pub guidelines: Vec<String>,
}

/// One personality trait, in the vocabulary of the child's age band.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trait {
    /// Trait name (`"curious"` for a 4-year-old, `"investigative"` for an 11-year-old).
    pub name: String,
    /// Strength between 0 and 1, two decimals.
    pub score: f64,
    /// What the trait looks like in a child of that age.
    pub description: String,
}

/// The reading level a story should be written at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadingLevel {
    /// US school grade (`"Pre-K"`, `"Kindergarten"`, `"Grade 3"`).
    pub grade: String,
    /// Lexile text measure range typical of that grade (`"520L-820L"`; `"BR"` for
    /// beginning readers, whose stories are read aloud).
    pub lexile: String,
    /// Average words per sentence to aim for.
    pub words_per_sentence: u32,
    /// The level in one sentence.
    pub description: String,
}
