//! The vector index of one partition.
//!
//! Vectors live in one ndarray matrix (a row per entry) and are the ground truth:
//! every similarity the index reports is an exact f32 cosine from that matrix.
//! Scanning the matrix costs too much at scale (100 000 × 1536 × 4 B = 614 MB, far
//! more than memory bandwidth delivers in a millisecond), so each row also has a
//! small binary code ([`Rotation`]) and a search goes in three steps:
//!
//! 1. scan the first `coarse_bits` of every code (16 bytes per entry at 128 bits)
//!    for the `coarse_shortlist` entries nearest in Hamming distance, skipping
//!    codes so far away that their cosine cannot plausibly reach the threshold
//!    (the bound is the distance expected at the threshold plus `margin_sigmas`
//!    standard deviations);
//! 2. rank those by their full `code_bits` code and keep the `shortlist` nearest;
//! 3. re-rank that shortlist, nearest code first, by exact cosine from the matrix,
//!    stopping once the codes left are too far to beat the best match so far.
//!
//! The scan is the only step whose cost grows with the partition, and on x86-64
//! without the POPCNT instruction (the default target) a popcount costs about a
//! dozen instructions, so it reads as few bits as recall allows; steps 2 and 3
//! touch a bounded number of entries.
//!
//! The index never reports a hit that exhaustive search would not: every
//! similarity compared with the threshold is exact, so when exhaustive search
//! finds nothing at or above it, neither does the index. What
//! the codes can cost is a miss (or a second-best entry) when the true best entry
//! does not make the shortlist; `examples/lookup_report.rs` measures how often.
//!
//! Tiny partitions (up to `exact_below` entries) are searched exhaustively.
//! Ties are broken by the lower [`EntryId`], in both paths, so the index and an
//! exact search agree whenever the true best entry makes the shortlist.

use std::collections::HashMap;
use std::f32::consts::PI;
use std::sync::Arc;

use ndarray::{Array2, ArrayView1, Axis};

use crate::rotation::Rotation;
use crate::shortlist::{refine, shortlist};

/// Identifies an entry within an index (chosen by the caller, unique per index).
pub type EntryId = u64;

/// Tuning of the approximate search.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexConfig {
    /// Bits of each entry's binary code (a multiple of 64).
    pub code_bits: usize,
    /// Leading bits of the code read by the scan over all entries (a multiple of
    /// 64, at most `code_bits`).
    pub coarse_bits: usize,
    /// How many candidates the scan passes on to ranking by the full code.
    pub coarse_shortlist: usize,
    /// How many candidates the full code passes on to exact re-ranking.
    pub shortlist: usize,
    /// Partitions with at most this many entries are searched exhaustively
    /// (reading every row costs about 0.3 µs per entry once the matrix outgrows
    /// the CPU caches, so the codes pay off from a few dozen entries).
    pub exact_below: usize,
    /// Width of the Hamming bound above the distance expected at the threshold,
    /// in standard deviations of that distance.
    pub margin_sigmas: f32,
    /// Seed of the rotation (indexes that share codes must share it).
    pub seed: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            code_bits: 256,
            coarse_bits: 128,
            coarse_shortlist: 512,
            shortlist: 64,
            exact_below: 64,
            margin_sigmas: 6.0,
            seed: 0x6761_7465,
        }
    }
}

/// Why a vector was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum IndexError {
    /// The vector does not have the index's number of dimensions.
    #[error("vector has {got} dimensions, the index holds {expected}")]
    Dimensions {
        /// The index's dimensions.
        expected: usize,
        /// The vector's.
        got: usize,
    },
    /// The vector is zero or has a NaN or infinite component.
    #[error("vector is zero or not finite")]
    NotUnitizable,
    /// The index holds as many entries as its slot numbers can address.
    #[error("index is full ({0} entries)")]
    Full(usize),
}

/// The unit vectors of one partition, searchable by cosine similarity.
#[derive(Clone, Debug)]
pub struct VectorIndex {
    config: IndexConfig,
    rotation: Arc<Rotation>,
    /// Row `slot` is the unit vector of `ids[slot]`.
    vectors: Array2<f32>,
    /// The full code of each slot, `rotation.words()` u64s per slot, back to back.
    codes: Vec<u64>,
    /// The leading `coarse_words` words of each code, back to back, so the scan
    /// over all entries reads only those.
    coarse: Vec<u64>,
    coarse_words: usize,
    ids: Vec<EntryId>,
    slots: HashMap<EntryId, usize>,
}

impl VectorIndex {
    /// An empty index of `dims`-dimensional vectors with the default configuration.
    pub fn new(dims: usize) -> Self {
        Self::with_config(dims, IndexConfig::default())
    }

    /// An empty index with `config`.
    pub fn with_config(dims: usize, config: IndexConfig) -> Self {
        let rotation = Arc::new(Rotation::new(dims, config.code_bits, config.seed));
        Self::with_rotation(rotation, config)
    }

    /// An empty index using a rotation shared with other indexes of the same
    /// dimensions (it is the only per-dimension state, about 24 KB at 1536 dims).
    pub fn with_rotation(rotation: Arc<Rotation>, config: IndexConfig) -> Self {
        let coarse_words = (config.coarse_bits / 64).clamp(1, rotation.words());
        VectorIndex {
            vectors: Array2::zeros((0, rotation.dims())),
            rotation,
            config,
            codes: Vec::new(),
            coarse: Vec::new(),
            coarse_words,
            ids: Vec::new(),
            slots: HashMap::new(),
        }
    }

    /// Dimensions of the vectors.
    pub fn dims(&self) -> usize {
        self.rotation.dims()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `id` is in the index.
    pub fn contains(&self, id: EntryId) -> bool {
        self.slots.contains_key(&id)
    }

    /// Bytes held per entry by the index (vector, code, id and its slot in the map),
    /// excluding allocator slack.
    pub fn bytes_per_entry(&self) -> usize {
        let map_entry = size_of::<EntryId>() + size_of::<usize>() + 1;
        self.dims() * size_of::<f32>()
            + (self.rotation.words() + self.coarse_words) * size_of::<u64>()
            + size_of::<EntryId>()
            + map_entry
    }

    /// Adds `vector` (normalised here) under `id`, replacing any vector `id` had.
    pub fn insert(&mut self, id: EntryId, vector: &[f32]) -> Result<(), IndexError> {
        let unit = self.unit(vector)?;
        if self.ids.len() >= u32::MAX as usize && !self.slots.contains_key(&id) {
            return Err(IndexError::Full(self.ids.len()));
        }
        self.remove(id);
        let code = self.rotation.code(&unit);
        self.push_row(&unit);
        self.codes.extend_from_slice(&code);
        self.coarse.extend_from_slice(&code[..self.coarse_words]);
        self.slots.insert(id, self.ids.len());
        self.ids.push(id);
        Ok(())
    }

    /// Removes `id`; returns whether it was there. The last row moves into the
    /// freed slot, so removal costs one row copy whatever the size.
    pub fn remove(&mut self, id: EntryId) -> bool {
        let Some(slot) = self.slots.remove(&id) else {
            return false;
        };
        let last = self.ids.len() - 1;
        if slot != last {
            let moved = self.ids[last];
            self.ids[slot] = moved;
            self.slots.insert(moved, slot);
            let (mut rows, tail) = self.vectors.view_mut().split_at(Axis(0), last);
            rows.row_mut(slot).assign(&tail.row(0));
            let words = self.rotation.words();
            self.codes
                .copy_within(last * words..(last + 1) * words, slot * words);
            let words = self.coarse_words;
            self.coarse
                .copy_within(last * words..(last + 1) * words, slot * words);
        }
        self.ids.truncate(last);
        self.codes.truncate(last * self.rotation.words());
        self.coarse.truncate(last * self.coarse_words);
        self.truncate_rows(last);
        true
    }

    /// The entry most similar to `query` with cosine similarity at or above
    /// `threshold`, and that similarity. A query of other dimensions, zero or not
    /// finite, matches nothing.
    pub fn search(&self, query: &[f32], threshold: f32) -> Option<(EntryId, f32)> {
        let unit = self.unit(query).ok()?;
        if self.len() <= self.config.exact_below {
            return self.best_of(0..self.len(), &unit, threshold);
        }
        let code = self.rotation.code(&unit);
        let coarse = &code[..self.coarse_words];
        let bound = self.hamming_bound(threshold, self.coarse_words * 64);
        let limit = self.config.coarse_shortlist;
        let mut candidates = shortlist(&self.coarse, coarse, bound, limit);
        if self.coarse_words < code.len() {
            let bound = self.hamming_bound(threshold, self.rotation.bits());
            let limit = self.config.shortlist;
            candidates = refine(&self.codes, &code, &candidates, bound, limit);
        }
        self.rerank(&candidates, &unit, threshold)
    }

    /// The best of `candidates` (full-code distance and slot, nearest first) by
    /// exact cosine. Once a match of similarity s is found, a candidate whose code
    /// is farther than a vector at similarity s would plausibly be cannot beat it,
    /// and neither can any after it: the re-ranking stops there. A close match
    /// thus costs a few rows of the matrix, not the whole shortlist.
    fn rerank(
        &self,
        candidates: &[(u32, u32)],
        query: &[f32],
        threshold: f32,
    ) -> Option<(EntryId, f32)> {
        let bits = self.rotation.bits();
        let mut bound = self.hamming_bound(threshold, bits);
        let mut best: Option<(EntryId, f32)> = None;
        let query = ArrayView1::from(query);
        for &(distance, slot) in candidates {
            if distance > bound {
                break;
            }
            let slot = slot as usize;
            let similarity = self.vectors.row(slot).dot(&query);
            let id = self.ids[slot];
            if similarity >= threshold && better(id, similarity, best) {
                best = Some((id, similarity));
                bound = self.hamming_bound(similarity, bits);
            }
        }
        best.map(|(id, s)| (id, s.clamp(-1.0, 1.0)))
    }

    /// Exhaustive search: the reference the approximate search is measured against.
    pub fn exact_search(&self, query: &[f32], threshold: f32) -> Option<(EntryId, f32)> {
        let unit = self.unit(query).ok()?;
        self.best_of(0..self.len(), &unit, threshold)
    }

    fn best_of(
        &self,
        slots: impl Iterator<Item = usize>,
        query: &[f32],
        threshold: f32,
    ) -> Option<(EntryId, f32)> {
        let query = ArrayView1::from(query);
        let mut best: Option<(EntryId, f32)> = None;
        for slot in slots {
            let similarity = self.vectors.row(slot).dot(&query);
            let id = self.ids[slot];
            if similarity >= threshold && better(id, similarity, best) {
                best = Some((id, similarity));
            }
        }
        best.map(|(id, s)| (id, s.clamp(-1.0, 1.0)))
    }

    /// Codes farther than this from the query's are skipped: a vector at exactly
    /// the threshold angle θ differs in each bit with probability θ/π, so its
    /// distance is Binomial(bits, θ/π); allowing `margin_sigmas` standard deviations
    /// above the mean loses such a vector with negligible probability.
    fn hamming_bound(&self, threshold: f32, bits: usize) -> u32 {
        let bits = bits as f32;
        let p = threshold.clamp(-1.0, 1.0).acos() / PI;
        // a floor on p keeps a margin when the threshold is at or near 1
        let sigma = (bits * p.max(0.02) * (1.0 - p).max(0.02)).sqrt();
        (bits * p + self.config.margin_sigmas * sigma)
            .ceil()
            .min(bits) as u32
    }

    fn unit(&self, vector: &[f32]) -> Result<Vec<f32>, IndexError> {
        if vector.len() != self.dims() {
            return Err(IndexError::Dimensions {
                expected: self.dims(),
                got: vector.len(),
            });
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Err(IndexError::NotUnitizable);
        }
        Ok(vector.iter().map(|x| x / norm).collect())
    }

    /// Appends a row without copying the matrix: the backing `Vec` grows in place
    /// (amortised, and large reallocations are remapped rather than copied).
    fn push_row(&mut self, row: &[f32]) {
        let dims = self.dims();
        let rows = self.ids.len();
        let mut data = self.take_data();
        data.extend_from_slice(row);
        self.vectors = from_rows(data, rows + 1, dims);
    }

    fn truncate_rows(&mut self, rows: usize) {
        let dims = self.dims();
        let mut data = self.take_data();
        data.truncate(rows * dims);
        if data.capacity() > 2 * data.len() + 64 * dims {
            // give memory back after large evictions, but not on every removal
            data.shrink_to(data.len() + data.len() / 2);
        }
        self.vectors = from_rows(data, rows, dims);
    }

    fn take_data(&mut self) -> Vec<f32> {
        let dims = self.dims();
        let matrix = std::mem::replace(&mut self.vectors, Array2::zeros((0, dims)));
        let (data, offset) = matrix.into_raw_vec_and_offset();
        // a matrix built by `from_rows` is standard layout starting at its buffer
        debug_assert!(offset.unwrap_or(0) == 0);
        data
    }
}

/// Whether (`id`, `similarity`) beats `best`: higher similarity, then lower id.
fn better(id: EntryId, similarity: f32, best: Option<(EntryId, f32)>) -> bool {
    match best {
        None => true,
        Some((best_id, best_sim)) => {
            similarity > best_sim || (similarity == best_sim && id < best_id)
        }
    }
}

fn from_rows(data: Vec<f32>, rows: usize, dims: usize) -> Array2<f32> {
    match Array2::from_shape_vec((rows, dims), data) {
        Ok(matrix) => matrix,
        // the index keeps data.len() == rows * dims at every step
        Err(e) => unreachable!("index matrix shape out of sync: {e}"),
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
