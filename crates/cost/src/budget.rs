//! Per-tenant budgets enforced before a call: reserve the most it can cost,
//! settle with what it did cost.
//!
//! A reservation is refused when `spent + reserved + max_cost > limit`, so as
//! long as every call costs no more than it reserved, no tenant's spend ever
//! passes its limit, however many calls run at once. A call that costs more than
//! it reserved (a provider that billed past `max_tokens`, say) is still recorded
//! in full, since the money was spent: the overspend is bounded by the in-flight
//! reservations that ran over, and every later reservation is refused until the
//! limit is raised. Dropping a reservation without settling releases it (the
//! call was never made, or the client went away before dispatch).
//!
//! Spent is held in memory; at start the gateway restores it from the ledger
//! ([`Budgets::restore_spent`]) so that a restart does not reset budgets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::exact;
use crate::ledger::Ledger;

#[cfg(test)]
mod tests;

/// A tenant's budget as configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Budget {
    /// Most the tenant may spend, in USD; `None` is unlimited.
    pub limit: Option<Decimal>,
}

/// A tenant's budget and where it stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BudgetState {
    /// Most the tenant may spend; `None` is unlimited.
    pub limit: Option<Decimal>,
    /// Settled spend.
    pub spent: Decimal,
    /// Held by reservations not yet settled or released.
    pub reserved: Decimal,
}

/// A reservation refused because it would take the tenant past its limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "tenant {tenant:?} is over budget: limit {limit}, spent {spent}, reserved {reserved}, requested {requested}"
)]
pub struct OverBudget {
    /// The tenant.
    pub tenant: String,
    /// Its limit.
    pub limit: Decimal,
    /// Its settled spend.
    pub spent: Decimal,
    /// Its outstanding reservations.
    pub reserved: Decimal,
    /// The reservation refused.
    pub requested: Decimal,
}

type Accounts = Arc<Mutex<HashMap<Arc<str>, BudgetState, foldhash::fast::RandomState>>>;

/// Every tenant's budget; cheap to clone (shared), safe to use from any thread.
#[derive(Clone, Debug, Default)]
pub struct Budgets {
    accounts: Accounts,
}

/// Money held for one call until it is settled or dropped.
#[derive(Debug)]
#[must_use = "dropping a reservation releases it at once"]
pub struct Reservation {
    accounts: Accounts,
    tenant: Arc<str>,
    amount: Decimal,
    open: bool,
}

fn lock(
    accounts: &Accounts,
) -> MutexGuard<'_, HashMap<Arc<str>, BudgetState, foldhash::fast::RandomState>> {
    // Nothing panics while the lock is held, so a poisoned map is still consistent.
    accounts.lock().unwrap_or_else(|e| e.into_inner())
}

/// Exact sum; saturates at `Decimal::MAX`, which no real spend reaches.
fn plus(a: Decimal, b: Decimal) -> Decimal {
    exact::add(a, b).unwrap_or(Decimal::MAX)
}

/// Exact difference, never below zero.
fn minus(a: Decimal, b: Decimal) -> Decimal {
    exact::sub(a, b).unwrap_or(Decimal::ZERO).max(Decimal::ZERO)
}

impl Budgets {
    /// No tenants; a tenant never configured is unlimited.
    pub fn new() -> Budgets {
        Budgets::default()
    }

    /// Sets (or changes) a tenant's limit, keeping its spend and reservations.
    pub fn set_budget(&self, tenant: &str, budget: Budget) {
        let mut accounts = lock(&self.accounts);
        match accounts.get_mut(tenant) {
            Some(state) => state.limit = budget.limit,
            None => {
                accounts.insert(
                    Arc::from(tenant),
                    BudgetState {
                        limit: budget.limit,
                        ..BudgetState::default()
                    },
                );
            }
        }
    }

    /// Sets a tenant's settled spend (restoring it after a restart).
    pub fn set_spent(&self, tenant: &str, spent: Decimal) {
        let mut accounts = lock(&self.accounts);
        let spent = spent.max(Decimal::ZERO);
        match accounts.get_mut(tenant) {
            Some(state) => state.spent = spent,
            None => {
                accounts.insert(
                    Arc::from(tenant),
                    BudgetState {
                        spent,
                        ..BudgetState::default()
                    },
                );
            }
        }
    }

    /// Sets every tenant's spend to its ledger total, so that a restart does not
    /// reset budgets. Call before serving.
    pub fn restore_spent(&self, ledger: &Ledger) {
        for totals in ledger.all_totals() {
            self.set_spent(&totals.tenant, totals.cost_usd);
        }
    }

    /// Adds spend that had no reservation (it is recorded, never refused).
    pub fn add_spent(&self, tenant: &str, amount: Decimal) {
        let mut accounts = lock(&self.accounts);
        let state = account(&mut accounts, tenant).1;
        state.spent = plus(state.spent, amount.max(Decimal::ZERO));
    }

    /// A tenant's budget and where it stands, if it has one.
    pub fn state(&self, tenant: &str) -> Option<BudgetState> {
        lock(&self.accounts).get(tenant).copied()
    }

    /// Holds `max_cost` (the most the call can cost; a negative figure holds 0)
    /// for a call, or refuses if that could take the tenant past its limit.
    pub fn reserve(&self, tenant: &str, max_cost: Decimal) -> Result<Reservation, OverBudget> {
        let amount = max_cost.max(Decimal::ZERO);
        let mut accounts = lock(&self.accounts);
        let (key, state) = account(&mut accounts, tenant);
        if let Some(limit) = state.limit {
            let committed =
                exact::add(state.spent, state.reserved).and_then(|c| exact::add(c, amount));
            if committed.is_none_or(|c| c > limit) {
                return Err(OverBudget {
                    tenant: tenant.to_owned(),
                    limit,
                    spent: state.spent,
                    reserved: state.reserved,
                    requested: amount,
                });
            }
        }
        state.reserved = plus(state.reserved, amount);
        Ok(Reservation {
            accounts: Arc::clone(&self.accounts),
            tenant: key,
            amount,
            open: true,
        })
    }
}

/// The tenant's account, created unlimited if it has none.
fn account<'m>(
    accounts: &'m mut HashMap<Arc<str>, BudgetState, foldhash::fast::RandomState>,
    tenant: &str,
) -> (Arc<str>, &'m mut BudgetState) {
    let key = match accounts.get_key_value(tenant) {
        Some((key, _)) => Arc::clone(key),
        None => {
            let key: Arc<str> = Arc::from(tenant);
            accounts.insert(Arc::clone(&key), BudgetState::default());
            key
        }
    };
    let state = accounts
        .get_mut(&*key)
        .unwrap_or_else(|| unreachable!("account inserted above"));
    (key, state)
}

impl Reservation {
    /// The amount held.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The tenant it is held for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Releases the hold and records `actual` (a negative figure counts as 0) as
    /// spent, even when it is more than was reserved.
    pub fn settle(mut self, actual: Decimal) {
        let actual = actual.max(Decimal::ZERO);
        if actual > self.amount {
            warn!(
                tenant = &*self.tenant,
                reserved = %self.amount,
                actual = %actual,
                "call cost more than it reserved"
            );
        }
        let mut accounts = lock(&self.accounts);
        let state = account(&mut accounts, &self.tenant).1;
        state.reserved = minus(state.reserved, self.amount);
        state.spent = plus(state.spent, actual);
        self.open = false;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            let mut accounts = lock(&self.accounts);
            let state = account(&mut accounts, &self.tenant).1;
            state.reserved = minus(state.reserved, self.amount);
        }
    }
}
