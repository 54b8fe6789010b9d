//! What the judgement becomes in the report: criteria, evidence a reviewer can
//! follow entry by entry, the cost-by-model chart and the recommendations.

use std::collections::BTreeMap;
use std::path::Path;

use gatebench_report::{Chart, ChartKind, Criterion, Evidence, Recommendation, Series};
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use super::super::{criterion, number};
use super::coverage::CATEGORIES;
use super::judge::Judgement;
use super::recompute::{Diff, money};

/// Mismatches listed in the details at most (the count is always given).
const DETAILS_MAX: usize = 1000;
/// Mismatches quoted in the summary.
const SUMMARY_MAX: usize = 5;

/// The check's criteria.
pub fn criteria(j: &Judgement, exact_min: f64) -> Vec<Criterion> {
    let pct = j.exact_pct();
    let exact = criterion(
        "exact entries",
        pct,
        "%",
        exact_min,
        true,
        match pct {
            Some(p) => format!("{} ({} of {} entries)", number(p, "%"), j.exact, j.entries),
            None => "no ledger entries".into(),
        },
    );
    let t = &j.totals;
    let totals = Criterion {
        name: "totals equal the sum".into(),
        target: "equal, to the last decimal".into(),
        measured: match t.diffs.first() {
            None => format!(
                "equal: cost {} USD, saved {} USD, {} entries, {} models",
                money(t.tenant.cost),
                money(t.tenant.saved),
                t.tenant.requests,
                t.by_model.len()
            ),
            Some(d) => format!(
                "{} totals differ, first: {} {} sum {} usage {}",
                t.diffs.len(),
                d.scope,
                d.field,
                d.expected,
                d.found
            ),
        },
        passed: t.equal(),
        value: Some(t.diffs.len() as f64),
        unit: "count".into(),
        higher_is_better: false,
    };
    let unmatched = criterion(
        "unmatched responses/entries",
        Some(j.unmatched() as f64),
        "count",
        0.0,
        false,
        format!(
            "{} responses without an entry, {} entries without a response",
            j.unmatched_responses.len(),
            j.unmatched_entries.len()
        ),
    );
    vec![exact, totals, unmatched]
}

fn diff_line(d: &Diff) -> String {
    format!(
        "{} {} {}: expected {}, found {}",
        d.request_id, d.model, d.field, d.expected, d.found
    )
}

/// The evidence: a summary, then every figure and every mismatch.
pub fn evidence(j: &Judgement, price_dir: &Path, priced_models: usize) -> Evidence {
    let mut summary = format!(
        "{} ledger entries of this run recomputed from {} ({priced_models} priced models) and the units each response carried: {} exact ({}).",
        j.entries,
        price_dir.display(),
        j.exact,
        j.exact_pct().map_or_else(|| "-".into(), |p| number(p, "%")),
    );
    summary.push_str(&format!(
        " Verified: {}.",
        if j.entries == 0 {
            "nothing".into()
        } else {
            j.coverage.line()
        }
    ));
    if j.units_from_entry > 0 {
        summary.push_str(&format!(
            " {} entries recomputed from their own units because the response carried no usage ({} streams without include_usage).",
            j.units_from_entry, j.streams_without_usage
        ));
    }
    if j.fallback_unverifiable > 0 {
        summary.push_str(&format!(
            " {} entries priced by the gateway's fallback price, which is not knowable for this target: fallback price not verifiable, judged by their own unit prices.",
            j.fallback_unverifiable
        ));
    }
    summary.push_str(&match j.totals.diffs.len() {
        0 => " Totals equal the sum of the entries.".to_owned(),
        n => format!(" {n} totals differ from the sum of the entries."),
    });
    if j.unmatched() > 0 {
        summary.push_str(&format!(
            " {} responses without an entry, {} entries without a response.",
            j.unmatched_responses.len(),
            j.unmatched_entries.len()
        ));
    }
    if !j.missing.is_empty() {
        summary.push_str(&format!(
            " Not exercised by the workload: {}.",
            j.missing.join(", ")
        ));
    }
    if !j.mismatches.is_empty() {
        let first: Vec<String> = j
            .mismatches
            .iter()
            .take(SUMMARY_MAX)
            .map(diff_line)
            .collect();
        summary.push_str(&format!(
            " {} fields differ in {} entries; first: {}.",
            j.mismatches.len(),
            j.mismatched_entries,
            first.join("; ")
        ));
    }

    let coverage: serde_json::Map<String, Value> = CATEGORIES
        .iter()
        .map(|c| {
            let tally = j.coverage.by_category.get(c).copied().unwrap_or_default();
            (
                (*c).to_owned(),
                json!({ "checked": tally.checked, "exact": tally.exact }),
            )
        })
        .collect();
    let by_model: Vec<Value> = j
        .totals
        .by_model
        .iter()
        .map(|(model, s)| json!({ "model": model, "cost_usd": money(s.cost), "saved_usd": money(s.saved), "requests": s.requests }))
        .collect();
    let details = json!({
        "pricing_dir": price_dir.display().to_string(),
        "priced_models": priced_models,
        "entries": j.entries,
        "exact": j.exact,
        "exact_pct": j.exact_pct(),
        "coverage": coverage,
        "not_exercised": j.missing,
        "units": {
            "from_response": j.entries.saturating_sub(j.units_from_entry),
            "from_entry_no_usage_in_response": j.units_from_entry,
            "streams_without_include_usage": j.streams_without_usage,
        },
        "fallback_price": {
            "verified": j.fallback_verified,
            "not_verifiable": j.fallback_unverifiable,
            "models": j.fallback_models,
        },
        "cost_headers_checked": j.headers_checked,
        "flags": {
            "estimated": j.flags.estimated,
            "priced_by_fallback": j.flags.priced_by_fallback,
            "failed": j.flags.failed,
        },
        "totals": {
            "equal": j.totals.equal(),
            "cost_usd": money(j.totals.tenant.cost),
            "saved_usd": money(j.totals.tenant.saved),
            "requests": j.totals.tenant.requests,
            "by_model": by_model,
            "differences": j.totals.diffs,
        },
        "unmatched": {
            "responses": j.unmatched_responses,
            "entries": j.unmatched_entries,
            "failed_entries_without_response": j.failed_without_response,
            "failures_without_request_id": j.failures_without_id,
        },
        "mismatched_entries": j.mismatched_entries,
        "mismatches_total": j.mismatches.len(),
        "mismatches": j.mismatches.iter().take(DETAILS_MAX).collect::<Vec<_>>(),
    });
    Evidence { summary, details }
}

/// Cost and saved by provider and model.
pub fn chart(j: &Judgement, check: &str) -> Chart {
    let categories: Vec<String> = j
        .by_model
        .keys()
        .map(|(provider, model)| format!("{provider}/{model}"))
        .collect();
    let series = |name: &str,
                  pick: fn(
        &(rust_decimal::Decimal, rust_decimal::Decimal),
    ) -> rust_decimal::Decimal| Series {
        name: name.into(),
        points: j
            .by_model
            .values()
            .enumerate()
            .map(|(i, m)| [i as f64, pick(m).to_f64().unwrap_or(0.0)])
            .collect(),
    };
    Chart {
        id: format!("{check}-cost-by-model"),
        title: "Cost by provider and model".into(),
        kind: ChartKind::Bar,
        x_label: "provider/model".into(),
        y_unit: "USD".into(),
        categories,
        series: vec![series("cost", |m| m.0), series("saved", |m| m.1)],
    }
}

/// Mismatches grouped by field, model and price file.
type GroupKey = (String, String, Option<String>);

/// Advice, each with the figure behind it.
pub fn recommendations(j: &Judgement, check: &str, price_dir: &Path) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut add = |rule: &str, message: String, figure: String| {
        out.push(Recommendation {
            rule: rule.into(),
            check: check.to_owned(),
            message,
            figure,
        });
    };
    if !j.fallback_models.is_empty() {
        let models: Vec<&str> = j.fallback_models.iter().map(String::as_str).collect();
        add(
            "cost-unknown-model",
            format!(
                "Add {} to the price files in {}: its calls are billed at the gateway's fallback price, deliberately dear and not what the provider charges.",
                models.join(", "),
                price_dir.display()
            ),
            format!(
                "{} of {} entries priced by fallback",
                j.flags.priced_by_fallback, j.entries
            ),
        );
    }
    if j.flags.estimated > 0 {
        add(
            "cost-estimated-usage",
            "Some calls were billed from the gateway's own token count because their streams were cut before the provider's usage chunk: find what cuts them (client timeouts, upstream stream cuts), since those costs are estimates.".into(),
            format!("{} of {} entries estimated", j.flags.estimated, j.entries),
        );
    }
    if !j.mismatches.is_empty() {
        // Group by what disagrees, so the advice names the file and field to fix.
        let mut groups: BTreeMap<GroupKey, (u64, String, String)> = BTreeMap::new();
        for d in &j.mismatches {
            let group = groups
                .entry((d.field.clone(), d.model.clone(), d.file.clone()))
                .or_insert((0, d.expected.clone(), d.found.clone()));
            group.0 += 1;
        }
        let mut ranked: Vec<_> = groups.into_iter().collect();
        ranked.sort_by_key(|(_, (n, _, _))| std::cmp::Reverse(*n));
        let named: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|((field, model, file), (n, expected, found))| {
                let source = file.as_deref().map_or_else(|| "the response".to_owned(), str::to_owned);
                format!("{field} of {model} in {n} entries ({source} gives {expected}, the ledger {found})")
            })
            .collect();
        add(
            "cost-mismatch",
            format!(
                "The ledger disagrees with the independent recomputation: check {}.",
                named.join("; ")
            ),
            format!(
                "{} of {} entries differ ({} exact)",
                j.mismatched_entries,
                j.entries,
                j.exact_pct().map_or_else(|| "-".into(), |p| number(p, "%"))
            ),
        );
    }
    if let Some(d) = j.totals.diffs.first() {
        add(
            "cost-totals",
            "The usage endpoint's totals are not the exact sum of the ledger entries: the running totals and the ledger have drifted apart (an entry counted twice, lost, or summed with rounding).".into(),
            format!("{} {}: entries sum to {}, usage says {}", d.scope, d.field, d.expected, d.found),
        );
    }
    if j.unmatched() > 0 {
        add(
            "cost-unmatched",
            "Every answered request must leave exactly one ledger entry and every entry must belong to a request: look for calls the gateway answered without billing, or billed twice.".into(),
            format!(
                "{} responses without an entry, {} entries without a response",
                j.unmatched_responses.len(),
                j.unmatched_entries.len()
            ),
        );
    }
    out
}
