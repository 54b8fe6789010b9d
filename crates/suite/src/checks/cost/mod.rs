//! Cost tracking accuracy: a mixed workload (chat on several providers, streams
//! with and without `include_usage`, prompts the provider caches, cache hits, a
//! model no price file knows, fallbacks, embeddings, speech, services), then
//! every ledger entry of the run against an independent recomputation from the
//! price files and the units each response carried, to the last decimal; the
//! tenant's totals against the exact sums of its entries; and every answered
//! request against exactly one entry (matched by `x-gatebench-request-id`).
//!
//! Independence: the check reads the price files itself ([`prices`]) and does
//! its own arithmetic ([`recompute`]); it shares no code with the gateway's cost
//! tracker. The units come from what the client received (`usage`, the
//! `character-cost` header, one request per service call), not from the ledger,
//! except where the response carried none (a stream without `include_usage`):
//! those entries are recomputed from their own units and counted as such.

mod coverage;
mod entry;
mod judge;
mod outcome;
mod prices;
mod recompute;
#[cfg(test)]
mod tests;
mod totals;

use std::collections::HashSet;
use std::time::Duration;

use gatebench_driver::{RequestRecord, ScenarioFile};
use serde_json::Value;

use super::{CheckOutcome, Ctx};
use judge::{Inputs, judge};
use prices::{PriceTable, Prices, price_dir};
use recompute::{Pricing, succeeded};

/// How long to wait for the last entries of the run (a stream is billed when
/// the gateway sees its end, just after the client has read it).
const SETTLE_TRIES: u32 = 20;
const SETTLE_PAUSE: Duration = Duration::from_millis(100);

/// Runs the check.
pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx
        .spec
        .scenario
        .as_deref()
        .ok_or("the check names no scenario")?;
    let dir = price_dir(
        ctx.spec.pricing.as_deref(),
        |p| ctx.suite.resolve(p),
        &ctx.suite.base,
    );
    let table = PriceTable::load(&dir).map_err(|e| e.to_string())?;
    let path = ctx.suite.resolve(scenario);
    let file =
        ScenarioFile::load(&path).map_err(|e| format!("scenario {}: {e}", path.display()))?;
    let shapes = coverage::shapes(&file);

    // Entries already in the ledger (an external gateway's tenant has a past)
    // are not this run's.
    let before = ctx.subject.ledger().await.map_err(|e| e.to_string())?;
    let known: HashSet<u64> = before
        .iter()
        .filter_map(|v| v.get("id").and_then(Value::as_u64))
        .collect();

    let results = ctx.drive(scenario).await?;
    let records = results.requests.as_deref().unwrap_or_default();
    let ledger = settled_ledger(ctx, records).await?;
    let usage = ctx.subject.usage().await.map_err(|e| e.to_string())?;
    let run_entries: Vec<Value> = ledger
        .iter()
        .filter(|v| {
            v.get("id")
                .and_then(Value::as_u64)
                .is_none_or(|id| !known.contains(&id))
        })
        .cloned()
        .collect();

    let fallback = ctx.subject.embedded_config.as_ref().map(|c| {
        let f = &c.pricing.fallback;
        Prices {
            input_per_million: Some(f.input_per_million),
            cached_input_per_million: Some(f.cached_input_per_million),
            output_per_million: Some(f.output_per_million),
            per_thousand_characters: Some(f.per_thousand_characters),
            per_request: Some(f.per_request),
        }
    });
    let judgement = judge(&Inputs {
        run_entries: &run_entries,
        all_entries: &ledger,
        usage: &usage,
        records,
        shapes: &shapes,
        pricing: Pricing {
            table: &table,
            fallback,
        },
        faults_applied: !ctx.spec.faults.is_empty(),
    });
    tracing::info!(
        entries = judgement.entries,
        exact = judgement.exact,
        mismatches = judgement.mismatches.len(),
        unmatched = judgement.unmatched(),
        "cost accuracy judged"
    );

    let exact_min = ctx.spec.targets.exact_min.unwrap_or(100.0);
    let result = ctx.result(
        outcome::criteria(&judgement, exact_min),
        outcome::evidence(&judgement, &dir, table.len()),
    );
    Ok(CheckOutcome {
        result,
        charts: vec![outcome::chart(&judgement, &ctx.spec.name)],
        recommendations: outcome::recommendations(&judgement, &ctx.spec.name, &dir),
        runs: vec![(results.name.clone(), results)],
    })
}

/// The tenant's ledger once every answered request of the run has its entry,
/// or after a short wait (what is still missing then is a finding).
async fn settled_ledger(ctx: &Ctx<'_>, records: &[RequestRecord]) -> Result<Vec<Value>, String> {
    let answered: HashSet<&str> = records
        .iter()
        .filter(|r| succeeded(r))
        .filter_map(|r| r.request_id.as_deref())
        .collect();
    let mut tries = 0;
    loop {
        let ledger = ctx.subject.ledger().await.map_err(|e| e.to_string())?;
        let complete = {
            let billed: HashSet<&str> = ledger
                .iter()
                .filter_map(|v| v.get("request_id").and_then(Value::as_str))
                .collect();
            answered.iter().all(|id| billed.contains(id))
        };
        tries += 1;
        if complete || tries >= SETTLE_TRIES {
            tracing::debug!(tries, complete, "ledger read after the run");
            return Ok(ledger);
        }
        tokio::time::sleep(SETTLE_PAUSE).await;
    }
}
