//! Threshold sweeps over a similarity matrix, in two views of the cache.
//!
//! *Nearest*: each prompt's nearest other prompt in its partition is a hit when at
//! least the threshold, and a true hit when it has the same intent. Every prompt has
//! paraphrases, so recall is true hits / prompts.
//!
//! *Replay*: prompts arrive one by one in a fixed shuffled order; each looks up the
//! prompts that missed before it (the cache stores misses only), hits when the
//! nearest is at least the threshold, and is stored when it misses. The first
//! prompt of each intent can only hit falsely, as a new question does in real
//! traffic, so this view shows whether different questions miss. Recall is true
//! hits / prompts whose intent was already cached.

use super::Prompt;

/// One threshold's outcome.
#[derive(Debug, Clone, Copy, Default)]
pub struct Row {
    pub threshold: f32,
    pub hits: usize,
    pub true_hits: usize,
    /// Prompts that could have hit: every prompt (nearest view) or those whose
    /// intent was cached when they arrived (replay view).
    pub answerable: usize,
}

impl Row {
    pub fn false_hits(&self) -> usize {
        self.hits - self.true_hits
    }

    pub fn precision(&self) -> f64 {
        if self.hits == 0 {
            1.0
        } else {
            self.true_hits as f64 / self.hits as f64
        }
    }

    pub fn false_hit_rate(&self) -> f64 {
        1.0 - self.precision()
    }

    pub fn recall(&self) -> f64 {
        if self.answerable == 0 {
            0.0
        } else {
            self.true_hits as f64 / self.answerable as f64
        }
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    pub fn meets(&self, max_false_hit_rate: f64, min_recall: f64) -> bool {
        self.false_hit_rate() <= max_false_hit_rate && self.recall() >= min_recall
    }
}

/// Pairwise similarities of unit vectors, row-major `n × n`.
pub struct Matrix {
    pub n: usize,
    pub sims: Vec<f32>,
}

impl Matrix {
    pub fn new(vectors: &[Vec<f32>]) -> Matrix {
        let n = vectors.len();
        let mut sims = vec![1.0f32; n * n];
        for i in 0..n {
            for j in (i + 1)..n {
                let s = dot(&vectors[i], &vectors[j]);
                sims[i * n + j] = s;
                sims[j * n + i] = s;
            }
        }
        Matrix { n, sims }
    }

    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.sims[i * self.n + j]
    }

    /// Each prompt's nearest other prompt in its partition, among those `accept`s.
    pub fn nearest(
        &self,
        prompts: &[Prompt],
        accept: impl Fn(usize, usize) -> bool,
    ) -> Vec<Option<(usize, f32)>> {
        (0..self.n)
            .map(|i| {
                (0..self.n)
                    .filter(|&j| {
                        j != i && prompts[j].partition == prompts[i].partition && accept(i, j)
                    })
                    .map(|j| (j, self.get(i, j)))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
            })
            .collect()
    }
}

/// Dot product written as a plain indexed loop: tests run unoptimised, where
/// iterator adaptors cost a call per element and this matrix has a billion.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let mut acc = [0.0f32; 4];
    let mut k = 0;
    while k + 4 <= n {
        acc[0] += a[k] * b[k];
        acc[1] += a[k + 1] * b[k + 1];
        acc[2] += a[k + 2] * b[k + 2];
        acc[3] += a[k + 3] * b[k + 3];
        k += 4;
    }
    while k < n {
        acc[0] += a[k] * b[k];
        k += 1;
    }
    acc[0] + acc[1] + acc[2] + acc[3]
}

/// The nearest view at `threshold`, from precomputed nearest neighbours.
pub fn nearest_row(prompts: &[Prompt], nn: &[Option<(usize, f32)>], threshold: f32) -> Row {
    nearest_row_of(prompts, nn, threshold, |_| true)
}

/// The nearest view at `threshold`, counting only the prompts `counted` accepts
/// (their neighbours may be any prompt).
pub fn nearest_row_of(
    prompts: &[Prompt],
    nn: &[Option<(usize, f32)>],
    threshold: f32,
    counted: impl Fn(usize) -> bool,
) -> Row {
    let mut row = Row {
        threshold,
        hits: 0,
        true_hits: 0,
        answerable: 0,
    };
    for (i, found) in nn.iter().enumerate() {
        if !counted(i) {
            continue;
        }
        row.answerable += 1;
        // the cache refuses an entry of the other polarity or of other numbers,
        // as a miss
        if let Some((j, s)) = *found
            && s >= threshold
            && prompts[i].agrees(&prompts[j])
        {
            row.hits += 1;
            if prompts[i].intent == prompts[j].intent {
                row.true_hits += 1;
            }
        }
    }
    row
}

/// The replay view at `threshold`, prompts arriving in `order`.
pub fn replay_row(prompts: &[Prompt], m: &Matrix, order: &[usize], threshold: f32) -> Row {
    replay_row_of(prompts, m, order, threshold, |_| true)
}

/// The replay view at `threshold`, prompts arriving in `order`, counting only the
/// lookups of prompts `counted` accepts (every prompt still looks up and is stored).
pub fn replay_row_of(
    prompts: &[Prompt],
    m: &Matrix,
    order: &[usize],
    threshold: f32,
    counted: impl Fn(usize) -> bool,
) -> Row {
    let mut row = Row {
        threshold,
        hits: 0,
        true_hits: 0,
        answerable: 0,
    };
    let mut cached: Vec<usize> = Vec::new();
    for &q in order {
        let counts = counted(q);
        if counts
            && cached
                .iter()
                .any(|&c| prompts[c].intent == prompts[q].intent)
        {
            row.answerable += 1;
        }
        let best = cached
            .iter()
            .filter(|&&c| prompts[c].partition == prompts[q].partition)
            .map(|&c| (c, m.get(q, c)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((c, s)) if s >= threshold && prompts[c].agrees(&prompts[q]) => {
                if counts {
                    row.hits += 1;
                    if prompts[c].intent == prompts[q].intent {
                        row.true_hits += 1;
                    }
                }
            }
            _ => cached.push(q),
        }
    }
    row
}

/// A fixed pseudo-random order of `0..n` (xorshift64*, Fisher–Yates), so the replay
/// is the same on every machine.
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed | 1;
    for i in (1..n).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        order.swap(i, (r % (i as u64 + 1)) as usize);
    }
    order
}

/// `p5 / p50 / p95 / max` of a sample, as one line.
pub fn percentiles(mut v: Vec<f32>) -> String {
    if v.is_empty() {
        return "n=0".to_owned();
    }
    v.sort_by(f32::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!(
        "n={:>7}  p5={:.3}  p50={:.3}  p95={:.3}  max={:.3}",
        v.len(),
        at(0.05),
        at(0.50),
        at(0.95),
        v[v.len() - 1]
    )
}

/// A query, the prompt it was matched against, and their similarity.
pub type Pair = (usize, usize, f32);

/// What went wrong in a replay at `threshold`: false hits as (query, served) and
/// misses of a cached intent as (query, nearest cached paraphrase), with similarities.
pub fn replay_failures(
    prompts: &[Prompt],
    m: &Matrix,
    order: &[usize],
    threshold: f32,
) -> (Vec<Pair>, Vec<Pair>) {
    let (mut false_hits, mut misses) = (Vec::new(), Vec::new());
    let mut cached: Vec<usize> = Vec::new();
    for &q in order {
        let same_part = |c: &&usize| prompts[**c].partition == prompts[q].partition;
        let best = cached
            .iter()
            .filter(same_part)
            .map(|&c| (c, m.get(q, c)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let sibling = cached
            .iter()
            .filter(|&&c| prompts[c].intent == prompts[q].intent)
            .map(|&c| (c, m.get(q, c)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((c, s)) if s >= threshold => {
                if prompts[c].intent != prompts[q].intent {
                    false_hits.push((q, c, s));
                }
            }
            _ => {
                if let Some((c, s)) = sibling {
                    misses.push((q, c, s));
                }
                cached.push(q);
            }
        }
    }
    (false_hits, misses)
}
