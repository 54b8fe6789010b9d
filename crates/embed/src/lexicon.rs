//! The embedder's word knowledge, built once from the tables in `words.rs` and
//! the rarity table in `idf.rs`: each word's canonical stem, its weight, the
//! phrases read as one concept, and the words that name an ask.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::idf;
use crate::tokens::stem;
use crate::words::{
    ASKS, COMMON, COMMON_WORDS, PHRASES, SHAPE, SHAPE_WORDS, STOP, STOPWORDS, SYNONYMS,
};

/// No word that passed the stopword list counts less than this for being common.
const RARITY_FLOOR: f32 = 0.15;

/// Inverse document frequency over the shipped intents, scaled so that a word used
/// by one intent (or by none: any word of arbitrary text the tables never saw)
/// weighs 1.
fn rarity_weights() -> impl Iterator<Item = (&'static str, f32)> {
    let n = idf::DOCUMENTS as f32 + 1.0;
    let top = (n / 2.0).ln();
    idf::FREQUENCIES.iter().map(move |&(w, df)| {
        let idf = (n / (df as f32 + 1.0)).ln() / top;
        (w, idf.max(RARITY_FLOOR))
    })
}

/// A phrase's normalised words and what they are rewritten to.
type Rewrite = (Vec<String>, Vec<String>);

/// The normalised tables, built once.
pub struct Lexicon {
    canonical: Map<String>,
    /// Final weights of every word that does not weigh 1.
    weights: Map<f32>,
    phrases: Map<Vec<Rewrite>>,
    /// The ask each ask word names, by normalised word.
    asks: Map<&'static str>,
}

/// Maps keyed by words. These lookups run several times per word of every
/// embedded text, so they hash with one-shot xxh3 rather than SipHash (or xxh3's
/// streaming hasher, whose set-up costs more than a short word); the maps are
/// fixed once built, so chosen keys cannot flood them.
type Map<V> = HashMap<String, V, BuildHasherDefault<WordHasher>>;

/// Hashes a word in one call: `str` hashes as its bytes then a `0xff` marker.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Lexicon {
    /// The shared instance.
    pub fn get() -> &'static Lexicon {
        static LEXICON: OnceLock<Lexicon> = OnceLock::new();
        LEXICON.get_or_init(Lexicon::build)
    }

    fn build() -> Lexicon {
        let mut canonical = Map::default();
        for (form, target) in SYNONYMS {
            let target = stem(target);
            canonical.insert((*form).to_owned(), target.clone());
            canonical.entry(stem(form)).or_insert(target);
        }
        let mut lex = Lexicon {
            canonical,
            weights: Map::default(),
            phrases: Map::default(),
            asks: Map::default(),
        };
        // The lower of a word's listed weight and its rarity weight, except for
        // words that change a question's meaning, which keep theirs.
        for (word, rarity) in rarity_weights() {
            lex.weights.insert(word.to_owned(), rarity);
        }
        for (list, weight) in [(STOPWORDS, STOP), (COMMON_WORDS, COMMON)] {
            for w in list {
                let key = lex.normalise(w);
                let entry = lex.weights.entry(key).or_insert(weight);
                *entry = entry.min(weight);
            }
        }
        for w in SHAPE_WORDS {
            let key = lex.normalise(w);
            lex.weights.insert(key, SHAPE);
        }
        let mut phrases: Map<Vec<Rewrite>> = Map::default();
        for (phrase, replacement) in PHRASES {
            let from: Vec<String> = phrase.split(' ').map(|w| lex.normalise(w)).collect();
            let to: Vec<String> = replacement.split(' ').map(|w| lex.normalise(w)).collect();
            phrases.entry(from[0].clone()).or_default().push((from, to));
        }
        for list in phrases.values_mut() {
            list.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        }
        lex.phrases = phrases;
        for (word, ask) in ASKS {
            let key = lex.normalise(word);
            lex.asks.insert(key, ask);
        }
        lex
    }

    /// The canonical stem of one lowercase word.
    pub fn normalise(&self, word: &str) -> String {
        if let Some(c) = self.canonical.get(word) {
            return c.clone();
        }
        let s = stem(word);
        match self.canonical.get(&s) {
            Some(c) => c.clone(),
            None => s,
        }
    }

    /// How much a normalised word counts.
    pub fn weight(&self, word: &str) -> f32 {
        self.weights.get(word).copied().unwrap_or(1.0)
    }

    /// The ask a normalised word names, if it names one.
    pub fn ask(&self, word: &str) -> Option<&'static str> {
        self.asks.get(word).copied()
    }

    /// Rewrites known phrases in a sequence of normalised words.
    pub fn rewrite_phrases(&self, mut words: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(words.len());
        let mut i = 0;
        'outer: while i < words.len() {
            if let Some(candidates) = self.phrases.get(&words[i]) {
                for (from, to) in candidates {
                    if words[i..].starts_with(from) {
                        out.extend(to.iter().cloned());
                        i += from.len();
                        continue 'outer;
                    }
                }
            }
            out.push(std::mem::take(&mut words[i]));
            i += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stopword that is also a synonym of a content word would silence that
    /// content word everywhere (listing "must" as a stopword and as "require"
    /// once made every requirement weightless).
    #[test]
    fn stopwords_only_alias_stopwords() {
        let lex = Lexicon::get();
        for (form, target) in SYNONYMS {
            if STOPWORDS.contains(form) {
                assert_eq!(
                    lex.weight(&lex.normalise(target)),
                    STOP,
                    "{form} -> {target}"
                );
            }
        }
    }

    #[test]
    fn phrases_and_synonyms_meet() {
        let lex = Lexicon::get();
        let norm = |t: &str| lex.rewrite_phrases(t.split(' ').map(|w| lex.normalise(w)).collect());
        assert_eq!(norm("greenhouse gases"), norm("ghg"));
        assert_eq!(norm("two factor"), norm("2fa"));
        assert_eq!(norm("tale"), norm("stories"));
        assert_eq!(norm("how long"), norm("when"));
        assert_eq!(norm("children"), norm("kid"));
    }

    #[test]
    fn weights_order_stopwords_below_common_below_rare() {
        let lex = Lexicon::get();
        let w = |word: &str| lex.weight(&lex.normalise(word));
        assert!(w("the") < w("bedtime"));
        assert!(w("bedtime") < w("dragon"));
        assert_eq!(w("zanzibar"), 1.0);
        assert_eq!(w("not"), SHAPE);
    }
}
