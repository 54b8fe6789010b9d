//! Words of a text and when each is spoken: from a character alignment, or spread over
//! a duration in proportion to their lengths.
//!
//! Times are whole milliseconds from here on, the resolution of a WebVTT timestamp,
//! so that the document and the JSON answer agree to the millisecond.

/// One word and the time it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedWord<'a> {
    /// The word as it stands in the text.
    pub text: &'a str,
    /// When it starts, in milliseconds.
    pub start_ms: u64,
    /// When it ends, in milliseconds (not before `start_ms`).
    pub end_ms: u64,
}

/// Whether `c` separates words. Control characters count as separators so that none
/// can reach a cue payload, where WebVTT parsers would mangle or reject them.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// The words of `text`, in order.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_separator).filter(|w| !w.is_empty())
}

/// Seconds to whole milliseconds. Callers have checked that `seconds` is finite and
/// within the timeline limit.
pub fn to_ms(seconds: f64) -> u64 {
    (seconds * 1000.0).round().max(0.0) as u64
}

/// Spreads `total_ms` over the words of `text` in proportion to their character
/// counts, without gaps: each word starts where the previous one ended.
pub fn from_duration(text: &str, total_ms: u64) -> Vec<TimedWord<'_>> {
    let lengths: Vec<(&str, u64)> = words(text).map(|w| (w, w.chars().count() as u64)).collect();
    let total_chars: u64 = lengths.iter().map(|(_, n)| n).sum();
    let at = |chars: u64| -> u64 {
        if total_chars == 0 {
            return 0;
        }
        // u128: a 100-hour timeline times a megabyte of text overflows u64.
        (u128::from(total_ms) * u128::from(chars) / u128::from(total_chars)) as u64
    };
    let mut before = 0;
    lengths
        .into_iter()
        .map(|(text, n)| {
            let start_ms = at(before);
            before += n;
            TimedWord {
                text,
                start_ms,
                end_ms: at(before),
            }
        })
        .collect()
}

/// Where the alignment's words stop matching the text's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// Index of the first word that differs (0-based).
    pub word: usize,
    /// The text's word there, if any.
    pub expected: Option<String>,
    /// The alignment's word there, if any.
    pub found: Option<String>,
}

/// Times the words of `text` from a character alignment whose characters spell the
/// same words (whitespace may differ). A word starts when its first character starts
/// and ends when its last character ends. An alignment entry of several characters
/// gives them all its times; an empty entry is skipped.
///
/// The arrays have been checked to be of the same length, finite, within the
/// timeline limit and in order.
pub fn from_alignment<'a>(
    text: &'a str,
    characters: &[String],
    starts_ms: &[u64],
    ends_ms: &[u64],
) -> Result<Vec<TimedWord<'a>>, Mismatch> {
    let mut spoken: Vec<(String, u64, u64)> = Vec::new();
    let mut current: Option<(String, u64, u64)> = None;
    let timed_chars = characters
        .iter()
        .zip(starts_ms.iter().zip(ends_ms))
        .flat_map(|(entry, (&start, &end))| entry.chars().map(move |c| (c, start, end)));
    for (c, start, end) in timed_chars {
        if is_separator(c) {
            spoken.extend(current.take());
        } else {
            match &mut current {
                Some((word, _, word_end)) => {
                    word.push(c);
                    *word_end = end;
                }
                None => current = Some((c.to_string(), start, end)),
            }
        }
    }
    spoken.extend(current);

    let written: Vec<&str> = words(text).collect();
    let differs = (0..written.len().max(spoken.len()))
        .find(|&i| written.get(i).copied() != spoken.get(i).map(|(w, _, _)| w.as_str()));
    if let Some(word) = differs {
        return Err(Mismatch {
            word,
            expected: written.get(word).map(|w| (*w).to_owned()),
            found: spoken.get(word).map(|(w, _, _)| w.clone()),
        });
    }
    Ok(written
        .into_iter()
        .zip(spoken)
        .map(|(text, (_, start_ms, end_ms))| TimedWord {
            text,
            start_ms,
            end_ms,
        })
        .collect())
}
