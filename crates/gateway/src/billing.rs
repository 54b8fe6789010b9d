//! Turning a finished call into a ledger entry and settling its reservation.

use gatebench_cost::{CacheOutcome, Call, Kind, LedgerEntry, Reservation, Usage};

use crate::error::GatewayError;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::meta::Meta;
use crate::state::Gateway;

/// A finished call, as the ledger needs it.
#[derive(Debug)]
pub struct Charge<'a> {
    /// Provider that served (or was tried last).
    pub provider: Option<&'a str>,
    /// Model that served.
    pub model: &'a str,
    /// Kind of call.
    pub kind: Kind,
    /// Units (for a hit: this request's units).
    pub usage: Usage,
    /// Cache outcome.
    pub cache: CacheOutcome,
    /// Upstream attempts.
    pub attempts: u32,
    /// The usage was counted by the gateway, not reported by the provider.
    pub estimated: bool,
    /// The call failed: it costs nothing, but is counted.
    pub failed: bool,
}

/// Bills `charge`, records the entry, settles `reservation` with the real cost.
/// Returns the entry (for the cost header), or `None` if it could not be priced,
/// which is logged as an error: it means a price file does not cover what a
/// provider reported.
pub fn charge(
    gateway: &Gateway,
    meta: &Meta,
    reservation: Option<Reservation>,
    charge: Charge<'_>,
) -> Option<LedgerEntry> {
    let call = Call {
        tenant: &meta.tenant.id,
        request_id: &meta.id,
        provider: charge.provider,
        model: charge.model,
        kind: charge.kind,
        usage: charge.usage,
        cache: charge.cache,
        attempts: charge.attempts,
        estimated: charge.estimated,
        failed: charge.failed,
    };
    let entry = match gateway.prices.bill(&call) {
        Ok(entry) => entry,
        Err(error) => {
            tracing::error!(%error, model = charge.model, request_id = %meta.id, "call could not be priced");
            if let Some(r) = reservation {
                r.settle(Decimal::ZERO);
            }
            return None;
        }
    };
    if let Some(r) = reservation {
        r.settle(entry.cost_usd);
    }
    gateway.metrics.money(
        &meta.tenant.id,
        entry.cost_usd.to_f64().unwrap_or(0.0),
        entry.saved_usd.to_f64().unwrap_or(0.0),
    );
    match gateway.ledger.record(entry.clone()) {
        Ok(_) => Some(entry),
        Err(error) => {
            tracing::error!(%error, request_id = %meta.id, "ledger refused an entry");
            Some(entry)
        }
    }
}

/// Reserves the most a call could cost, whichever model of its route serves it (a
/// fallback may cost more than the model asked for), or refuses it (429
/// `insufficient_quota`).
pub fn reserve(
    gateway: &Gateway,
    meta: &Meta,
    model: &str,
    worst: &Usage,
) -> Result<Reservation, GatewayError> {
    let needed = gateway
        .upstreams
        .candidate_models(model)
        .filter_map(|candidate| gateway.prices.quote(candidate, worst).ok())
        .map(|q| q.cost_usd)
        .max()
        .unwrap_or_default();
    gateway
        .budgets
        .reserve(&meta.tenant.id, needed)
        .map_err(|over| GatewayError::OverBudget {
            tenant: over.tenant.clone(),
            remaining: (over.limit - over.spent - over.reserved).max(Decimal::ZERO),
            needed: over.requested,
        })
}

/// Records a failed call (cost 0, but counted) and releases its reservation.
pub fn failed(
    gateway: &Gateway,
    meta: &Meta,
    reservation: Reservation,
    provider: Option<&str>,
    model: &str,
    kind: Kind,
    attempts: u32,
) {
    charge(
        gateway,
        meta,
        Some(reservation),
        Charge {
            provider,
            model,
            kind,
            usage: Usage::default(),
            cache: CacheOutcome::Miss,
            attempts,
            estimated: false,
            failed: true,
        },
    );
}
