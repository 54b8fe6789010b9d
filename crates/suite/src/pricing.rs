//! The suite's own reading of the price files (`pricing/*.toml`): model id → unit
//! prices, as exact decimals, and the exact price of a call's units.
//!
//! This reader shares nothing with the gateway's price book on purpose: a check
//! that reused the gateway's parser and maths would agree with the gateway's
//! mistakes. It reads only what pricing needs (`provider`, and each `[[model]]`'s
//! `id`, `kind` and prices); dates and sources are the gateway's validation job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gatebench_wire::books::{CallRecord, CallUsage};
use rust_decimal::Decimal;
use serde::Deserialize;

/// The repository's price files, built in for suites run far from a checkout. Read
/// by this module's own parser, like any folder.
const BUILTIN: [(&str, &str); 4] = [
    (
        "deepseek.toml",
        include_str!("../../../pricing/deepseek.toml"),
    ),
    (
        "elevenlabs.toml",
        include_str!("../../../pricing/elevenlabs.toml"),
    ),
    ("openai.toml", include_str!("../../../pricing/openai.toml")),
    (
        "services.toml",
        include_str!("../../../pricing/services.toml"),
    ),
];

/// Unit prices in USD; `None` where the unit has no price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Prices {
    /// Per 1,000,000 uncached prompt tokens.
    pub input_per_million: Option<Decimal>,
    /// Per 1,000,000 prompt tokens served from the provider's prompt cache.
    pub cached_input_per_million: Option<Decimal>,
    /// Per 1,000,000 completion tokens.
    pub output_per_million: Option<Decimal>,
    /// Per 1,000 billed characters.
    pub per_thousand_characters: Option<Decimal>,
    /// Per request.
    pub per_request: Option<Decimal>,
}

/// The price keys, in the order they are reported.
pub const PRICE_FIELDS: [&str; 5] = [
    "input_per_million",
    "cached_input_per_million",
    "output_per_million",
    "per_thousand_characters",
    "per_request",
];

impl Prices {
    /// The price named by one of [`PRICE_FIELDS`].
    pub fn get(&self, field: &str) -> Option<Decimal> {
        match field {
            "input_per_million" => self.input_per_million,
            "cached_input_per_million" => self.cached_input_per_million,
            "output_per_million" => self.output_per_million,
            "per_thousand_characters" => self.per_thousand_characters,
            "per_request" => self.per_request,
            _ => None,
        }
    }

    fn slot(&mut self, field: &str) -> Option<&mut Option<Decimal>> {
        match field {
            "input_per_million" => Some(&mut self.input_per_million),
            "cached_input_per_million" => Some(&mut self.cached_input_per_million),
            "output_per_million" => Some(&mut self.output_per_million),
            "per_thousand_characters" => Some(&mut self.per_thousand_characters),
            "per_request" => Some(&mut self.per_request),
            _ => None,
        }
    }
}

/// One model's row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelPrice {
    /// The file's `provider`.
    pub provider: String,
    /// `chat`, `embeddings`, `tts`, `personality` or `webvtt`.
    pub kind: String,
    /// Its prices.
    pub prices: Prices,
    /// The file it came from.
    pub file: PathBuf,
}

/// Every model of a price folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceTable {
    /// The folder read.
    pub dir: PathBuf,
    models: BTreeMap<String, ModelPrice>,
}

/// A price folder the check cannot use.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The folder cannot be listed.
    #[error("cannot read the price folder {dir}: {source}")]
    Folder {
        /// Folder.
        dir: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The folder holds no price file.
    #[error("the price folder {dir} holds no .toml file")]
    Empty {
        /// Folder.
        dir: PathBuf,
    },
    /// A file cannot be read.
    #[error("cannot read price file {file}: {source}")]
    Read {
        /// File.
        file: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file is not TOML.
    #[error("price file {file}: {message}")]
    Parse {
        /// File.
        file: PathBuf,
        /// toml's message.
        message: String,
    },
    /// A model row the check cannot price with.
    #[error("price file {file}: model `{model}`: {message}")]
    Model {
        /// File.
        file: PathBuf,
        /// Model id (`?` when the row has none).
        model: String,
        /// What is wrong.
        message: String,
    },
    /// The same model id in two rows.
    #[error("model `{model}` is priced twice: in {first} and {second}")]
    Duplicate {
        /// Model id.
        model: String,
        /// First file.
        first: PathBuf,
        /// Second file.
        second: PathBuf,
    },
}

impl PriceTable {
    /// Reads every `*.toml` file of `dir`.
    pub fn load(dir: &Path) -> Result<PriceTable, PriceError> {
        let listing = std::fs::read_dir(dir).map_err(|source| PriceError::Folder {
            dir: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
            .collect();
        // Sorted, so that a duplicate always names the same two files.
        files.sort();
        if files.is_empty() {
            return Err(PriceError::Empty {
                dir: dir.to_path_buf(),
            });
        }
        let mut texts = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| PriceError::Read {
                file: file.clone(),
                source,
            })?;
            texts.push((file, text));
        }
        Self::from_texts(dir, texts)
    }

    /// The price files built into the binary (the repository's `pricing/`).
    pub fn builtin() -> Result<PriceTable, PriceError> {
        let dir = Path::new("<built-in pricing>");
        Self::from_texts(
            dir,
            BUILTIN
                .iter()
                .map(|(name, text)| (dir.join(name), (*text).to_owned()))
                .collect(),
        )
    }

    /// The prices a check uses: its suite's `pricing` folder (relative to the suite
    /// file), else the first `pricing/` folder found walking up from the suite's
    /// folder, else the price files built into the binary.
    pub fn for_suite(
        spec_pricing: Option<&str>,
        resolve: impl Fn(&str) -> PathBuf,
        suite_base: &Path,
    ) -> Result<PriceTable, PriceError> {
        if let Some(dir) = spec_pricing {
            return Self::load(&resolve(dir));
        }
        let base = std::fs::canonicalize(suite_base).unwrap_or_else(|_| suite_base.to_path_buf());
        match base
            .ancestors()
            .map(|a| a.join("pricing"))
            .find(|p| p.is_dir())
        {
            Some(dir) => Self::load(&dir),
            None => Self::builtin(),
        }
    }

    /// Where the prices were read from.
    pub fn source(&self) -> &Path {
        &self.dir
    }

    fn from_texts(dir: &Path, texts: Vec<(PathBuf, String)>) -> Result<PriceTable, PriceError> {
        let mut table = PriceTable {
            dir: dir.to_path_buf(),
            models: BTreeMap::new(),
        };
        for (file, text) in texts {
            for (id, row) in parse_file(&text, &file)? {
                if let Some(first) = table.models.get(&id) {
                    return Err(PriceError::Duplicate {
                        model: id,
                        first: first.file.clone(),
                        second: file,
                    });
                }
                table.models.insert(id, row);
            }
        }
        Ok(table)
    }

    /// The row of `model`, if a file prices it.
    pub fn get(&self, model: &str) -> Option<&ModelPrice> {
        self.models.get(model)
    }
}

/// The rows of one price file.
fn parse_file(text: &str, file: &Path) -> Result<Vec<(String, ModelPrice)>, PriceError> {
    let document: toml::Table = toml::from_str(text).map_err(|e| PriceError::Parse {
        file: file.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let parse_error = |message: &str| PriceError::Parse {
        file: file.to_path_buf(),
        message: message.to_owned(),
    };
    let provider = document
        .get("provider")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| parse_error("no `provider` string"))?;
    if let Some(currency) = document.get("currency")
        && currency.as_str() != Some("USD")
    {
        return Err(parse_error(&format!("currency {currency} is not \"USD\"")));
    }
    let rows = match document.get("model") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(rows)) => rows,
        Some(_) => {
            return Err(parse_error(
                "`model` must be an array of tables ([[model]])",
            ));
        }
    };
    rows.iter()
        .map(|row| {
            let model_error = |model: &str, message: String| PriceError::Model {
                file: file.to_path_buf(),
                model: model.to_owned(),
                message,
            };
            let row = row
                .as_table()
                .ok_or_else(|| model_error("?", "not a table".into()))?;
            let id = row
                .get("id")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| model_error("?", "no `id` string".into()))?;
            let kind = row
                .get("kind")
                .and_then(toml::Value::as_str)
                .ok_or_else(|| model_error(id, "no `kind` string".into()))?;
            let mut prices = Prices::default();
            for field in PRICE_FIELDS {
                let Some(value) = row.get(field) else {
                    continue;
                };
                // A TOML number would already have been rounded by the parser.
                let text = value.as_str().ok_or_else(|| {
                    model_error(
                        id,
                        format!("`{field}` must be a decimal string, not {value}"),
                    )
                })?;
                // exact: past a Decimal's 28 places a price would be rounded
                let price = Decimal::from_str_exact(text.trim()).map_err(|e| {
                    model_error(id, format!("`{field}` = {text:?} is not a decimal: {e}"))
                })?;
                if price.is_sign_negative() {
                    return Err(model_error(id, format!("`{field}` = {text:?} is negative")));
                }
                if let Some(slot) = prices.slot(field) {
                    *slot = Some(price);
                }
            }
            let row = ModelPrice {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
                prices,
                file: file.to_path_buf(),
            };
            Ok((id.to_owned(), row))
        })
        .collect()
}

/// The billable units of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Units {
    /// Prompt tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Of the prompt, tokens served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Billed characters (text to speech).
    pub characters: u64,
    /// Requests (services).
    pub requests: u64,
}

impl From<&CallUsage> for Units {
    fn from(u: &CallUsage) -> Units {
        Units {
            prompt_tokens: u.input_tokens,
            cached_tokens: u.cached_tokens,
            completion_tokens: u.output_tokens,
            characters: u.characters,
            requests: u.requests,
        }
    }
}

/// What one upstream call truly cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrueCost {
    /// Its units × the price files, exactly.
    Priced(Decimal),
    /// No price file knows the model: only a declared fallback price could price it.
    Unpriced(String),
    /// The units cannot be priced (a unit without a price, an overflow).
    Invalid(String),
}

/// The true cost of a call from the mocks' books: its billed units × the price of
/// its model in `table`; a call that was not billed costs nothing.
pub fn call_cost(table: &PriceTable, call: &CallRecord) -> TrueCost {
    if !call.billed {
        return TrueCost::Priced(Decimal::ZERO);
    }
    let model = call.model.as_deref().unwrap_or("");
    match table.get(model) {
        None => TrueCost::Unpriced(model.to_owned()),
        Some(row) => match price_of(&Units::from(&call.usage), &row.prices) {
            Ok(cost) => TrueCost::Priced(cost),
            Err(why) => TrueCost::Invalid(format!("{model}: {why}")),
        },
    }
}

/// An exact decimal as text, without trailing zeros.
pub fn money(value: Decimal) -> String {
    value.normalize().to_string()
}

/// The exact price of `units` at `prices`:
/// `(prompt − cached) × input + cached × cached_input + completion × output` per
/// million tokens, `characters × per_thousand_characters / 1000`,
/// `requests × per_request`. A unit used without a price is an error.
pub fn price_of(units: &Units, prices: &Prices) -> Result<Decimal, String> {
    let uncached = units
        .prompt_tokens
        .checked_sub(units.cached_tokens)
        .ok_or_else(|| {
            format!(
                "{} cached tokens exceed {} prompt tokens",
                units.cached_tokens, units.prompt_tokens
            )
        })?;
    let terms = [
        (
            uncached,
            "uncached prompt tokens",
            "input_per_million",
            1_000_000u64,
        ),
        (
            units.cached_tokens,
            "cached prompt tokens",
            "cached_input_per_million",
            1_000_000,
        ),
        (
            units.completion_tokens,
            "completion tokens",
            "output_per_million",
            1_000_000,
        ),
        (
            units.characters,
            "characters",
            "per_thousand_characters",
            1_000,
        ),
        (units.requests, "requests", "per_request", 1),
    ];
    let mut total = Decimal::ZERO;
    for (count, unit, field, per) in terms {
        if count == 0 {
            continue;
        }
        let price = prices
            .get(field)
            .ok_or_else(|| format!("{count} {unit} but no `{field}` price"))?;
        let product = Decimal::from(count)
            .checked_mul(price)
            .ok_or_else(|| format!("{count} {unit} overflow"))?;
        let per = Decimal::from(per);
        let term = product
            .checked_div(per)
            .ok_or_else(|| format!("{count} {unit} overflow"))?;
        // Division is exact here (at most 18 places); prove it rather than trust it.
        if term.checked_mul(per) != Some(product) {
            return Err(format!(
                "{count} {unit} × {price} is not exact in 28 digits"
            ));
        }
        total = total
            .checked_add(term)
            .ok_or_else(|| "the total overflows".to_owned())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(price: &str) -> String {
        format!(
            "provider = \"acme\"\n[[model]]\nid = \"m\"\nkind = \"chat\"\ninput_per_million = \"{price}\"\n"
        )
    }

    /// A price is read exactly as written: past a `Decimal`'s 28 decimal places it
    /// is refused (once rounded, a tiny price became zero), as are a negative one
    /// and a TOML number, which the parser has already rounded.
    #[test]
    fn prices_are_exact_decimal_strings() {
        let table =
            |text: String| PriceTable::from_texts(Path::new("p"), vec![("p/a.toml".into(), text)]);
        let ok = table(row("0.15")).unwrap();
        let price = ok.get("m").unwrap().prices.input_per_million;
        assert_eq!(price, Some(Decimal::new(15, 2)));
        let number = row("0.15").replace("\"0.15\"", "0.15");
        for (text, says) in [
            (row("0.0000000000000000000000000000001"), "is not a decimal"),
            (row("-0.15"), "is negative"),
            (row("cheap"), "is not a decimal"),
            (number, "must be a decimal string"),
        ] {
            let error = table(text).unwrap_err().to_string();
            assert!(
                error.contains(says) && error.contains("input_per_million"),
                "{error}"
            );
        }
    }
}
