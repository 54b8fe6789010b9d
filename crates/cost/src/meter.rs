//! Cost maths: the units a call used, times the unit prices, exactly.
//!
//! Rounding policy: **none**. A cost is the exact product of units and prices,
//! `rust_decimal` end to end, never `f64`. Prices carry at most 12 decimal places
//! and are quoted per 10^6 tokens or per 10^3 characters, so a cost has at most
//! 18 places and always fits a `Decimal` exactly; anything that would not (an
//! absurd unit count) is an error, never a rounded figure. Results are
//! normalised (no trailing zeros), so the same amount always prints the same
//! string: a gpt-4o-mini call costs fractions of a cent and that is what is kept.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::exact;
use crate::price::UnitPrices;

/// The billable units of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Prompt (input) tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, those the provider served from its prompt cache.
    pub cached_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
    /// Billed characters (text to speech: the `character-cost` count).
    pub characters: u64,
    /// Requests (services billed per call).
    pub requests: u64,
}

impl Usage {
    /// Adds another call's units, saturating (a u64 of tokens does not overflow
    /// in practice).
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.characters = self.characters.saturating_add(other.characters);
        self.requests = self.requests.saturating_add(other.requests);
    }
}

/// Why a cost could not be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// More cached tokens than prompt tokens: the usage is inconsistent.
    #[error("cached_tokens {cached} exceeds prompt_tokens {prompt}")]
    CachedExceedsPrompt {
        /// Cached tokens reported.
        cached: u64,
        /// Prompt tokens reported.
        prompt: u64,
    },
    /// The call used a unit the model has no price for.
    #[error("usage has {count} {unit} but the price has no {field}")]
    Unpriced {
        /// The unit (`prompt tokens`, `characters`, ...).
        unit: &'static str,
        /// How many were used.
        count: u64,
        /// The missing price key.
        field: &'static str,
    },
    /// The exact result does not fit a `Decimal`.
    #[error("cost of {count} {unit} overflows exact decimal arithmetic")]
    Overflow {
        /// The unit.
        unit: &'static str,
        /// How many were used.
        count: u64,
    },
    /// The exact total does not fit a `Decimal`.
    #[error("the total cost overflows exact decimal arithmetic")]
    TotalOverflow,
}

/// The exact cost in USD of `usage` at `price`:
/// `(prompt − cached) × input + cached × cached_input + completion × output`
/// per million tokens, `+ characters × per_thousand_characters / 1000`,
/// `+ requests × per_request`.
///
/// Cached tokens are billed once, at the cached price. A unit used with no price
/// is an error ([`CostError::Unpriced`]), a unit not used costs nothing whether
/// priced or not.
pub fn cost(price: &UnitPrices, usage: &Usage) -> Result<Decimal, CostError> {
    let uncached = usage.prompt_tokens.checked_sub(usage.cached_tokens).ok_or(
        CostError::CachedExceedsPrompt {
            cached: usage.cached_tokens,
            prompt: usage.prompt_tokens,
        },
    )?;
    let parts = [
        (
            uncached,
            price.input_per_million,
            6,
            "uncached prompt tokens",
            "input_per_million",
        ),
        (
            usage.cached_tokens,
            price.cached_input_per_million,
            6,
            "cached prompt tokens",
            "cached_input_per_million",
        ),
        (
            usage.completion_tokens,
            price.output_per_million,
            6,
            "completion tokens",
            "output_per_million",
        ),
        (
            usage.characters,
            price.per_thousand_characters,
            3,
            "characters",
            "per_thousand_characters",
        ),
        (
            usage.requests,
            price.per_request,
            0,
            "requests",
            "per_request",
        ),
    ];
    let mut terms = exact::Terms::default();
    for (count, unit_price, places, unit, field) in parts {
        if count == 0 {
            continue;
        }
        let unit_price = unit_price.ok_or(CostError::Unpriced { unit, count, field })?;
        terms
            .add(count, unit_price, places)
            .ok_or(CostError::Overflow { unit, count })?;
    }
    terms.total().ok_or(CostError::TotalOverflow)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use proptest::prelude::*;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn tokens(input: &str, cached: &str, output: &str) -> UnitPrices {
        UnitPrices {
            input_per_million: Some(d(input)),
            cached_input_per_million: Some(d(cached)),
            output_per_million: Some(d(output)),
            ..UnitPrices::default()
        }
    }

    #[test]
    fn gpt_4o_mini_with_cached_prompt() {
        // 210 uncached × 0.15 + 1,024 cached × 0.075 + 567 × 0.60, per million:
        // 0.0000315 + 0.0000768 + 0.0003402 = 0.0004485
        let usage = Usage {
            prompt_tokens: 1234,
            cached_tokens: 1024,
            completion_tokens: 567,
            ..Usage::default()
        };
        let got = cost(&tokens("0.15", "0.075", "0.60"), &usage).unwrap();
        assert_eq!(got.to_string(), "0.0004485");
    }

    #[test]
    fn cached_tokens_are_billed_once_at_the_cached_price() {
        let price = tokens("2.50", "1.25", "10");
        let all_cached = Usage {
            prompt_tokens: 1_000_000,
            cached_tokens: 1_000_000,
            ..Usage::default()
        };
        let none_cached = Usage {
            cached_tokens: 0,
            ..all_cached
        };
        assert_eq!(cost(&price, &all_cached).unwrap(), d("1.25"));
        assert_eq!(cost(&price, &none_cached).unwrap(), d("2.5"));
    }

    #[test]
    fn more_cached_than_prompt_is_an_error_not_a_negative() {
        let usage = Usage {
            prompt_tokens: 10,
            cached_tokens: 11,
            ..Usage::default()
        };
        assert_eq!(
            cost(&tokens("1", "0.5", "1"), &usage),
            Err(CostError::CachedExceedsPrompt {
                cached: 11,
                prompt: 10
            })
        );
    }

    #[test]
    fn deepseek_cache_hit_price() {
        // 3,000 hit × 0.028 + 1,000 miss × 0.28 + 500 × 0.42, per million:
        // 0.000084 + 0.00028 + 0.00021 = 0.000574
        let usage = Usage {
            prompt_tokens: 4000,
            cached_tokens: 3000,
            completion_tokens: 500,
            ..Usage::default()
        };
        let got = cost(&tokens("0.28", "0.028", "0.42"), &usage).unwrap();
        assert_eq!(got.to_string(), "0.000574");
    }

    #[test]
    fn embeddings_bill_input_tokens() {
        let usage = Usage {
            prompt_tokens: 8191,
            ..Usage::default()
        };
        let got = cost(&tokens("0.02", "0.02", "0"), &usage).unwrap();
        assert_eq!(got.to_string(), "0.00016382");
    }

    #[test]
    fn tts_bills_characters_per_thousand() {
        let price = UnitPrices {
            per_thousand_characters: Some(d("0.10")),
            ..UnitPrices::default()
        };
        // 1,337 characters on Multilingual; the same text on Flash bills 669.
        let full = Usage {
            characters: 1337,
            ..Usage::default()
        };
        let half = Usage {
            characters: 669,
            ..Usage::default()
        };
        assert_eq!(cost(&price, &full).unwrap().to_string(), "0.1337");
        assert_eq!(cost(&price, &half).unwrap().to_string(), "0.0669");
    }

    #[test]
    fn services_bill_per_request() {
        let price = UnitPrices {
            per_request: Some(d("0.0004")),
            ..UnitPrices::default()
        };
        let usage = Usage {
            requests: 3,
            ..Usage::default()
        };
        assert_eq!(cost(&price, &usage).unwrap().to_string(), "0.0012");
    }

    #[test]
    fn a_used_unit_without_a_price_is_an_error() {
        let price = UnitPrices {
            per_request: Some(d("0.0004")),
            ..UnitPrices::default()
        };
        let usage = Usage {
            requests: 1,
            characters: 5,
            ..Usage::default()
        };
        assert!(matches!(
            cost(&price, &usage),
            Err(CostError::Unpriced {
                field: "per_thousand_characters",
                ..
            })
        ));
    }

    #[test]
    fn nothing_used_costs_zero() {
        assert_eq!(
            cost(&UnitPrices::default(), &Usage::default()).unwrap(),
            Decimal::ZERO
        );
    }

    proptest! {
        /// The cost is additive: splitting one call's units over two calls
        /// never changes the total, to the last decimal.
        #[test]
        fn cost_is_additive(
            u1 in 0_u64..5_000_000, c1 in 0_u64..5_000_000, o1 in 0_u64..5_000_000,
            u2 in 0_u64..5_000_000, c2 in 0_u64..5_000_000, o2 in 0_u64..5_000_000,
        ) {
            let price = tokens("0.15", "0.075", "0.60");
            let a = Usage {
                prompt_tokens: u1 + c1,
                cached_tokens: c1,
                completion_tokens: o1,
                ..Usage::default()
            };
            let b = Usage {
                prompt_tokens: u2 + c2,
                cached_tokens: c2,
                completion_tokens: o2,
                ..Usage::default()
            };
            let mut both = a;
            both.add(&b);
            let sum = exact::add(cost(&price, &a).unwrap(), cost(&price, &b).unwrap()).unwrap();
            prop_assert_eq!(cost(&price, &both).unwrap(), sum);
        }

        /// Cached tokens never cost more than uncached ones when the cached
        /// price is lower.
        #[test]
        fn caching_never_raises_the_cost(uncached in 0_u64..10_000_000, cached in 0_u64..10_000_000) {
            let price = tokens("2.50", "1.25", "10");
            let with = Usage {
                prompt_tokens: uncached + cached,
                cached_tokens: cached,
                ..Usage::default()
            };
            let without = Usage { cached_tokens: 0, ..with };
            prop_assert!(cost(&price, &with).unwrap() <= cost(&price, &without).unwrap());
        }
    }
}
