//! When each character is spoken: the timeline every audio format and every
//! alignment of a request is cut from.
//!
//! The text is first normalised the way the mock "reads" it: every run of whitespace
//! (spaces, tabs, newlines) becomes one space, and leading and trailing whitespace
//! is dropped. Each character of the normalised text then lasts
//! `weight × 1000 / (speaking_rate × speed)` milliseconds, times a jitter between
//! 0.85 and 1.15 drawn from the request's content generator, rounded to whole
//! milliseconds. A letter weighs 1; a space 0.6; a digit 2 (it is read as a word);
//! a comma, semicolon or colon 3 and a full stop, `!`, `?` or `…` 5, which makes
//! the pauses at punctuation; quotes, brackets and hyphens 0.4.
//!
//! `normalized_alignment` lists the normalised characters back to back from 0 to the
//! duration. `alignment` lists the characters as sent: each takes the time of its
//! normalised character, and whitespace that normalisation dropped lasts zero
//! milliseconds where it stands (leading whitespace at 0, trailing at the end).
//! Both are contiguous: each character starts where the previous one ended, and the
//! last one ends at the duration.

use gatebench_wire::elevenlabs::{CharacterAlignment, WsAlignment};
use rand::{Rng, RngExt as _};

/// One character and when it is spoken, in milliseconds from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The character.
    pub ch: char,
    /// Start.
    pub start_ms: u64,
    /// End (≥ start).
    pub end_ms: u64,
}

/// The timing of one text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// The characters as sent.
    pub original: Vec<Span>,
    /// The characters of the normalised text.
    pub normalized: Vec<Span>,
    /// Length of the speech.
    pub duration_ms: u64,
}

/// Collapses whitespace runs to one space and trims. Returns the normalised text and,
/// for each character of `text`, the index of the normalised character it became
/// (`None` for whitespace that was dropped).
pub fn normalize(text: &str) -> (Vec<char>, Vec<Option<usize>>) {
    let mut normalized = Vec::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len());
    let mut pending_space: Option<usize> = None;
    for (i, c) in text.chars().enumerate() {
        if c.is_whitespace() {
            map.push(None);
            if !normalized.is_empty() && pending_space.is_none() {
                pending_space = Some(i);
            }
            continue;
        }
        if let Some(first) = pending_space.take() {
            map[first] = Some(normalized.len());
            normalized.push(' ');
        }
        map.push(Some(normalized.len()));
        normalized.push(c);
    }
    (normalized, map)
}

/// Relative length of a character; a letter is 1.
pub fn weight(c: char) -> f64 {
    match c {
        '.' | '!' | '?' | '…' => 5.0,
        ',' | ';' | ':' => 3.0,
        '—' | '–' => 2.5,
        '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '“' | '”' | '‘' | '’' | '-' => 0.4,
        c if c.is_ascii_digit() => 2.0,
        c if c.is_whitespace() => 0.6,
        c if c.is_alphabetic() => 1.0,
        _ => 0.8,
    }
}

impl Timeline {
    /// The timeline of `text` spoken at `chars_per_second`, with jitter from `rng`
    /// (the request's content generator, so the same request gets the same timing).
    pub fn build<R: Rng + ?Sized>(text: &str, chars_per_second: f64, rng: &mut R) -> Timeline {
        let ms_per_letter = 1000.0 / chars_per_second.max(0.1);
        let (chars, map) = normalize(text);
        let mut normalized = Vec::with_capacity(chars.len());
        let mut t = 0u64;
        for ch in chars {
            let jitter: f64 = rng.random_range(0.85..1.15);
            let d = (ms_per_letter * weight(ch) * jitter).round().max(1.0) as u64;
            normalized.push(Span {
                ch,
                start_ms: t,
                end_ms: t + d,
            });
            t += d;
        }
        let mut original = Vec::with_capacity(map.len());
        let mut at = 0u64;
        for (ch, mapped) in text.chars().zip(map) {
            match mapped.and_then(|j| normalized.get(j)) {
                Some(span) => {
                    original.push(Span { ch, ..*span });
                    at = span.end_ms;
                }
                None => original.push(Span {
                    ch,
                    start_ms: at,
                    end_ms: at,
                }),
            }
        }
        Timeline {
            original,
            normalized,
            duration_ms: t,
        }
    }

    /// The characters a chunk starting at `from_ms` (inclusive) and ending at `to_ms`
    /// (exclusive; `None` for the last chunk) starts, for `original` or `normalized`.
    pub fn starting_in(spans: &[Span], from_ms: f64, to_ms: Option<f64>) -> &[Span] {
        let first = spans.partition_point(|s| (s.start_ms as f64) < from_ms);
        let last = match to_ms {
            Some(to) => spans.partition_point(|s| (s.start_ms as f64) < to),
            None => spans.len(),
        };
        spans.get(first..last.max(first)).unwrap_or_default()
    }
}

/// ElevenLabs' `alignment` shape (seconds from the start of the audio).
pub fn to_seconds(spans: &[Span]) -> CharacterAlignment {
    CharacterAlignment {
        characters: spans.iter().map(|s| s.ch.to_string()).collect(),
        character_start_times_seconds: spans.iter().map(|s| s.start_ms as f64 / 1000.0).collect(),
        character_end_times_seconds: spans.iter().map(|s| s.end_ms as f64 / 1000.0).collect(),
    }
}

/// The WebSocket's alignment shape: milliseconds from `origin_ms`.
pub fn to_ws(spans: &[Span], origin_ms: u64) -> WsAlignment {
    WsAlignment {
        chars: spans.iter().map(|s| s.ch.to_string()).collect(),
        char_start_times_ms: spans
            .iter()
            .map(|s| s.start_ms.saturating_sub(origin_ms))
            .collect(),
        chars_durations_ms: spans.iter().map(|s| s.end_ms - s.start_ms).collect(),
    }
}

#[cfg(test)]
mod tests;
