//! Running totals per tenant and per model, kept equal to the sum of the entries.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;
use serde::Serialize;

use crate::entry::{CacheOutcome, LedgerEntry};
use crate::exact;
use crate::meter::Usage;
use crate::price::Kind;

/// One tenant's totals: the sum of its ledger entries, exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TenantTotals {
    /// The tenant.
    pub tenant: String,
    /// Total cost.
    pub cost_usd: Decimal,
    /// Total saved by cache hits.
    pub saved_usd: Decimal,
    /// Entries (billable calls, failed ones included).
    pub requests: u64,
    /// Entries served from the cache.
    pub cache_hits: u64,
    /// Entries whose upstream call failed.
    pub failed: u64,
    /// Entries whose usage the gateway estimated.
    pub estimated: u64,
    /// Entries priced by the fallback price.
    pub priced_by_fallback: u64,
    /// Per provider and model, keyed `provider/model` (`openai/gpt-4o-mini`), so
    /// one model served by two providers stays two rows.
    pub by_model: BTreeMap<String, ModelTotals>,
}

/// One provider's model's totals within a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelTotals {
    /// The provider that served (or would have served) its calls.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Kind of the model's first entry.
    pub kind: Kind,
    /// Total cost.
    pub cost_usd: Decimal,
    /// Total saved by cache hits.
    pub saved_usd: Decimal,
    /// Entries.
    pub requests: u64,
    /// Entries served from the cache.
    pub cache_hits: u64,
    /// Summed units.
    pub units: Usage,
}

/// The money part of an update, computed before anything is changed so that a
/// failed (overflowing) update leaves the totals untouched.
pub(crate) struct Update {
    tenant_cost: Decimal,
    tenant_saved: Decimal,
    model_cost: Decimal,
    model_saved: Decimal,
    /// The entry's `by_model` key, built once for both steps.
    model_key: String,
}

fn count(flag: bool) -> u64 {
    u64::from(flag)
}

/// The `by_model` key of an entry (joined by hand: this runs for every entry, and
/// `format!` costs several times more).
fn model_key(provider: &str, model: &str) -> String {
    let mut key = String::with_capacity(provider.len() + 1 + model.len());
    key.push_str(provider);
    key.push('/');
    key.push_str(model);
    key
}

/// All tenants' totals.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    tenants: HashMap<String, TenantTotals, foldhash::fast::RandomState>,
}

impl Totals {
    /// The sums after adding `entry`, or `None` if they would not be exact.
    pub fn prepare(&self, entry: &LedgerEntry) -> Option<Update> {
        let tenant = self.tenants.get(&entry.tenant);
        let key = model_key(&entry.provider, &entry.model);
        let model = tenant.and_then(|t| t.by_model.get(&key));
        let (tc, ts) = tenant.map_or((Decimal::ZERO, Decimal::ZERO), |t| {
            (t.cost_usd, t.saved_usd)
        });
        let (mc, ms) = model.map_or((Decimal::ZERO, Decimal::ZERO), |m| {
            (m.cost_usd, m.saved_usd)
        });
        Some(Update {
            tenant_cost: exact::add(tc, entry.cost_usd)?,
            tenant_saved: exact::add(ts, entry.saved_usd)?,
            model_cost: exact::add(mc, entry.cost_usd)?,
            model_saved: exact::add(ms, entry.saved_usd)?,
            model_key: key,
        })
    }

    /// Applies a prepared update for `entry`.
    pub fn apply(&mut self, entry: &LedgerEntry, update: Update) {
        let hit = entry.cache == CacheOutcome::Hit;
        let tenant = match self.tenants.get_mut(&entry.tenant) {
            Some(t) => t,
            None => self
                .tenants
                .entry(entry.tenant.clone())
                .or_insert_with(|| TenantTotals {
                    tenant: entry.tenant.clone(),
                    ..TenantTotals::default()
                }),
        };
        tenant.cost_usd = update.tenant_cost;
        tenant.saved_usd = update.tenant_saved;
        tenant.requests += 1;
        tenant.cache_hits += count(hit);
        tenant.failed += count(entry.flags.failed);
        tenant.estimated += count(entry.flags.estimated);
        tenant.priced_by_fallback += count(entry.flags.priced_by_fallback);
        let model = tenant
            .by_model
            .entry(update.model_key)
            .or_insert_with(|| ModelTotals {
                provider: entry.provider.clone(),
                model: entry.model.clone(),
                kind: entry.kind,
                cost_usd: Decimal::ZERO,
                saved_usd: Decimal::ZERO,
                requests: 0,
                cache_hits: 0,
                units: Usage::default(),
            });
        model.cost_usd = update.model_cost;
        model.saved_usd = update.model_saved;
        model.requests += 1;
        model.cache_hits += count(hit);
        model.units.add(&entry.usage);
    }

    /// Adds an entry whose sums are known to fit (loading from the database).
    pub fn add(&mut self, entry: &LedgerEntry) -> Option<()> {
        let update = self.prepare(entry)?;
        self.apply(entry, update);
        Some(())
    }

    /// One tenant's totals (zero if it has no entries).
    pub fn get(&self, tenant: &str) -> TenantTotals {
        self.tenants
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| TenantTotals {
                tenant: tenant.to_owned(),
                ..TenantTotals::default()
            })
    }

    /// Every tenant's totals, by tenant name.
    pub fn all(&self) -> Vec<TenantTotals> {
        let mut all: Vec<TenantTotals> = self.tenants.values().cloned().collect();
        all.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        all
    }
}
