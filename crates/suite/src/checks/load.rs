//! Scenario load: the light, medium, heavy and burst patterns, each with its own
//! latency and error targets. The p95 judged is the worst of the pattern's request
//! kinds (the user feels the slowest thing they do), of the time a user waits for
//! the answer to start: time to first token for streams (how LLM load tests judge
//! them; a long story takes as long to generate through any gateway), the whole
//! latency otherwise. The evidence keeps every kind's full latency too.

use gatebench_driver::RunResults;
use gatebench_report::Evidence;
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion};

/// The verdict on each pattern's run (one process's, or its segments' merged), in
/// the order of the patterns.
pub(super) fn verdict(ctx: &Ctx<'_>, driven: Vec<RunResults>) -> Result<CheckOutcome, String> {
    if driven.len() != ctx.spec.patterns.len() {
        return Err(format!(
            "{} runs for {} patterns",
            driven.len(),
            ctx.spec.patterns.len()
        ));
    }
    let mut criteria = Vec::new();
    let mut runs = Vec::new();
    let mut table = Vec::new();
    for (pattern, results) in ctx.spec.patterns.iter().zip(driven) {
        let totals = &results.totals;
        let worst = results
            .kinds
            .iter()
            .filter_map(|(name, k)| {
                let (label, s) = match &k.ttft_ms {
                    Some(ttft) => (format!("{name}, first token"), ttft),
                    None => (name.clone(), k.latency_ms.as_ref()?),
                };
                Some((label, s.p95))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(name, p95)| (name, ctx.real_time_ms(p95)));
        let error_rate =
            (totals.sent > 0).then(|| 100.0 * totals.failed as f64 / totals.sent as f64);
        criteria.push(criterion(
            &format!("{} p95 wait for the answer", pattern.name),
            worst.as_ref().map(|w| w.1.0),
            "ms",
            pattern.p95_ms_max,
            false,
            worst
                .as_ref()
                .map_or("-".into(), |(name, p95)| format!("{} ({name})", p95.1)),
        ));
        criteria.push(criterion(
            &format!("{} errors", pattern.name),
            error_rate,
            "%",
            pattern.error_rate_max,
            false,
            format!(
                "{:.2}% ({} of {})",
                error_rate.unwrap_or(0.0),
                totals.failed,
                totals.sent
            ),
        ));
        table.push(json!({
            "pattern": pattern.name,
            "sent": totals.sent,
            "failed": totals.failed,
            "rps": totals.rps,
            "worst_p95_ms": worst.as_ref().map(|w| w.1.0),
            "worst_kind": worst.as_ref().map(|w| w.0.clone()),
            "latency_p95_ms": results
                .kinds
                .iter()
                .filter_map(|(name, k)| Some((name.clone(), k.latency_ms.as_ref()?.p95)))
                .collect::<std::collections::BTreeMap<_, _>>(),
        }));
        // a pattern named like its scenario is not named twice
        let key = if results.name == pattern.name {
            pattern.name.clone()
        } else {
            format!("{}-{}", pattern.name, results.name)
        };
        runs.push((key, results));
    }
    let evidence = Evidence {
        summary: table
            .iter()
            .map(|row| {
                format!(
                    "{}: {} sent, {} failed, {} req/s, worst p95 wait for the answer {} ms",
                    row["pattern"].as_str().unwrap_or(""),
                    row["sent"],
                    row["failed"],
                    row["rps"],
                    row["worst_p95_ms"]
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        details: json!(table),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs,
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}
