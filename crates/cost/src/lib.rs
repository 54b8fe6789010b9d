//! Price tables, exact cost maths, budgets and the cost ledger.
//!
//! - [`PriceBook`]: every model's price from `pricing/*.toml` (validated at load),
//!   with a [`FallbackPrice`] for unknown models.
//! - [`cost`]: the exact price of a call's [`Usage`] (no rounding, ever).
//! - [`PriceBook::bill`]: a finished [`Call`] as a [`LedgerEntry`];
//!   [`PriceBook::quote`] prices a call's worst case for a budget reservation;
//!   [`LedgerEntry::verify`] checks an entry against the book.
//! - [`Budgets`]: per-tenant limits, reserve before a call, settle after.
//! - [`Ledger`]: entries in SQLite, written in batches off the hot path, with
//!   per-tenant totals that always equal the sum of the entries.

mod bill;
mod book;
mod budget;
mod entry;
mod exact;
mod ledger;
mod load;
mod meter;
mod price;

pub use bill::{Call, Difference, Mismatch, Quote, UNKNOWN_PROVIDER, now_ms};
pub use book::{PriceBook, Resolved, SHIPPED_PRICE_FILES};
pub use budget::{Budget, BudgetState, Budgets, OverBudget, Reservation};
pub use entry::{CacheOutcome, Flags, LedgerEntry, UnknownCacheOutcome};
pub use exact::{MAX_PRICE_SCALE, write_text};
pub use ledger::{
    Ledger, LedgerError, ModelTotals, RESPONSE_RETENTION, StoredResponse, TenantTotals,
    retained_since,
};
pub use load::{CURRENCY, PriceProblem, PricingError, Site};
pub use meter::{CostError, Usage, cost};
pub use price::{FallbackPrice, Kind, Price, UnitPrices, UnknownKind};

#[cfg(test)]
mod tests {
    /// The gateway shares these across tasks and threads.
    #[test]
    fn shared_types_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<crate::Ledger>();
        shared::<crate::PriceBook>();
        shared::<crate::Budgets>();
        shared::<crate::Reservation>();
    }
}
