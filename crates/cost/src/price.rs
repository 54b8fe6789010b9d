//! What one model costs: the kind of call it serves and its unit prices.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::load::{PricingError, check_price};

/// The kind of a billable call, which decides the units it is billed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Chat completion: prompt, cached prompt and completion tokens.
    Chat,
    /// Embeddings: input tokens.
    Embeddings,
    /// Text to speech: billed characters.
    Tts,
    /// The personality service: requests.
    Personality,
    /// The WebVTT service: requests.
    Webvtt,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 5] = [
        Kind::Chat,
        Kind::Embeddings,
        Kind::Tts,
        Kind::Personality,
        Kind::Webvtt,
    ];

    /// The name used in price files, the ledger and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Embeddings => "embeddings",
            Kind::Tts => "tts",
            Kind::Personality => "personality",
            Kind::Webvtt => "webvtt",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`Kind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown call kind {0:?} (expected chat, embeddings, tts, personality or webvtt)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// Unit prices in USD. `None` means the unit does not apply to the model: a call
/// that uses such a unit is an error, never priced at a silent 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitPrices {
    /// Per 1,000,000 prompt tokens not served from the provider's prompt cache.
    pub input_per_million: Option<Decimal>,
    /// Per 1,000,000 prompt tokens served from the provider's prompt cache.
    pub cached_input_per_million: Option<Decimal>,
    /// Per 1,000,000 completion tokens.
    pub output_per_million: Option<Decimal>,
    /// Per 1,000 billed characters (text to speech).
    pub per_thousand_characters: Option<Decimal>,
    /// Per request (services).
    pub per_request: Option<Decimal>,
}

/// One model's entry in the price book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Price {
    /// Model id as the provider names it (`gpt-4o-mini`, `eleven_v3`, `webvtt`).
    pub model: String,
    /// Provider, from the file's `provider` key.
    pub provider: String,
    /// The kind of call the model serves.
    pub kind: Kind,
    /// Its unit prices; those that apply to `kind` are all set.
    pub units: UnitPrices,
    /// The most output tokens one call can ask of it (a chat model's), when the
    /// price file says: a worst case is never quoted past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Date of the published figure, `YYYY-MM-DD`.
    pub as_of: String,
    /// Where the figure comes from: a pricing page URL or "internal estimate".
    pub source: String,
    /// The price file it was loaded from.
    pub file: String,
}

/// The price applied to a model the price book does not know, so that such a call
/// is billed and flagged `priced_by_fallback` instead of costing a silent 0.
///
/// Every unit has a price, since an unknown model may be of any kind. The default
/// is deliberately dear (the highest shipped price of each unit), so that an
/// unknown model is over- rather than under-budgeted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackPrice {
    /// Per 1,000,000 uncached prompt tokens.
    pub input_per_million: Decimal,
    /// Per 1,000,000 cached prompt tokens.
    pub cached_input_per_million: Decimal,
    /// Per 1,000,000 completion tokens.
    pub output_per_million: Decimal,
    /// Per 1,000 billed characters.
    pub per_thousand_characters: Decimal,
    /// Per request.
    pub per_request: Decimal,
}

impl Default for FallbackPrice {
    /// gpt-4's token prices, ElevenLabs' character price, the personality
    /// service's request price.
    fn default() -> Self {
        FallbackPrice {
            input_per_million: Decimal::new(30, 0),
            cached_input_per_million: Decimal::new(30, 0),
            output_per_million: Decimal::new(60, 0),
            per_thousand_characters: Decimal::new(10, 2),
            per_request: Decimal::new(4, 4),
        }
    }
}

impl FallbackPrice {
    /// Checks every unit price: none may be negative or have more decimal places
    /// than the cost maths keeps exact. The error names the field at fault, so a
    /// configuration file can point at its line.
    pub fn check(&self) -> Result<(), PricingError> {
        let fields = [
            ("input_per_million", self.input_per_million),
            ("cached_input_per_million", self.cached_input_per_million),
            ("output_per_million", self.output_per_million),
            ("per_thousand_characters", self.per_thousand_characters),
            ("per_request", self.per_request),
        ];
        for (field, value) in fields {
            check_price(value).map_err(|reason| PricingError::BadFallback {
                field,
                value,
                reason,
            })?;
        }
        Ok(())
    }

    /// The fallback as unit prices, all set.
    pub fn units(&self) -> UnitPrices {
        UnitPrices {
            input_per_million: Some(self.input_per_million),
            cached_input_per_million: Some(self.cached_input_per_million),
            output_per_million: Some(self.output_per_million),
            per_thousand_characters: Some(self.per_thousand_characters),
            per_request: Some(self.per_request),
        }
    }
}
