//! The cache threshold sweep: how the semantic cache would do at each threshold on
//! the prompt catalogs, with the same embedder the gateway uses.
//!
//! The catalogs' prompts (every paraphrase of every intent) arrive in a seeded
//! shuffled order against a cache of earlier misses, as at the gateway: a prompt
//! hits when its nearest cached prompt is at or above the threshold, and the hit is
//! true when that prompt has the same intent. Per threshold: precision (true hits ÷
//! hits), recall (true hits ÷ prompts whose intent was already cached) and F1.

use std::path::Path;

use gatebench_embed::Embedder;
use ndarray::Array2;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// One threshold's figures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    /// Threshold.
    pub threshold: f32,
    /// Hits.
    pub hits: u64,
    /// Hits served from the same intent.
    pub true_hits: u64,
    /// Prompts whose intent was in the cache when they arrived.
    pub answerable: u64,
    /// Prompts replayed.
    pub prompts: u64,
}

impl SweepRow {
    /// True hits ÷ hits (1 without hits).
    pub fn precision(&self) -> f64 {
        if self.hits == 0 {
            1.0
        } else {
            self.true_hits as f64 / self.hits as f64
        }
    }

    /// True hits ÷ answerable prompts.
    pub fn recall(&self) -> f64 {
        if self.answerable == 0 {
            0.0
        } else {
            self.true_hits as f64 / self.answerable as f64
        }
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// False hits ÷ hits.
    pub fn false_hit_rate(&self) -> f64 {
        1.0 - self.precision()
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    intent: Vec<Intent>,
}

#[derive(Deserialize)]
struct Intent {
    canonical: String,
    paraphrases: Vec<String>,
}

/// Finds `fixtures/prompts` above `start`.
pub fn find_catalogs(start: &Path) -> Option<std::path::PathBuf> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    start
        .ancestors()
        .map(|a| a.join("fixtures/prompts"))
        .find(|p| p.is_dir())
}

/// Sweeps thresholds from 0.50 to 0.99 over the catalogs `files` (the prompt
/// catalogs without documents), with the embedder of `model` at `dims`.
pub fn sweep(
    dir: &Path,
    files: &[&str],
    model: &str,
    dims: usize,
    seed: u64,
) -> Result<Vec<SweepRow>, String> {
    let mut prompts: Vec<(usize, String)> = Vec::new();
    let mut intents = 0usize;
    for file in files {
        let path = dir.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let catalog: CatalogFile =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for intent in catalog.intent {
            prompts.push((intents, intent.canonical));
            prompts.extend(intent.paraphrases.into_iter().map(|p| (intents, p)));
            intents += 1;
        }
    }
    if prompts.is_empty() {
        return Err("the catalogs hold no prompt".into());
    }
    let embedder = Embedder::new(model, dims);
    let mut matrix = Array2::<f32>::zeros((prompts.len(), dims));
    for (i, (_, text)) in prompts.iter().enumerate() {
        let mut row = matrix.row_mut(i);
        if let Some(slice) = row.as_slice_mut() {
            embedder.embed_into(text, slice);
        }
    }
    let similarity = matrix.dot(&matrix.t());
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));

    let mut rows = Vec::new();
    for step in 50..100u32 {
        let threshold = step as f32 / 100.0;
        let mut row = SweepRow {
            threshold,
            hits: 0,
            true_hits: 0,
            answerable: 0,
            prompts: prompts.len() as u64,
        };
        let mut cached: Vec<usize> = Vec::new();
        let mut cached_intents = vec![false; intents];
        for &i in &order {
            let intent = prompts[i].0;
            if cached_intents[intent] {
                row.answerable += 1;
            }
            let best = cached
                .iter()
                .map(|&j| (similarity[[i, j]], j))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                Some((s, j)) if s >= threshold => {
                    row.hits += 1;
                    if prompts[j].0 == intent {
                        row.true_hits += 1;
                    }
                }
                _ => {
                    cached.push(i);
                    cached_intents[intent] = true;
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_trades_recall_for_precision() {
        let dir = find_catalogs(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let rows = sweep(&dir, &["support.toml"], "text-embedding-3-small", 256, 7).unwrap();
        assert_eq!(rows.len(), 50);
        let (low, high) = (rows[0], rows[49]);
        assert!(
            low.hits >= high.hits,
            "a lower threshold hits at least as often"
        );
        assert!(high.precision() >= low.precision());
        let calibrated = rows
            .iter()
            .find(|r| (r.threshold - 0.71).abs() < 1e-6)
            .unwrap();
        assert!(
            calibrated.precision() > 0.95 && calibrated.recall() > 0.8,
            "{calibrated:?}"
        );
    }
}
