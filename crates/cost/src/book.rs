//! The price book: every model's price, loaded from `pricing/*.toml`, plus the
//! fallback price for models it does not know.

use std::collections::HashMap;
use std::path::Path;

use tracing::debug;

use crate::load::{PricingError, Site, parse_file};
use crate::price::{FallbackPrice, Price, UnitPrices};

/// The price files shipped in the repository's `pricing/` folder, by file name.
pub const SHIPPED_PRICE_FILES: [(&str, &str); 4] = [
    ("openai.toml", include_str!("../../../pricing/openai.toml")),
    (
        "deepseek.toml",
        include_str!("../../../pricing/deepseek.toml"),
    ),
    (
        "elevenlabs.toml",
        include_str!("../../../pricing/elevenlabs.toml"),
    ),
    (
        "services.toml",
        include_str!("../../../pricing/services.toml"),
    ),
];

/// All known prices by model id, and the fallback for the rest.
#[derive(Clone, Debug)]
pub struct PriceBook {
    prices: HashMap<String, Price, foldhash::fast::RandomState>,
    fallback: FallbackPrice,
}

/// The price that applies to one model: its own, or the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The model's provider, or `None` when priced by the fallback.
    pub provider: Option<&'a str>,
    /// The unit prices to bill with.
    pub units: UnitPrices,
    /// True when the model is not in the book and the fallback applies.
    pub priced_by_fallback: bool,
}

impl PriceBook {
    /// Loads every `*.toml` file of a directory (in name order), with the
    /// default fallback price.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<PriceBook, PricingError> {
        let dir = dir.as_ref();
        let io = |source| PricingError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            return Err(PricingError::NoFiles {
                dir: dir.display().to_string(),
            });
        }
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| PricingError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            files.push((name, text));
        }
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        PriceBook::from_files(&refs)
    }

    /// Builds the book from `(file name, file text)` pairs, with the default
    /// fallback price. A model id may appear only once across all files.
    pub fn from_files(files: &[(&str, &str)]) -> Result<PriceBook, PricingError> {
        let mut prices: HashMap<String, Price, _> = HashMap::default();
        let mut lines: HashMap<String, usize> = HashMap::new();
        for (file, text) in files {
            for loaded in parse_file(file, text)? {
                let model = loaded.price.model.clone();
                if let Some(first) = prices.get(&model) {
                    return Err(PricingError::Duplicate {
                        at: Site {
                            file: (*file).to_owned(),
                            line: loaded.line,
                            model: model.clone(),
                        },
                        first_file: first.file.clone(),
                        first_line: lines.get(&model).copied().unwrap_or_default(),
                    });
                }
                lines.insert(model.clone(), loaded.line);
                prices.insert(model, loaded.price);
            }
        }
        debug!(
            models = prices.len(),
            files = files.len(),
            "price book loaded"
        );
        Ok(PriceBook {
            prices,
            fallback: FallbackPrice::default(),
        })
    }

    /// The book built from the repository's `pricing/` files, compiled in.
    pub fn shipped() -> Result<PriceBook, PricingError> {
        PriceBook::from_files(&SHIPPED_PRICE_FILES)
    }

    /// Replaces the fallback price for unknown models. Refuses a negative or
    /// over-precise figure.
    pub fn with_fallback(mut self, fallback: FallbackPrice) -> Result<PriceBook, PricingError> {
        fallback.check()?;
        let normalized = |d: rust_decimal::Decimal| d.normalize();
        self.fallback = FallbackPrice {
            input_per_million: normalized(fallback.input_per_million),
            cached_input_per_million: normalized(fallback.cached_input_per_million),
            output_per_million: normalized(fallback.output_per_million),
            per_thousand_characters: normalized(fallback.per_thousand_characters),
            per_request: normalized(fallback.per_request),
        };
        Ok(self)
    }

    /// The model's own price, if the book has one.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        self.prices.get(model)
    }

    /// The price to bill a model with: its own, or the fallback (flagged).
    pub fn resolve(&self, model: &str) -> Resolved<'_> {
        match self.prices.get(model) {
            Some(price) => Resolved {
                provider: Some(&price.provider),
                units: price.units,
                priced_by_fallback: false,
            },
            None => {
                debug!(
                    model,
                    "model not in the price book, using the fallback price"
                );
                Resolved {
                    provider: None,
                    units: self.fallback.units(),
                    priced_by_fallback: true,
                }
            }
        }
    }

    /// The fallback price for unknown models.
    pub fn fallback(&self) -> &FallbackPrice {
        &self.fallback
    }

    /// Every price, sorted by provider then model.
    pub fn prices(&self) -> Vec<&Price> {
        let mut all: Vec<&Price> = self.prices.values().collect();
        all.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
        all
    }

    /// Number of models priced.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// True when no model is priced.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }
}
