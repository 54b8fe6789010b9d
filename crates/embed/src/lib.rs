//! A deterministic text embedder.
//!
//! The OpenAI mock serves its vectors from `/v1/embeddings`, and the gateway's
//! semantic cache uses it in-process. It is a hashing embedder: each feature of a
//! text (its words, word pairs and character trigrams) maps to a fixed pseudo-random
//! dense direction, and the text's vector is the weighted sum, normalised to unit
//! length. Texts that share most of their features are therefore close, and
//! unrelated texts are nearly orthogonal.

use xxhash_rust::xxh3::xxh3_64_with_seed;

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

    /// Writes the unit vector of `text` into `out` (whose length must be `dims`).
    pub fn embed_into(&self, text: &str, out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        let words = words(text);
        for word in &words {
            self.add_feature(word.as_bytes(), weight(word), out);
        }
        for pair in words.windows(2) {
            let key = format!("{} {}", pair[0], pair[1]);
            self.add_feature(key.as_bytes(), 0.5, out);
        }
        if words.is_empty() {
            self.add_feature(b"\0empty", 1.0, out);
        }
        normalise(out);
    }

    fn add_feature(&self, feature: &[u8], weight: f32, out: &mut [f32]) {
        let mut state = xxh3_64_with_seed(feature, self.salt);
        for chunk in out.chunks_mut(64) {
            let bits = splitmix(&mut state);
            for (i, x) in chunk.iter_mut().enumerate() {
                *x += if bits >> i & 1 == 1 { weight } else { -weight };
            }
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "be", "to", "of", "and", "or", "in", "on", "for", "with",
    "me", "my", "you", "your", "i", "it", "what", "how", "can", "do", "does", "please", "about",
    "that", "this",
];

fn weight(word: &str) -> f32 {
    if STOPWORDS.contains(&word) { 0.2 } else { 1.0 }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
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
