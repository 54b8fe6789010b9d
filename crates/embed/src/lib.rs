//! A deterministic text embedder.
//!
//! The OpenAI mock serves its vectors from `/v1/embeddings`, and the gateway's
//! semantic cache uses it in-process. It is a hashing embedder: a text becomes
//! weighted features (normalised words and character trigrams, see
//! [`features`]), each feature maps to a fixed pseudo-random dense ±1 direction,
//! and the text's vector is the weighted sum, normalised to unit length. Texts
//! that share most of their meaningful words are therefore close, and unrelated
//! texts are nearly orthogonal.
//!
//! Words are normalised before hashing: inflections meet on one stem, common
//! synonyms and phrases of the shipped domains meet on one concept, and words that
//! carry little meaning (articles, politeness, "tell me a story") weigh little.
//! Words also weigh less the more of the shipped intents use them (a static
//! table, `idf.rs`, generated from `fixtures/prompts/`), so the word that tells
//! two similar questions apart outweighs the words they share; words the table
//! never saw weigh fully. That is what lets a paraphrase land next to its
//! original while a different question that shares its small talk does not.
//!
//! A text that asks for a particular kind of answer (a story, a poem, facts, a
//! summary...) has its features twice, once plain and once conjoined with the
//! ask, so that a poem about a subject and facts about the same subject land
//! apart however many words they share, while two wordings of the same ask stay
//! as close as their words make them (see [`features`](mod@features)).
//!
//! Directions are generated dimension by dimension from a stream, so the first
//! `n` dimensions of a vector are, before normalisation, exactly the `n`-dimension
//! vector: truncating and renormalising (what OpenAI's `dimensions` parameter does)
//! keeps similarities close to the full vector's.

pub mod features;
mod figures;
mod idf;
mod lexicon;
mod polarity;
mod project;
mod tokens;
mod words;

#[cfg(test)]
mod tests;

use xxhash_rust::xxh3::xxh3_64_with_seed;

pub use features::{Feature, asks, features};
pub use figures::Figures;
pub use polarity::Polarity;

/// The cosine similarity at or above which the semantic cache treats two
/// prompts as the same question.
///
/// Measured by `crates/embed/tests/calibration.rs` (run it with `--nocapture` for
/// the full sweep) over the 1,740 prompts of the 348 intents in
/// `fixtures/prompts/`, the 110 of `hard-negatives.toml` (different asks about one
/// subject) and the 12 of `negations.toml` (questions plain and negated)
/// included, embedded at 1536 dimensions with `text-embedding-3-small`, a hit
/// also needing the two prompts to agree in negation ([`Polarity`], as the cache
/// does). It is the threshold with the best F1 among those where, both at it and
/// 0.02 below it, false hits stay at or under 1 % of hits and recall at or over
/// 90 %, in two views of the cache:
/// - each prompt against its nearest other prompt: precision 0.998 (false-hit
///   rate 0.17 %), recall 0.984;
/// - prompts replayed in four shuffled orders against a cache of earlier misses,
///   so that new questions meet only other questions: precision 0.991 (false-hit
///   rate 0.95 %), recall 0.964.
///
/// Before asks were told apart no threshold met these targets once the hard
/// negatives were counted; at this one, 83 % of lookups of one ask were served
/// another ask's answer about the same subject, and none are now
/// (`crates/embed/tests/hard_negatives.rs`). The negation check took the replay
/// view's false hits at 0.65 from 1.20 % to 0.61 % on the catalogs of before
/// (each removed one a prompt served the answer to a prompt of the other
/// polarity), for a recall of 0.978 instead of 0.986, so a lower threshold than
/// the 0.71 of before now meets the targets.
pub const CALIBRATED_THRESHOLD: f32 = 0.67;

/// Embeds texts into unit vectors of a fixed dimension.
#[derive(Clone, Debug)]
pub struct Embedder {
    dims: usize,
    salt: u64,
}

impl Embedder {
    /// An embedder for `model` (the model name salts the feature directions, so two
    /// models give unrelated vectors, as real models do) with `dims` dimensions.
    pub fn new(model: &str, dims: usize) -> Self {
        Embedder {
            dims: dims.max(1),
            salt: xxh3_64_with_seed(model.as_bytes(), 0x9e37_79b9),
        }
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The unit vector of `text`.
    pub fn embed(&self, text: &str) -> Vec<f32> {
        let mut out = vec![0.0; self.dims];
        self.embed_into(text, &mut out);
        out
    }

    /// Writes the unit vector of `text` into `out`.
    ///
    /// `out` should be `dims` long; any length works, and a shorter `out` receives
    /// exactly the truncated, renormalised longer vector.
    pub fn embed_into(&self, text: &str, out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        let mut all = self.salt;
        for f in features(text, self.salt) {
            project::add_direction(f.key, f.weight, out);
            all = all.rotate_left(7) ^ f.key;
        }
        if !normalise(out) {
            // with few dimensions the features can cancel out exactly; the text
            // still gets a direction of its own
            project::add_direction(all, 1.0, out);
            normalise(out);
        }
    }
}

/// Scales `v` to unit length; false, and `v` unchanged, for a zero vector.
///
/// The vector is first scaled by its largest component, so tiny components do
/// not underflow when squared.
pub fn normalise(v: &mut [f32]) -> bool {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return false;
    }
    let norm = v.iter().map(|x| (x / max) * (x / max)).sum::<f32>().sqrt() * max;
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// Cosine similarity of two vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
