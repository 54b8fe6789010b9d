//! Loading the prompt catalogs in `fixtures/prompts/` for the embedder's tests.
//!
//! The format mirrors the one the driver reads: a domain, a description and
//! `[[intent]]` tables with an id, a canonical prompt, paraphrases and an optional
//! system prompt. Unknown fields are errors here too, so a catalog that the
//! driver would reject fails these tests first.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gatebench_embed::{Figures, Polarity};
use serde::Deserialize;

/// The catalog files, in the order they are reported.
pub const CATALOGS: &[&str] = &[
    "stories",
    "esg",
    "support",
    "long-context",
    HARD_NEGATIVES,
    NEGATIONS,
];

/// The catalog of different asks about one subject: a test of the embedder, not a
/// sample of traffic, so the word-rarity table leaves it out.
pub const HARD_NEGATIVES: &str = "hard-negatives";

/// The catalog of questions asked plain and negated: a test of the cache's
/// negation check, left out of the word-rarity table for the same reason.
pub const NEGATIONS: &str = "negations";

/// One catalog file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub domain: String,
    pub description: String,
    pub intent: Vec<Intent>,
}

/// One intent: a question and its rewordings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub id: String,
    pub canonical: String,
    pub paraphrases: Vec<String>,
    #[serde(default)]
    pub system: Option<String>,
}

impl Intent {
    /// The canonical prompt followed by the paraphrases.
    pub fn prompts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.canonical.as_str()).chain(self.paraphrases.iter().map(String::as_str))
    }
}

/// One prompt with what the cache and the judge need to know about it.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub text: String,
    pub intent: usize,
    pub domain: String,
    /// Prompts are only compared within a partition: the cache partitions by
    /// system prompt, so long-context questions about one document meet only each
    /// other. Numbered in order of first appearance; 0 is "no system prompt".
    pub partition: usize,
    /// Whether it is negated: the cache never serves one polarity to the other.
    pub polarity: Polarity,
    /// The numbers it names: the cache never serves a prompt of other numbers.
    pub figures: Figures,
}

impl Prompt {
    /// Whether the cache may serve one of the two prompts the other's answer,
    /// similarity aside: they agree in negation and in the numbers they name.
    pub fn agrees(&self, other: &Prompt) -> bool {
        !self.polarity.opposes(other.polarity) && !self.figures.differ(&other.figures)
    }
}

/// The workspace's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Reads and parses every catalog, panicking with the file name on error.
pub fn load_catalogs() -> Vec<Catalog> {
    CATALOGS.iter().map(|name| load_catalog(name)).collect()
}

/// Reads and parses `fixtures/prompts/{name}.toml`, panicking with the file name
/// on error.
pub fn load_catalog(name: &str) -> Catalog {
    let path = fixtures().join("prompts").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Every prompt of every catalog, with its intent numbered across catalogs.
pub fn flatten(catalogs: &[Catalog]) -> (Vec<Prompt>, Vec<String>) {
    let mut prompts = Vec::new();
    let mut ids = Vec::new();
    let mut systems: Vec<Option<&str>> = vec![None];
    for catalog in catalogs {
        for intent in &catalog.intent {
            let n = ids.len();
            ids.push(intent.id.clone());
            let system = intent.system.as_deref();
            let partition = match systems.iter().position(|s| *s == system) {
                Some(p) => p,
                None => {
                    systems.push(system);
                    systems.len() - 1
                }
            };
            for text in intent.prompts() {
                prompts.push(Prompt {
                    text: text.to_owned(),
                    intent: n,
                    domain: catalog.domain.clone(),
                    partition,
                    polarity: Polarity::of(text),
                    figures: Figures::of(text),
                });
            }
        }
    }
    (prompts, ids)
}

/// Tokens of a text, estimated as words × 1.3 (no tokenizer in this crate).
pub fn estimated_tokens(text: &str) -> usize {
    (text.split_whitespace().count() as f64 * 1.3) as usize
}

pub mod sweep;
