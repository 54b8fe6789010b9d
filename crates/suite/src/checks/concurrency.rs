//! Concurrent handling: a burst of N requests at once (N from the scenario; 200 in
//! the built-in suites). Success rate and p95 latency under target, and every
//! request accounted for: sent = ok + failed, nothing dropped or left unanswered.

use gatebench_driver::RunResults;
use gatebench_report::Evidence;
use serde_json::json;

use super::{CheckOutcome, Ctx, by_class, criterion};

/// The verdict on the burst's run (one process's, or its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, results: RunResults) -> Result<CheckOutcome, String> {
    let totals = &results.totals;
    let records = results.requests.as_deref().unwrap_or_default();
    if totals.sent == 0 {
        return Err("the burst sent no request".into());
    }
    let success = 100.0 * totals.ok as f64 / totals.sent as f64;
    let p95 = results
        .kinds
        .values()
        .filter_map(|k| k.latency_ms.as_ref())
        .map(|s| s.p95)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        })
        .map(|v| ctx.real_time_ms(v));
    let unanswered = records
        .iter()
        .filter(|r| r.outcome == "interrupted")
        .count() as u64;
    // Every request sent must end in exactly one outcome and have its record.
    let unaccounted = totals
        .sent
        .abs_diff(totals.ok + totals.failed + totals.interrupted)
        + (records.len() as u64).abs_diff(totals.sent)
        + unanswered;
    let criteria = vec![
        criterion(
            "success rate",
            Some(success),
            "%",
            ctx.spec.targets.success_rate_min.unwrap_or(99.0),
            true,
            format!("{:.2}% ({} of {})", success, totals.ok, totals.sent),
        ),
        criterion(
            "p95 latency",
            p95.as_ref().map(|v| v.0),
            "ms",
            ctx.spec.targets.p95_ms_max.unwrap_or(5000.0),
            false,
            p95.as_ref().map_or("-".into(), |v| v.1.clone()),
        ),
        criterion(
            "unaccounted requests",
            Some(unaccounted as f64),
            "count",
            ctx.spec.targets.lost_max.unwrap_or(0) as f64,
            false,
            format!(
                "sent {} = ok {} + failed {}; {} dropped, {} unanswered, {} records",
                totals.sent,
                totals.ok,
                totals.failed,
                totals.dropped,
                unanswered,
                records.len()
            ),
        ),
    ];
    let evidence = Evidence {
        summary: format!(
            "{} requests in one burst: {} succeeded ({success:.2}%), p95 {}; errors by class: {}.",
            totals.sent,
            totals.ok,
            p95.as_ref().map_or("-".into(), |v| v.1.clone()),
            by_class(&totals.errors)
        ),
        details: json!({ "totals": totals, "kinds": results.kinds.keys().collect::<Vec<_>>() }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(results.name.clone(), results)],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}
