//! Reads and validates one price file (`pricing/*.toml`).
//!
//! A file is a provider, a currency and `[[model]]` tables; prices are decimal
//! strings so that no figure ever passes through a float. Everything that could
//! make a bill wrong is refused here, at start, with the file, the line and the
//! model in the message: unknown keys, prices that are not decimals, negative or
//! over-precise prices, a price missing for the model's kind or set for a unit
//! the kind is not billed in, a cached price above the full one, bad dates,
//! missing sources, and a currency other than USD.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use toml::Spanned;

use crate::exact::MAX_PRICE_SCALE;
use crate::price::{Kind, Price, UnitPrices};

#[cfg(test)]
mod tests;

/// The only currency the price book holds.
pub const CURRENCY: &str = "USD";

/// Where in the price files a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// File name.
    pub file: String,
    /// 1-based line of the model's `id`.
    pub line: usize,
    /// Model id.
    pub model: String,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: model {:?}",
            self.file, self.line, self.model
        )
    }
}

/// Why the price book could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A directory holds no `*.toml` file.
    #[error("no price files (*.toml) in {dir}")]
    NoFiles {
        /// The directory.
        dir: String,
    },
    /// Not valid TOML, an unknown key, a missing key or a value of the wrong type.
    #[error("{}: {message}", syntax_site(.file, *.line, .model.as_deref()))]
    Syntax {
        /// File name.
        file: String,
        /// 1-based line, where the parser gives one.
        line: Option<usize>,
        /// The `[[model]]` table the error is in, when it is in one.
        model: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// The file's currency is not USD.
    #[error("{file}: currency {found:?} is not supported (prices must be in {CURRENCY})")]
    Currency {
        /// File name.
        file: String,
        /// The currency it names.
        found: String,
    },
    /// The file's provider is empty.
    #[error("{file}: provider must not be empty")]
    EmptyProvider {
        /// File name.
        file: String,
    },
    /// A model's id is empty.
    #[error("{file} line {line}: model id must not be empty")]
    EmptyId {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
    },
    /// A price is not a usable decimal.
    #[error("{at}: {field} = {value:?} is not a valid price: {reason}")]
    BadPrice {
        /// Where.
        at: Site,
        /// The key.
        field: &'static str,
        /// The text found.
        value: String,
        /// What is wrong with it.
        reason: PriceProblem,
    },
    /// A price the model's kind is billed by is absent.
    #[error("{at}: a {kind} model needs {field}")]
    MissingPrice {
        /// Where.
        at: Site,
        /// The model's kind.
        kind: Kind,
        /// The missing key.
        field: &'static str,
    },
    /// An output cap that is zero, or on a model that writes no output tokens.
    #[error(
        "{at}: max_output_tokens = {value} does not apply to a {kind} model: it is a chat model's most output tokens a call, above 0"
    )]
    BadOutputCap {
        /// Where.
        at: Site,
        /// The model's kind.
        kind: Kind,
        /// The value found.
        value: u64,
    },
    /// A price is set for a unit the model's kind is not billed in.
    #[error("{at}: {field} does not apply to a {kind} model")]
    UnexpectedPrice {
        /// Where.
        at: Site,
        /// The model's kind.
        kind: Kind,
        /// The key that should not be there.
        field: &'static str,
    },
    /// The cached input price is above the full input price.
    #[error("{at}: cached_input_per_million {cached} is above input_per_million {input}")]
    CachedAboveInput {
        /// Where.
        at: Site,
        /// The cached price.
        cached: Decimal,
        /// The full price.
        input: Decimal,
    },
    /// `as_of` is not a calendar date `YYYY-MM-DD`.
    #[error("{at}: as_of {value:?} is not a date (YYYY-MM-DD)")]
    BadDate {
        /// Where.
        at: Site,
        /// The text found.
        value: String,
    },
    /// `source` is neither an http(s) URL nor "internal estimate".
    #[error("{at}: source {value:?} must be an http(s) URL or \"internal estimate\"")]
    BadSource {
        /// Where.
        at: Site,
        /// The text found.
        value: String,
    },
    /// The same model id is priced twice (in one file or across files).
    #[error("{at}: already priced in {first_file} line {first_line}")]
    Duplicate {
        /// The second definition.
        at: Site,
        /// File of the first definition.
        first_file: String,
        /// Line of the first definition.
        first_line: usize,
    },
    /// A fallback price is negative or has more than 12 decimal places.
    #[error("fallback price {field} = {value} is not valid: {reason}")]
    BadFallback {
        /// The field.
        field: &'static str,
        /// Its value.
        value: Decimal,
        /// What is wrong with it.
        reason: PriceProblem,
    },
}

/// What is wrong with a price's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PriceProblem {
    /// Not a plain decimal such as "0.15".
    #[error("not a plain decimal string such as \"0.15\"")]
    NotDecimal,
    /// Below zero.
    #[error("negative")]
    Negative,
    /// More decimal places than the cost maths keeps exact.
    #[error("more than {MAX_PRICE_SCALE} decimal places")]
    TooPrecise,
}

fn syntax_site(file: &str, line: Option<usize>, model: Option<&str>) -> String {
    let mut s = file.to_owned();
    if let Some(line) = line {
        s.push_str(&format!(" line {line}"));
    }
    if let Some(model) = model {
        s.push_str(&format!(": model {model:?}"));
    }
    s
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    provider: String,
    currency: String,
    #[serde(default, rename = "model")]
    models: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: Spanned<String>,
    kind: Kind,
    input_per_million: Option<String>,
    cached_input_per_million: Option<String>,
    output_per_million: Option<String>,
    per_thousand_characters: Option<String>,
    per_request: Option<String>,
    max_output_tokens: Option<u64>,
    as_of: String,
    source: String,
}

/// A validated model and the line of its id.
pub(crate) struct Loaded {
    pub price: Price,
    pub line: usize,
}

/// Parses and validates one price file.
pub(crate) fn parse_file(file: &str, text: &str) -> Result<Vec<Loaded>, PricingError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        PricingError::Syntax {
            file: file.to_owned(),
            line: offset.map(|o| line_of(text, o)),
            model: offset.and_then(|o| model_around(text, o)),
            message: e.message().to_owned(),
        }
    })?;
    if raw.currency != CURRENCY {
        return Err(PricingError::Currency {
            file: file.to_owned(),
            found: raw.currency,
        });
    }
    if raw.provider.trim().is_empty() {
        return Err(PricingError::EmptyProvider {
            file: file.to_owned(),
        });
    }
    raw.models
        .into_iter()
        .map(|m| validate_model(file, text, &raw.provider, m))
        .collect()
}

fn validate_model(
    file: &str,
    text: &str,
    provider: &str,
    m: RawModel,
) -> Result<Loaded, PricingError> {
    let line = line_of(text, m.id.span().start);
    let id = m.id.into_inner();
    if id.trim().is_empty() {
        return Err(PricingError::EmptyId {
            file: file.to_owned(),
            line,
        });
    }
    let at = Site {
        file: file.to_owned(),
        line,
        model: id.clone(),
    };
    let price = |field: &'static str, value: &Option<String>| -> Result<_, PricingError> {
        value
            .as_deref()
            .map(|v| {
                parse_price(v).map_err(|reason| PricingError::BadPrice {
                    at: at.clone(),
                    field,
                    value: v.to_owned(),
                    reason,
                })
            })
            .transpose()
    };
    let mut units = UnitPrices {
        input_per_million: price("input_per_million", &m.input_per_million)?,
        cached_input_per_million: price("cached_input_per_million", &m.cached_input_per_million)?,
        output_per_million: price("output_per_million", &m.output_per_million)?,
        per_thousand_characters: price("per_thousand_characters", &m.per_thousand_characters)?,
        per_request: price("per_request", &m.per_request)?,
    };
    if m.kind == Kind::Embeddings && units.output_per_million.is_none() {
        // Embeddings produce no completion tokens; an absent output price is 0,
        // which keeps the unit priced (and the ledger's unit prices complete).
        units.output_per_million = Some(Decimal::ZERO);
    }
    check_units(&at, m.kind, &units)?;
    if let (Some(cached), Some(input)) = (units.cached_input_per_million, units.input_per_million)
        && cached > input
    {
        return Err(PricingError::CachedAboveInput { at, cached, input });
    }
    if let Some(value) = m.max_output_tokens
        && (value == 0 || m.kind != Kind::Chat)
    {
        return Err(PricingError::BadOutputCap {
            at,
            kind: m.kind,
            value,
        });
    }
    if !is_date(&m.as_of) {
        return Err(PricingError::BadDate { at, value: m.as_of });
    }
    let source = m.source.trim();
    let url = source.starts_with("https://") || source.starts_with("http://");
    if !(url && source.len() > "https://".len()) && source != "internal estimate" {
        return Err(PricingError::BadSource {
            at,
            value: m.source,
        });
    }
    Ok(Loaded {
        price: Price {
            model: id,
            provider: provider.to_owned(),
            kind: m.kind,
            units,
            max_output_tokens: m.max_output_tokens,
            as_of: m.as_of,
            source: source.to_owned(),
            file: file.to_owned(),
        },
        line,
    })
}

/// Each unit's price must be present exactly when the kind is billed in it.
fn check_units(at: &Site, kind: Kind, units: &UnitPrices) -> Result<(), PricingError> {
    let fields = [
        (
            "input_per_million",
            units.input_per_million,
            [Kind::Chat, Kind::Embeddings].as_slice(),
        ),
        (
            "cached_input_per_million",
            units.cached_input_per_million,
            &[Kind::Chat, Kind::Embeddings],
        ),
        (
            "output_per_million",
            units.output_per_million,
            &[Kind::Chat, Kind::Embeddings],
        ),
        (
            "per_thousand_characters",
            units.per_thousand_characters,
            &[Kind::Tts],
        ),
        (
            "per_request",
            units.per_request,
            &[Kind::Personality, Kind::Webvtt],
        ),
    ];
    for (field, value, kinds) in fields {
        match (kinds.contains(&kind), value.is_some()) {
            (true, false) => {
                return Err(PricingError::MissingPrice {
                    at: at.clone(),
                    kind,
                    field,
                });
            }
            (false, true) => {
                return Err(PricingError::UnexpectedPrice {
                    at: at.clone(),
                    kind,
                    field,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Parses a price such as "0.075": digits with at most one point, no sign other
/// than a leading minus (reported as negative), no exponent, no separators.
pub(crate) fn parse_price(text: &str) -> Result<Decimal, PriceProblem> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let mut parts = body.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || frac.is_some_and(|f| !digits(f)) {
        return Err(PriceProblem::NotDecimal);
    }
    // exact: a price past a `Decimal`'s 28 places is refused, not rounded (to zero);
    // trailing zeros say nothing
    let text = match frac {
        Some(_) => text.trim_end_matches('0'),
        None => text,
    };
    let value = Decimal::from_str_exact(text).map_err(|_| PriceProblem::TooPrecise)?;
    check_price(value)
}

/// A price must be zero or more and keep within the exact-maths scale.
pub(crate) fn check_price(value: Decimal) -> Result<Decimal, PriceProblem> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(PriceProblem::Negative);
    }
    let value = value.normalize();
    if value.scale() > MAX_PRICE_SCALE {
        return Err(PriceProblem::TooPrecise);
    }
    Ok(value)
}

/// A calendar date `YYYY-MM-DD` from 2000 to 2999.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (2000..3000).contains(&year) && (1..=days).contains(&day)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The id of the `[[model]]` table that contains a byte offset, read from the
/// raw text (the parser's error does not say which table it was in).
fn model_around(text: &str, offset: usize) -> Option<String> {
    let end = offset.min(text.len());
    let start = text.get(..end)?.rfind("[[model]]")?;
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "id").then(|| value.trim().trim_matches('"').to_owned())
        })
}
