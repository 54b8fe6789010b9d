//! The whole judgement, without I/O: the run's ledger entries matched to the
//! driver's records by request id, each verified, counted by category; the
//! tenant's totals against the sums; responses and entries left unmatched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gatebench_driver::RequestRecord;
use rust_decimal::Decimal;
use serde_json::Value;

use super::coverage::{self, Coverage, Shapes};
use super::entry::{Entry, unreadable_id};
use super::recompute::{Diff, PriceFrom, Pricing, UnitsFrom, succeeded, verify};
use super::totals::{self, TotalsReport};

/// What the judgement works on.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The ledger entries this run produced.
    pub run_entries: &'a [Value],
    /// Every ledger entry of the tenant (the usage totals cover them all).
    pub all_entries: &'a [Value],
    /// `GET /v1/gatebench/usage`.
    pub usage: &'a Value,
    /// The driver's records of this run.
    pub records: &'a [RequestRecord],
    /// What each of the scenario's requests asks for.
    pub shapes: &'a Shapes,
    /// Prices.
    pub pricing: Pricing<'a>,
    /// The check injects faults (so fallbacks are expected).
    pub faults_applied: bool,
}

/// Counts of entries by the flags the gateway set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagCounts {
    /// `estimated`.
    pub estimated: u64,
    /// `priced_by_fallback`.
    pub priced_by_fallback: u64,
    /// `failed`.
    pub failed: u64,
}

/// The outcome.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// Entries of this run.
    pub entries: u64,
    /// Of those, equal to the recomputation in every field.
    pub exact: u64,
    /// Every differing field.
    pub mismatches: Vec<Diff>,
    /// Entries with at least one differing field.
    pub mismatched_entries: u64,
    /// Entries by category.
    pub coverage: Coverage,
    /// Categories the workload asked for and did not produce.
    pub missing: Vec<&'static str>,
    /// The totals check.
    pub totals: TotalsReport,
    /// 2xx responses without exactly one entry (request id or why).
    pub unmatched_responses: Vec<String>,
    /// Entries without a response (request id).
    pub unmatched_entries: Vec<String>,
    /// Failed entries without a response, set against client-visible failures
    /// that carried no request id (the gateway sends none on some errors).
    pub failed_without_response: u64,
    /// Non-2xx responses without a request id.
    pub failures_without_id: u64,
    /// Entries whose expected units came from the entry itself because the
    /// response carried none.
    pub units_from_entry: u64,
    /// Of those, streams without `include_usage`.
    pub streams_without_usage: u64,
    /// Entries priced by the fallback whose price the check cannot know.
    pub fallback_unverifiable: u64,
    /// Entries priced by the known fallback price.
    pub fallback_verified: u64,
    /// Responses whose `x-gatebench-cost-usd` was compared.
    pub headers_checked: u64,
    /// Flags set.
    pub flags: FlagCounts,
    /// Models billed at the fallback price.
    pub fallback_models: BTreeSet<String>,
    /// Cost and saved by (provider, model), this run.
    pub by_model: BTreeMap<(String, String), (Decimal, Decimal)>,
}

impl Judgement {
    /// Share of entries equal to the recomputation, %; `None` without entries.
    pub fn exact_pct(&self) -> Option<f64> {
        (self.entries > 0).then(|| self.exact as f64 * 100.0 / self.entries as f64)
    }

    /// Responses plus entries left unmatched.
    pub fn unmatched(&self) -> u64 {
        (self.unmatched_responses.len() + self.unmatched_entries.len()) as u64
    }
}

/// Judges one run.
pub fn judge(inputs: &Inputs<'_>) -> Judgement {
    let mut j = Judgement::default();
    let table = inputs.pricing.table;
    let by_id: HashMap<&str, &RequestRecord> = inputs
        .records
        .iter()
        .filter_map(|r| r.request_id.as_deref().map(|id| (id, r)))
        .collect();
    let mut entries_per_id: HashMap<String, u64> = HashMap::new();
    let mut failed_unmatched = Vec::new();

    for value in inputs.run_entries {
        j.entries += 1;
        let entry = match Entry::parse(value) {
            Ok(entry) => entry,
            Err(why) => {
                j.mismatched_entries += 1;
                j.mismatches.push(Diff {
                    request_id: unreadable_id(value),
                    model: value
                        .get("model")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    field: "entry".into(),
                    expected: "a readable ledger entry".into(),
                    found: why,
                    file: None,
                });
                continue;
            }
        };
        let seen = entries_per_id.entry(entry.request_id.clone()).or_default();
        *seen += 1;
        let duplicate = *seen > 1;
        let record = by_id.get(entry.request_id.as_str()).copied();
        let shape = record.and_then(|r| coverage::shape_of(inputs.shapes, r));
        let mut verified = verify(&entry, record, &inputs.pricing);
        if duplicate {
            verified.diffs.push(Diff {
                request_id: entry.request_id.clone(),
                model: entry.model.clone(),
                field: "request_id".into(),
                expected: "one entry per request".into(),
                found: format!("entry {} is number {seen} for this request", entry.id),
                file: None,
            });
            j.unmatched_entries
                .push(format!("{} (duplicate)", entry.request_id));
        } else if record.is_none() {
            if entry.flags.failed {
                failed_unmatched.push(entry.request_id.clone());
            } else {
                j.unmatched_entries.push(entry.request_id.clone());
            }
        }

        let exact = verified.diffs.is_empty();
        j.exact += u64::from(exact);
        if !exact {
            j.mismatched_entries += 1;
        }
        j.coverage
            .add(&coverage::categories(&entry, shape, table), exact);
        if verified.units_from == UnitsFrom::Entry && record.is_some() {
            j.units_from_entry += 1;
            if shape.is_some_and(|s| s.stream && !s.include_usage) {
                j.streams_without_usage += 1;
            }
        }
        match verified.price_from {
            PriceFrom::Unverifiable => j.fallback_unverifiable += 1,
            PriceFrom::Fallback => j.fallback_verified += 1,
            PriceFrom::File => {}
        }
        j.headers_checked += u64::from(verified.header_checked);
        j.flags.estimated += u64::from(entry.flags.estimated);
        j.flags.priced_by_fallback += u64::from(entry.flags.priced_by_fallback);
        j.flags.failed += u64::from(entry.flags.failed);
        if entry.flags.priced_by_fallback || table.get(&entry.model).is_none() {
            j.fallback_models.insert(entry.model.clone());
        }
        let money = j
            .by_model
            .entry((entry.provider.clone(), entry.model.clone()))
            .or_default();
        money.0 = money.0.saturating_add(entry.cost_usd);
        money.1 = money.1.saturating_add(entry.saved_usd);
        j.mismatches.extend(verified.diffs);
    }

    // Every 2xx response has its entry.
    for record in inputs.records.iter().filter(|r| succeeded(r)) {
        match record.request_id.as_deref() {
            None => j
                .unmatched_responses
                .push(format!("{} (no x-gatebench-request-id)", record.request)),
            Some(id) if !entries_per_id.contains_key(id) => {
                j.unmatched_responses.push(id.to_owned())
            }
            Some(_) => {}
        }
    }
    // A failed call whose error response carried no request id cannot be
    // matched; it is accounted for as long as such failures are at least as many.
    j.failures_without_id = inputs
        .records
        .iter()
        .filter(|r| !succeeded(r) && r.request_id.is_none())
        .count() as u64;
    j.failed_without_response = failed_unmatched.len() as u64;
    let excess = failed_unmatched
        .len()
        .saturating_sub(j.failures_without_id as usize);
    j.unmatched_entries
        .extend(failed_unmatched.into_iter().take(excess));

    let all: Vec<Entry> = inputs
        .all_entries
        .iter()
        .filter_map(|v| Entry::parse(v).ok())
        .collect();
    j.totals = totals::check(&all, inputs.usage);
    if all.len() < inputs.all_entries.len() {
        j.totals.diffs.push(totals::TotalsDiff {
            scope: "tenant".into(),
            field: "entries".into(),
            expected: format!("{} readable entries", inputs.all_entries.len()),
            found: format!("{} readable", all.len()),
        });
    }

    let asked = coverage::asked_for(inputs.shapes, table, inputs.faults_applied);
    j.missing = coverage::CATEGORIES
        .iter()
        .copied()
        .filter(|c| asked.contains(c) && j.coverage.checked(c) == 0)
        .collect();
    j
}
