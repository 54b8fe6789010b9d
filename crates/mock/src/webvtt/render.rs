//! Writing cues out: the `text/vtt` document and the JSON answer.
//!
//! The document follows the W3C WebVTT syntax: the `WEBVTT` line, then each cue
//! after a blank line as a timing line `[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt` and one or
//! more payload lines. Payload lines are never empty and hold no line terminator, so
//! no payload contains a blank line; `&`, `<` and `>` are written as character
//! references, so no payload contains `-->` or anything a parser would read as a tag.

use std::fmt::Write as _;

use gatebench_wire::webvtt::{Cue, WebVttResponse};

use super::cues::CueWords;

/// Longest payload line, in characters: the usual subtitle line limit. A cue allowed
/// more than this is wrapped over several lines.
pub const LINE_CHARS: usize = 42;

/// A WebVTT timestamp: `mm:ss.ttt`, or `hh:mm:ss.ttt` from one hour on (hours take
/// as many digits as they need, at least two).
pub fn timestamp(ms: u64) -> String {
    let (hours, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    if hours > 0 {
        format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
    } else {
        format!("{minutes:02}:{seconds:02}.{millis:03}")
    }
}

/// `text` as cue text: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Wraps words into lines of at most `width` characters (a longer word takes a line
/// of its own), filling each line before starting the next.
pub fn wrap<'a>(words: &[&'a str], width: usize) -> Vec<Vec<&'a str>> {
    let mut lines: Vec<Vec<&'a str>> = Vec::new();
    let mut used = 0;
    for &word in words {
        let len = word.chars().count();
        match lines.last_mut() {
            Some(line) if used + 1 + len <= width => {
                line.push(word);
                used += 1 + len;
            }
            _ => {
                lines.push(vec![word]);
                used = len;
            }
        }
    }
    lines
}

/// The whole `text/vtt` document.
pub fn document(cues: &[CueWords<'_>]) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n{} --> {}\n",
            timestamp(cue.start_ms),
            timestamp(cue.end_ms)
        );
        for line in wrap(&cue.words, LINE_CHARS) {
            out.push_str(&escape(&line.join(" ")));
            out.push('\n');
        }
    }
    out
}

/// The JSON answer.
pub fn json(cues: &[CueWords<'_>], duration_ms: u64) -> WebVttResponse {
    let seconds = |ms: u64| ms as f64 / 1000.0;
    WebVttResponse {
        cues: cues
            .iter()
            .map(|cue| Cue {
                start: seconds(cue.start_ms),
                end: seconds(cue.end_ms),
                text: cue.text(),
            })
            .collect(),
        duration_seconds: seconds(duration_ms),
    }
}
