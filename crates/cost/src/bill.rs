//! Turning a finished call into a ledger entry, quoting a call before it is made,
//! and checking an entry against the price book.
//!
//! The rules, in one place: a call that missed or bypassed the cache costs the
//! price of its usage and saves nothing; a cache hit costs 0 and saves exactly
//! the price of its usage; a failed upstream call costs 0 and saves nothing but
//! is still an entry. An unknown model is priced by the fallback and flagged.

use std::time::{SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;

use crate::book::PriceBook;
use crate::entry::{CacheOutcome, Flags, LedgerEntry};
use crate::meter::{CostError, Usage, cost};
use crate::price::{Kind, UnitPrices};

#[cfg(test)]
mod tests;

/// Provider recorded for a model that is neither in the book nor named by the caller.
pub const UNKNOWN_PROVIDER: &str = "unknown";

/// A finished call, as the gateway saw it.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The tenant billed.
    pub tenant: &'a str,
    /// The gateway's request id.
    pub request_id: &'a str,
    /// The upstream that served the call; `None` takes the price book's provider.
    pub provider: Option<&'a str>,
    /// The model that served the call.
    pub model: &'a str,
    /// The kind of call.
    pub kind: Kind,
    /// Its billable units (for a cache hit: this request's units).
    pub usage: Usage,
    /// What the cache did.
    pub cache: CacheOutcome,
    /// Upstream attempts made.
    pub attempts: u32,
    /// The usage was counted by the gateway, not reported by the provider.
    pub estimated: bool,
    /// The upstream call failed.
    pub failed: bool,
}

/// The price of some usage of a model, before or without a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The exact cost.
    pub cost_usd: Decimal,
    /// The unit prices applied.
    pub prices: UnitPrices,
    /// True when the model is unknown and the fallback applied.
    pub priced_by_fallback: bool,
}

/// An entry that disagrees with the price book.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger entry {id} disagrees with the price book: {}", describe(.differences))]
pub struct Mismatch {
    /// The entry's id.
    pub id: u64,
    /// Each field that differs.
    pub differences: Vec<Difference>,
}

/// One field of an entry that differs from its recomputation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The field.
    pub field: &'static str,
    /// The value recomputed from the price book.
    pub expected: String,
    /// The value in the entry.
    pub found: String,
}

fn describe(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(|d| format!("{} expected {} found {}", d.field, d.expected, d.found))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Current time in unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `(cost_usd, saved_usd)` of a call whose usage is priced at `price`.
fn charge(price: Decimal, cache: CacheOutcome, failed: bool) -> (Decimal, Decimal) {
    match (failed, cache) {
        (true, _) => (Decimal::ZERO, Decimal::ZERO),
        (false, CacheOutcome::Hit) => (Decimal::ZERO, price),
        (false, CacheOutcome::Miss | CacheOutcome::Bypass) => (price, Decimal::ZERO),
    }
}

impl PriceBook {
    /// Prices `usage` of `model`, with the fallback for an unknown model. The
    /// gateway quotes a call's worst case (prompt plus `max_tokens`, or all its
    /// characters) to reserve budget before dispatch.
    pub fn quote(&self, model: &str, usage: &Usage) -> Result<Quote, CostError> {
        let resolved = self.resolve(model);
        Ok(Quote {
            cost_usd: cost(&resolved.units, usage)?,
            prices: resolved.units,
            priced_by_fallback: resolved.priced_by_fallback,
        })
    }

    /// Prices the most a call asking for `usage` can cost: as [`PriceBook::quote`],
    /// with no more output tokens than the model writes in one call (its price
    /// file's `max_output_tokens`), since a provider refuses a call that asks
    /// for more rather than bill it.
    pub fn quote_worst(&self, model: &str, usage: &Usage) -> Result<Quote, CostError> {
        match self.lookup(model).and_then(|p| p.max_output_tokens) {
            Some(cap) if usage.completion_tokens > cap => {
                let capped = Usage {
                    completion_tokens: cap,
                    ..*usage
                };
                self.quote(model, &capped)
            }
            _ => self.quote(model, usage),
        }
    }

    /// The ledger entry of a finished call (id 0 until recorded, `at` now).
    pub fn bill(&self, call: &Call<'_>) -> Result<LedgerEntry, CostError> {
        let resolved = self.resolve(call.model);
        let price = cost(&resolved.units, &call.usage)?;
        let (cost_usd, saved_usd) = charge(price, call.cache, call.failed);
        let provider = call
            .provider
            .or(resolved.provider)
            .unwrap_or(UNKNOWN_PROVIDER);
        Ok(LedgerEntry {
            id: 0,
            at: now_ms(),
            tenant: call.tenant.to_owned(),
            request_id: call.request_id.to_owned(),
            provider: provider.to_owned(),
            model: call.model.to_owned(),
            kind: call.kind,
            usage: call.usage,
            prices: resolved.units,
            cost_usd,
            cache: call.cache,
            saved_usd,
            attempts: call.attempts,
            flags: Flags {
                estimated: call.estimated,
                priced_by_fallback: resolved.priced_by_fallback,
                failed: call.failed,
            },
        })
    }
}

impl LedgerEntry {
    /// Checks the entry against `book`: unit prices, fallback flag, cost and
    /// saving recomputed from its usage must all be equal, to the last decimal.
    pub fn verify(&self, book: &PriceBook) -> Result<(), Mismatch> {
        let mut differences = Vec::new();
        let mut differ = |field, same: bool, expected: String, found: String| {
            if !same {
                differences.push(Difference {
                    field,
                    expected,
                    found,
                });
            }
        };
        let resolved = book.resolve(&self.model);
        differ(
            "priced_by_fallback",
            resolved.priced_by_fallback == self.flags.priced_by_fallback,
            resolved.priced_by_fallback.to_string(),
            self.flags.priced_by_fallback.to_string(),
        );
        differ(
            "prices",
            resolved.units == self.prices,
            format!("{:?}", resolved.units),
            format!("{:?}", self.prices),
        );
        match cost(&resolved.units, &self.usage) {
            Ok(price) => {
                let (cost_usd, saved_usd) = charge(price, self.cache, self.flags.failed);
                differ(
                    "cost_usd",
                    cost_usd == self.cost_usd,
                    cost_usd.to_string(),
                    self.cost_usd.to_string(),
                );
                differ(
                    "saved_usd",
                    saved_usd == self.saved_usd,
                    saved_usd.to_string(),
                    self.saved_usd.to_string(),
                );
            }
            Err(e) => differ(
                "cost_usd",
                false,
                format!("error: {e}"),
                self.cost_usd.to_string(),
            ),
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Mismatch {
                id: self.id,
                differences,
            })
        }
    }
}
