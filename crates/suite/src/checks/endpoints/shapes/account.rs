//! The gateway's account routes: a tenant's usage totals and ledger pages.

use rust_decimal::Decimal;
use serde_json::Value;

use super::{Wrong, array, at, equals, filled, money, object, text, whole};

/// A tenant's usage totals.
#[derive(Debug, PartialEq)]
pub struct Totals {
    /// `tenant`.
    pub tenant: String,
    /// `cost_usd`.
    pub cost: Decimal,
    /// `requests`.
    pub requests: u64,
}

/// `GET /v1/gatebench/usage`: money as decimal strings, counts, and per-model
/// totals that add up to the tenant's.
pub fn usage(value: &Value) -> Result<Totals, Wrong> {
    let tenant = filled(value, "tenant")?.to_owned();
    let cost = money(value, "cost_usd")?;
    let saved = money(value, "saved_usd")?;
    let requests = whole(value, "requests")?;
    let hits = whole(value, "cache_hits")?;
    if hits > requests {
        return Err(format!("{hits} cache hits out of {requests} requests"));
    }
    let (mut model_cost, mut model_saved, mut model_requests) = (Decimal::ZERO, Decimal::ZERO, 0);
    for name in object(value, "by_model")?.keys() {
        let path = |field: &str| format!("by_model.{name}.{field}");
        model_cost += money(value, &path("cost_usd"))?;
        model_saved += money(value, &path("saved_usd"))?;
        model_requests += whole(value, &path("requests"))?;
        object(value, &path("units"))?;
    }
    if (model_cost, model_saved, model_requests) != (cost, saved, requests) {
        return Err(format!(
            "by_model adds up to {model_cost} USD, {model_saved} saved, {model_requests} requests; the totals say {cost}, {saved}, {requests}"
        ));
    }
    Ok(Totals {
        tenant,
        cost,
        requests,
    })
}

/// One page of `GET /v1/gatebench/ledger`.
#[derive(Debug, Default, PartialEq)]
pub struct LedgerPage {
    /// Entry ids, in order.
    pub ids: Vec<u64>,
    /// `request_id` of each entry.
    pub request_ids: Vec<String>,
    /// `tenant` of each entry.
    pub tenants: Vec<String>,
    /// `cost_usd` of each entry.
    pub costs: Vec<Decimal>,
    /// `has_more`.
    pub has_more: bool,
    /// `next_after`.
    pub next_after: Option<u64>,
}

/// A ledger page of at most `limit` entries with increasing ids; `next_after` is
/// the last id (null on an empty page).
pub fn ledger_page(value: &Value, limit: usize) -> Result<LedgerPage, Wrong> {
    equals(value, "object", "list")?;
    let data = array(value, "data")?;
    if data.len() > limit {
        return Err(format!(
            "{} entries on a page of at most {limit}",
            data.len()
        ));
    }
    let mut page = LedgerPage::default();
    for (i, entry) in data.iter().enumerate() {
        let err = |e: Wrong| format!("data.{i}: {e}");
        let id = whole(entry, "id").map_err(err)?;
        if page.ids.last().is_some_and(|last| *last >= id) {
            return Err(format!("entry ids out of order at data.{i}"));
        }
        page.ids.push(id);
        page.request_ids
            .push(filled(entry, "request_id").map_err(err)?.to_owned());
        page.tenants
            .push(filled(entry, "tenant").map_err(err)?.to_owned());
        page.costs.push(money(entry, "cost_usd").map_err(err)?);
        money(entry, "saved_usd").map_err(err)?;
        filled(entry, "model").map_err(err)?;
        let cache = text(entry, "cache").map_err(err)?;
        if !["hit", "miss", "bypass"].contains(&cache) {
            return Err(format!("`data.{i}.cache` is `{cache}`"));
        }
        object(entry, "usage").map_err(err)?;
        whole(entry, "attempts").map_err(err)?;
    }
    page.has_more = at(value, "has_more")?
        .as_bool()
        .ok_or("`has_more` is not a boolean")?;
    page.next_after = match at(value, "next_after")? {
        Value::Null => None,
        other => Some(
            other
                .as_u64()
                .ok_or("`next_after` is neither a whole number nor null")?,
        ),
    };
    if page.next_after != page.ids.last().copied() {
        return Err(format!(
            "`next_after` is {:?}, the last id {:?}",
            page.next_after,
            page.ids.last()
        ));
    }
    Ok(page)
}
