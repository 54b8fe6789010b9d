//! Turning a text into weighted features: its normalised words and the
//! character trigrams of its content words.
//!
//! Words carry the meaning; trigrams give typos and unforeseen word forms a
//! partial match instead of none. Pairs of neighbouring words were tried and
//! left out: on the catalogs they lowered paraphrase similarity (people reorder
//! words) more than they separated different questions.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::lexicon::Lexicon;
use crate::tokens::split_words;
use crate::words::STOP;

/// Total weight of a word's trigrams, relative to the word.
const TRIGRAMS: f32 = 0.3;
/// Words shorter than this get no trigrams: theirs would only repeat the word.
const MIN_TRIGRAM_WORD: usize = 4;

/// A feature: a key (which salts a direction) and its weight in the text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feature {
    /// Hash of the feature's kind and text, salted by the model.
    pub key: u64,
    /// How much the feature counts.
    pub weight: f32,
}

/// The normalised words of `text`: stems, synonyms read as their canonical word,
/// known phrases rewritten as one concept.
pub fn normalised_words(text: &str) -> Vec<String> {
    let lex = Lexicon::get();
    let mut raw = Vec::new();
    split_words(text, &mut raw);
    let words: Vec<String> = raw.iter().map(|w| lex.normalise(w)).collect();
    lex.rewrite_phrases(words)
}

/// The normalised words of `text`, each with its weight.
pub fn weighted_words(text: &str) -> Vec<(String, f32)> {
    let lex = Lexicon::get();
    normalised_words(text)
        .into_iter()
        .map(|w| {
            let weight = lex.weight(&w);
            (w, weight)
        })
        .collect()
}

/// The features of `text` under `salt`, sorted by key, duplicates summed.
pub fn features(text: &str, salt: u64) -> Vec<Feature> {
    let words = weighted_words(text);
    let mut out = Vec::with_capacity(words.len() * 8);
    let mut buf = Vec::with_capacity(64);
    for (word, weight) in &words {
        push(&mut out, &mut buf, salt, b'w', &[word.as_bytes()], *weight);
    }
    let content = words.iter().filter(|(_, w)| *w > STOP);
    for (word, weight) in content {
        trigrams(&mut out, &mut buf, salt, word, *weight);
    }
    if out.is_empty() {
        push(&mut out, &mut buf, salt, b'e', &[], 1.0);
    }
    merge(out)
}

/// Sorts by key and merges repeats. A feature seen `k` times counts
/// `1 + ln k` times, not `k`: saying "scope 2" twice in one question does not make
/// it twice as much about scope 2.
fn merge(mut features: Vec<Feature>) -> Vec<Feature> {
    features.sort_unstable_by_key(|f| f.key);
    let mut out: Vec<Feature> = Vec::with_capacity(features.len());
    let mut count = 0usize;
    for f in features {
        match out.last_mut() {
            Some(last) if last.key == f.key => {
                last.weight += f.weight;
                count += 1;
            }
            _ => {
                damp(out.last_mut(), count);
                out.push(f);
                count = 1;
            }
        }
    }
    damp(out.last_mut(), count);
    out
}

fn damp(feature: Option<&mut Feature>, count: usize) {
    if let Some(f) = feature
        && count > 1
    {
        let k = count as f32;
        f.weight *= (1.0 + k.ln()) / k;
    }
}

fn trigrams(out: &mut Vec<Feature>, buf: &mut Vec<u8>, salt: u64, word: &str, weight: f32) {
    let chars: Vec<char> = std::iter::once('^')
        .chain(word.chars())
        .chain(std::iter::once('$'))
        .collect();
    if chars.len() < MIN_TRIGRAM_WORD + 2 {
        return;
    }
    let count = chars.len() - 2;
    let each = TRIGRAMS * weight / (count as f32).sqrt();
    let mut tmp = [0u8; 12];
    for window in chars.windows(3) {
        let mut len = 0;
        for c in window {
            len += c.encode_utf8(&mut tmp[len..]).len();
        }
        push(out, buf, salt, b't', &[&tmp[..len]], each);
    }
}

fn push(
    out: &mut Vec<Feature>,
    buf: &mut Vec<u8>,
    salt: u64,
    kind: u8,
    parts: &[&[u8]],
    weight: f32,
) {
    buf.clear();
    buf.push(kind);
    for p in parts {
        buf.extend_from_slice(p);
    }
    out.push(Feature {
        key: xxh3_64_with_seed(buf, salt),
        weight,
    });
}
