//! One ledger entry: a billable call, what it used, what it cost, what it saved.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::meter::Usage;
use crate::price::{Kind, UnitPrices};

/// What the gateway's cache did for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Served from the cache: no upstream call, costs 0, saves its price.
    Hit,
    /// Looked up, not found, called upstream.
    Miss,
    /// The cache was skipped (not cacheable, or `no-cache`).
    Bypass,
}

impl CacheOutcome {
    /// The name used in headers, the ledger and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
            CacheOutcome::Bypass => "bypass",
        }
    }
}

impl fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`CacheOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cache outcome {0:?} (expected hit, miss or bypass)")]
pub struct UnknownCacheOutcome(pub String);

impl FromStr for CacheOutcome {
    type Err = UnknownCacheOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hit" => Ok(CacheOutcome::Hit),
            "miss" => Ok(CacheOutcome::Miss),
            "bypass" => Ok(CacheOutcome::Bypass),
            other => Err(UnknownCacheOutcome(other.to_owned())),
        }
    }
}

/// Marks on an entry that a reader of the ledger must know about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Flags {
    /// The usage was counted by the gateway (a stream broke before the
    /// provider's usage arrived), not reported by the provider.
    pub estimated: bool,
    /// The model is not in the price book: billed at the fallback price.
    pub priced_by_fallback: bool,
    /// The upstream call failed: it costs nothing but is counted.
    pub failed: bool,
}

/// One billable call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Assigned by the ledger when recorded (increasing, from 1).
    pub id: u64,
    /// When the call was billed, unix milliseconds.
    pub at: i64,
    /// The tenant billed.
    pub tenant: String,
    /// The gateway's request id.
    pub request_id: String,
    /// The provider that served (or would have served) the call.
    pub provider: String,
    /// The model that served the call (after any fallback to another model).
    pub model: String,
    /// The kind of call.
    pub kind: Kind,
    /// The billable units.
    pub usage: Usage,
    /// The unit prices the cost was computed with.
    pub prices: UnitPrices,
    /// What the call cost, exact: 0 for cache hits and failed calls.
    pub cost_usd: Decimal,
    /// What the cache did.
    pub cache: CacheOutcome,
    /// What a cache hit saved: the price of its usage; 0 otherwise.
    pub saved_usd: Decimal,
    /// Upstream attempts made (0 for a cache hit).
    pub attempts: u32,
    /// Flags.
    pub flags: Flags,
}
