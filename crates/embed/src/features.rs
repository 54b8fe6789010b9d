//! Turning a text into weighted features: its normalised words and the
//! character trigrams of its content words, and, when the text names an ask,
//! the same features again conjoined with the ask.
//!
//! Words carry the meaning; trigrams give typos and unforeseen word forms a
//! partial match instead of none. Pairs of neighbouring words were tried and
//! left out: on the catalogs they lowered paraphrase similarity (people reorder
//! words) more than they separated different questions.
//!
//! The ask (a story, a poem, facts, a summary... see `ASKS` in `words.rs`) is a
//! word or two in a sentence about something else, so as a word it barely moves
//! the vector: explaining to a child how a city pigeon loses a telescope, listing
//! three facts about it, writing a poem or telling a bedtime story about it came
//! out 0.62 to 0.97 similar, and a cache served one's answer to the other.
//! Weighing the ask words up would not help: it would pull every poem towards
//! every other poem. Instead a text that names asks has each feature twice, once
//! plain and once conjoined with each ask (a feature of its own, keyed by the ask
//! and the plain key), the conjoined copies carrying `ASK_SHARE` of the vector. Two texts
//! with the same asks match on both halves, so their similarity is what it would
//! be without asks; with different asks only the plain half matches, and their
//! similarity is scaled by `1 − ASK_SHARE`; against a text naming no ask, by
//! `√(1 − ASK_SHARE)`. Texts that name no ask (most questions) get exactly the
//! vectors they had before asks existed; those that do cost a second set of
//! features per ask to embed (a story request takes about 1.6 times as long).

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::lexicon::Lexicon;
use crate::tokens::split_words;
use crate::words::STOP;

/// Total weight of a word's trigrams, relative to the word.
const TRIGRAMS: f32 = 0.3;
/// Words shorter than this get no trigrams: theirs would only repeat the word.
const MIN_TRIGRAM_WORD: usize = 4;
/// Share of the squared length of a vector that its ask-conjoined features carry,
/// when the text names an ask. The higher, the further apart different asks about
/// one subject land (`√(1 − share)` and `1 − share` of their similarity without
/// asks, 0.63 and 0.4 here), and the more a paraphrase loses when it names an ask
/// its original leaves implicit ("tell me about a dragon who…" against "tell me a
/// story about a dragon who…"). 0.6 keeps the closest different asks of
/// `fixtures/prompts/hard-negatives.toml`, which differ in nothing but the ask,
/// below the calibrated threshold.
const ASK_SHARE: f32 = 0.6;

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

/// The asks `text` names (see `ASKS` in `words.rs`), sorted, without repeats;
/// empty for a text that asks for the default, an explanation or an answer.
pub fn asks(text: &str) -> Vec<&'static str> {
    asks_of(normalised_words(text).iter().map(String::as_str))
}

fn asks_of<'a>(words: impl Iterator<Item = &'a str>) -> Vec<&'static str> {
    let lex = Lexicon::get();
    let mut asks: Vec<&'static str> = words.filter_map(|w| lex.ask(w)).collect();
    asks.sort_unstable();
    asks.dedup();
    asks
}

/// The features of `text` under `salt`, sorted by key, duplicates summed.
pub fn features(text: &str, salt: u64) -> Vec<Feature> {
    let words = weighted_words(text);
    let asks = asks_of(words.iter().map(|(w, _)| w.as_str()));
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
    let plain = merge(out);
    if asks.is_empty() {
        return plain;
    }
    conjoin(plain, &asks, &mut buf, salt)
}

/// `plain` followed by a copy of every feature per ask, keyed by the ask and the
/// feature, the copies together carrying `ASK_SHARE` of the squared length.
fn conjoin(plain: Vec<Feature>, asks: &[&str], buf: &mut Vec<u8>, salt: u64) -> Vec<Feature> {
    // features are near-orthogonal, so squared lengths add: the plain half keeps
    // 1, each of k copies gets r² / k, and r² / (1 + r²) is the share
    let scale = (ASK_SHARE / (1.0 - ASK_SHARE) / asks.len() as f32).sqrt();
    let mut out = Vec::with_capacity(plain.len() * (1 + asks.len()));
    for ask in asks {
        for f in &plain {
            let key = f.key.to_le_bytes();
            push(
                &mut out,
                buf,
                salt,
                b'a',
                &[ask.as_bytes(), &key],
                scale * f.weight,
            );
        }
    }
    out.extend(plain);
    out.sort_unstable_by_key(|f| f.key);
    out
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
