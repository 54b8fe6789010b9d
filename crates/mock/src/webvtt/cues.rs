//! Grouping timed words into cues the way subtitle style guides ask: a cue ends at
//! the end of a sentence, before it would pass the character or time limit, and at
//! a clause break (comma, semicolon, colon, dash) once it is two thirds full.

use super::timing::TimedWord;

/// One cue: a run of consecutive words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CueWords<'a> {
    /// The words, in order.
    pub words: Vec<&'a str>,
    /// Start, in milliseconds.
    pub start_ms: u64,
    /// End, in milliseconds; always after `start_ms`.
    pub end_ms: u64,
}

impl CueWords<'_> {
    /// The words joined by single spaces.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }
}

/// Limits of one cue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CueLimits {
    /// Characters of cue text, spaces included.
    pub max_chars: usize,
    /// Milliseconds from the cue's start to its end.
    pub max_ms: u64,
}

/// Splits `words` into cues. Every word lands in exactly one cue, in order; a word
/// that alone breaks a limit gets a cue of its own. Starts never decrease when word
/// starts do not. A cue whose words take no time at all still lasts 1 ms, since a
/// WebVTT cue must end after it starts.
pub fn group<'a>(words: &[TimedWord<'a>], limits: CueLimits) -> Vec<CueWords<'a>> {
    let mut cues = Vec::new();
    let mut current: Option<(CueWords<'a>, usize)> = None;
    for word in words {
        let len = word.text.chars().count();
        if let Some((cue, chars)) = &current {
            let too_long = chars + 1 + len > limits.max_chars;
            let too_slow = word.end_ms.saturating_sub(cue.start_ms) > limits.max_ms;
            if too_long || too_slow {
                cues.extend(current.take().map(|(cue, _)| cue));
            }
        }
        let (cue, chars) = current.get_or_insert_with(|| {
            (
                CueWords {
                    words: Vec::new(),
                    start_ms: word.start_ms,
                    end_ms: word.end_ms,
                },
                0,
            )
        });
        *chars += if cue.words.is_empty() { len } else { len + 1 };
        cue.words.push(word.text);
        cue.end_ms = cue.end_ms.max(word.end_ms);
        let clause_full = ends_clause(word.text) && *chars * 3 >= limits.max_chars * 2;
        if ends_sentence(word.text) || clause_full {
            cues.extend(current.take().map(|(cue, _)| cue));
        }
    }
    cues.extend(current.map(|(cue, _)| cue));
    for cue in &mut cues {
        cue.end_ms = cue.end_ms.max(cue.start_ms + 1);
    }
    cues
}

/// Closing quotes and brackets that may follow the punctuation ending a sentence.
const CLOSERS: &[char] = &[
    '"', '\'', ')', ']', '}', '»', '\u{201d}', '\u{2019}', '*', '_',
];

fn last_mark(word: &str) -> Option<char> {
    word.trim_end_matches(CLOSERS).chars().next_back()
}

/// Titles whose full stop does not end a sentence.
const TITLES: &[&str] = &[
    "mr.", "mrs.", "ms.", "dr.", "st.", "mt.", "prof.", "jr.", "sr.",
];

/// Whether `word` ends a sentence (`.`, `!`, `?`, `…`, and their CJK forms), titles
/// such as `Dr.` aside.
pub fn ends_sentence(word: &str) -> bool {
    let bare = word.trim_end_matches(CLOSERS);
    if TITLES.iter().any(|t| bare.eq_ignore_ascii_case(t)) {
        return false;
    }
    matches!(
        last_mark(word),
        Some('.' | '!' | '?' | '…' | '。' | '！' | '？' | '‼' | '⁇' | '⁈' | '⁉')
    )
}

/// Whether `word` ends a clause (`,`, `;`, `:`, or a dash).
pub fn ends_clause(word: &str) -> bool {
    matches!(
        last_mark(word),
        Some(',' | ';' | ':' | '—' | '–' | '、' | '，' | '；' | '：')
    )
}
