//! The tenant's totals (`GET /v1/gatebench/usage`) against the exact sums of its
//! ledger entries: cost, saved and number of entries, for the tenant and for
//! every model.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::entry::Entry;
use super::recompute::money;

/// Sums of some entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sums {
    /// Cost.
    pub cost: Decimal,
    /// Saved.
    pub saved: Decimal,
    /// Entries.
    pub requests: u64,
}

impl Sums {
    fn add(&mut self, entry: &Entry) -> Result<(), String> {
        self.cost = self
            .cost
            .checked_add(entry.cost_usd)
            .ok_or("the cost sum overflows")?;
        self.saved = self
            .saved
            .checked_add(entry.saved_usd)
            .ok_or("the saved sum overflows")?;
        self.requests += 1;
        Ok(())
    }
}

/// One total that is not the sum of its entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TotalsDiff {
    /// `tenant` or `model gpt-4o-mini`.
    pub scope: String,
    /// `cost_usd`, `saved_usd` or `requests`.
    pub field: String,
    /// The sum of the entries.
    pub expected: String,
    /// What the usage endpoint says.
    pub found: String,
}

/// The totals check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotalsReport {
    /// Sums over every entry.
    pub tenant: Sums,
    /// Sums per model.
    pub by_model: BTreeMap<String, Sums>,
    /// Totals that differ.
    pub diffs: Vec<TotalsDiff>,
}

impl TotalsReport {
    /// Every total equals its sum.
    pub fn equal(&self) -> bool {
        self.diffs.is_empty()
    }
}

/// A decimal from a JSON string (or, leniently, a number written in JSON).
fn decimal(value: Option<&Value>) -> Option<Decimal> {
    match value? {
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).ok(),
        _ => None,
    }
}

/// Compares `usage` with the sums of `entries` (every entry of the tenant).
pub fn check(entries: &[Entry], usage: &Value) -> TotalsReport {
    let mut report = TotalsReport::default();
    let mut overflow = None;
    for entry in entries {
        let model = report.by_model.entry(entry.model.clone()).or_default();
        if let Err(e) = report.tenant.add(entry).and_then(|()| model.add(entry)) {
            overflow = Some(e);
        }
    }
    if let Some(why) = overflow {
        report.diffs.push(TotalsDiff {
            scope: "tenant".into(),
            field: "sum".into(),
            expected: why,
            found: "-".into(),
        });
    }
    compare(&mut report.diffs, "tenant", &report.tenant, Some(usage));
    let listed = usage.get("by_model").and_then(Value::as_object);
    for (model, sums) in &report.by_model {
        compare(
            &mut report.diffs,
            &format!("model {model}"),
            sums,
            listed.and_then(|m| m.get(model)),
        );
    }
    // A model in the totals that no entry mentions was counted from nothing.
    for (model, totals) in listed.into_iter().flatten() {
        if !report.by_model.contains_key(model) {
            let found = decimal(totals.get("cost_usd")).map_or_else(|| totals.to_string(), money);
            report.diffs.push(TotalsDiff {
                scope: format!("model {model}"),
                field: "cost_usd".into(),
                expected: "no entries".into(),
                found,
            });
        }
    }
    report
}

fn compare(diffs: &mut Vec<TotalsDiff>, scope: &str, sums: &Sums, totals: Option<&Value>) {
    let mut diff = |field: &str, expected: String, found: String| {
        diffs.push(TotalsDiff {
            scope: scope.to_owned(),
            field: field.to_owned(),
            expected,
            found,
        });
    };
    let Some(totals) = totals else {
        diff(
            "totals",
            format!("{} entries, cost {}", sums.requests, money(sums.cost)),
            "missing".into(),
        );
        return;
    };
    for (field, want) in [("cost_usd", sums.cost), ("saved_usd", sums.saved)] {
        match decimal(totals.get(field)) {
            Some(got) if got == want => {}
            Some(got) => diff(field, money(want), money(got)),
            None => diff(
                field,
                money(want),
                totals
                    .get(field)
                    .map_or_else(|| "missing".into(), Value::to_string),
            ),
        }
    }
    match totals.get("requests").and_then(Value::as_u64) {
        Some(got) if got == sums.requests => {}
        got => diff(
            "requests",
            sums.requests.to_string(),
            got.map_or_else(|| "missing".into(), |g| g.to_string()),
        ),
    }
}
