//! Which kinds of billable call the run verified: an entry that is exact proves
//! little if the workload never exercised the hard cases (cached prompt tokens,
//! streams without usage, cache hits, unknown models, fallbacks, half-price
//! speech). Categories come from the entry and from the request that caused it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gatebench_driver::{RequestRecord, ScenarioFile};
use serde::Serialize;

use super::entry::Entry;
use super::prices::PriceTable;

/// Every category, in report order.
pub const CATEGORIES: [&str; 14] = [
    "chat",
    "stream with usage",
    "stream without usage",
    "provider-cached tokens",
    "cache hits",
    "unknown model",
    "fallbacks",
    "embeddings",
    "tts full price",
    "tts half price",
    "personality",
    "webvtt",
    "failed",
    "estimated",
];

/// What a scenario's request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Driver kind name (`chat`, `tts_timestamps`...).
    pub kind: String,
    /// A streamed chat.
    pub stream: bool,
    /// A streamed chat that asked for the usage chunk.
    pub include_usage: bool,
    /// The model asked for (the driver's default filled in).
    pub model: Option<String>,
    /// The gateway may serve it from its cache (no `x-gatebench-cache: no-cache`).
    pub cacheable: bool,
}

/// Shapes by (scenario, request) name, as the driver's records name them.
pub type Shapes = HashMap<(String, String), Shape>;

/// The shapes of every request of a scenario file.
pub fn shapes(file: &ScenarioFile) -> Shapes {
    let mut out = Shapes::new();
    for scenario in &file.scenarios {
        for request in &scenario.requests {
            let spec = &request.spec;
            let no_cache = spec.headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("x-gatebench-cache")
                    && value.to_ascii_lowercase().contains("no-cache")
            });
            let shape = Shape {
                kind: spec.kind.name().to_owned(),
                stream: spec.stream,
                include_usage: spec.include_usage,
                model: spec.model.clone(),
                cacheable: !no_cache,
            };
            out.insert((scenario.name.clone(), spec.name.clone()), shape);
        }
    }
    out
}

/// The shape of the request behind `record`.
pub fn shape_of<'a>(shapes: &'a Shapes, record: &RequestRecord) -> Option<&'a Shape> {
    shapes.get(&(record.scenario.clone(), record.request.clone()))
}

/// ElevenLabs bills Flash and Turbo models half a credit per character; the
/// halving is in the billed count, the price per billed character is the same.
pub fn half_price_tts(model: &str) -> bool {
    model.contains("flash") || model.contains("turbo")
}

/// The categories one entry belongs to.
pub fn categories(entry: &Entry, shape: Option<&Shape>, table: &PriceTable) -> Vec<&'static str> {
    let mut out = Vec::new();
    match entry.kind.as_str() {
        "chat" => out.push(match shape {
            Some(s) if s.stream && s.include_usage => "stream with usage",
            Some(s) if s.stream => "stream without usage",
            _ => "chat",
        }),
        "embeddings" => out.push("embeddings"),
        "tts" => out.push(if half_price_tts(&entry.model) {
            "tts half price"
        } else {
            "tts full price"
        }),
        "personality" => out.push("personality"),
        "webvtt" => out.push("webvtt"),
        _ => {}
    }
    if entry.usage.cached_tokens > 0 {
        out.push("provider-cached tokens");
    }
    if entry.is_hit() {
        out.push("cache hits");
    }
    if entry.flags.priced_by_fallback || table.get(&entry.model).is_none() {
        out.push("unknown model");
    }
    if let Some(asked) = shape.and_then(|s| s.model.as_deref()) {
        let other_provider = table
            .get(asked)
            .is_some_and(|row| row.provider != entry.provider);
        if asked != entry.model || other_provider {
            out.push("fallbacks");
        }
    }
    if entry.flags.failed {
        out.push("failed");
    }
    if entry.flags.estimated {
        out.push("estimated");
    }
    out
}

/// The categories a workload asks for: those its requests name, plus fallbacks
/// when the check injects faults.
pub fn asked_for(
    shapes: &Shapes,
    table: &PriceTable,
    faults_applied: bool,
) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for shape in shapes.values() {
        let unknown = shape
            .model
            .as_deref()
            .is_some_and(|m| table.get(m).is_none());
        if unknown {
            out.insert("unknown model");
        }
        match shape.kind.as_str() {
            "chat" => {
                out.insert(match (shape.stream, shape.include_usage) {
                    (false, _) => "chat",
                    (true, true) => "stream with usage",
                    (true, false) => "stream without usage",
                });
                // Providers report cached prompt tokens for long, repeated
                // prompts; a cost workload must show they are billed once.
                out.insert("provider-cached tokens");
            }
            "embeddings" => {
                out.insert("embeddings");
            }
            "tts" | "tts_timestamps" | "tts_ws" => {
                let half = shape.model.as_deref().is_some_and(half_price_tts);
                out.insert(if half {
                    "tts half price"
                } else {
                    "tts full price"
                });
            }
            "personality" => {
                out.insert("personality");
            }
            "webvtt" => {
                out.insert("webvtt");
            }
            _ => {}
        }
        if shape.cacheable
            && matches!(
                shape.kind.as_str(),
                "chat" | "embeddings" | "tts" | "tts_timestamps"
            )
        {
            out.insert("cache hits");
        }
    }
    if faults_applied {
        out.insert("fallbacks");
    }
    out
}

/// Entries checked and exact in one category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Entries verified.
    pub checked: u64,
    /// Of those, equal to the recomputation.
    pub exact: u64,
}

/// Tallies by category.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// By category name.
    pub by_category: BTreeMap<&'static str, Tally>,
}

impl Coverage {
    /// Counts one entry.
    pub fn add(&mut self, categories: &[&'static str], exact: bool) {
        for category in categories {
            let tally = self.by_category.entry(category).or_default();
            tally.checked += 1;
            tally.exact += u64::from(exact);
        }
    }

    /// Entries verified in `category`.
    pub fn checked(&self, category: &str) -> u64 {
        self.by_category.get(category).map_or(0, |t| t.checked)
    }

    /// `chat 40, stream with usage 20, ...` in report order, non-zero only.
    pub fn line(&self) -> String {
        CATEGORIES
            .iter()
            .filter(|c| self.checked(c) > 0)
            .map(|c| format!("{c} {}", self.checked(c)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
