//! Queue performance: a load with room to spare measures what the queue adds when
//! nobody waits; a mixed-priority load above the upstream's capacity shows that
//! higher classes wait less than lower ones, that low priority is still served, and
//! that no request is lost.
//!
//! The scenario has two parts: `room` (under capacity) and `saturated` (above it,
//! requests named after their class: `critical`, `high`, `normal`, `low`). Queue
//! times come from each response's `server-timing: queue;dur=...`.

use std::collections::BTreeMap;

use gatebench_driver::RequestRecord;
use gatebench_report::{Chart, ChartKind, Criterion, Evidence, Recommendation, Series};
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion, number};
use crate::stats::Millis;

const CLASSES: [&str; 4] = ["critical", "high", "normal", "low"];

/// How much longer (ms) a class may wait than the next lower one at p95.
const ORDER_SLACK_MS: f64 = 1.0;

/// Whether each class of `ladder` (p95 waits, highest class first) waited no longer
/// than the next lower one. A class whose p95 wait is within one upstream call
/// (`call_ms`) was served at the next free slot: a queue that lets the calls in its
/// slots finish cannot serve it sooner, so it is ahead of any class, and which of
/// two such classes waited longer is the luck of which call was ending. Above
/// that, a class may exceed the next lower one by `ORDER_SLACK_MS` of scheduling
/// noise.
fn ordered(ladder: &[Option<f64>], call_ms: Option<f64>) -> bool {
    let next_slot = call_ms.unwrap_or(0.0);
    ladder.iter().all(Option::is_some)
        && ladder.windows(2).all(|w| match (w[0], w[1]) {
            (Some(higher), Some(lower)) => higher <= lower.max(next_slot) + ORDER_SLACK_MS,
            _ => false,
        })
}

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let results = ctx.drive(scenario).await?;
    let records = results.requests.as_deref().unwrap_or_default();
    let queue_ms = |r: &RequestRecord| r.server_timing.get("queue").copied();

    let room: Millis = records
        .iter()
        .filter(|r| r.scenario == "room" && r.outcome == "ok")
        .filter_map(queue_ms)
        .collect();
    let mut waits: BTreeMap<&str, Millis> = BTreeMap::new();
    let mut calls = Millis::default();
    let mut served: BTreeMap<&str, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| r.scenario == "saturated") {
        let class = r.priority.as_deref().unwrap_or("normal");
        let class = CLASSES
            .iter()
            .find(|c| **c == class)
            .copied()
            .unwrap_or("normal");
        if r.outcome == "ok" {
            *served.entry(class).or_default() += 1;
            if let Some(ms) = queue_ms(r) {
                waits.entry(class).or_default().record(ms);
            }
            if let Some(&ms) = r.server_timing.get("upstream") {
                calls.record(ms);
            }
        }
    }
    let p95 = |class: &str| waits.get(class).and_then(|m| m.quantile(0.95));

    let target_overhead = ctx.spec.targets.queue_overhead_p99_ms.unwrap_or(5.0);
    let overhead = room.quantile(0.99);
    let mut criteria = vec![
        criterion(
            "queue overhead p99",
            overhead,
            "ms",
            target_overhead,
            false,
            format!(
                "{} over {} requests with room",
                overhead.map_or("-".into(), |v| number(v, "ms")),
                room.count()
            ),
        )
        // the target's own `server-timing: queue`
        .from_source(gatebench_report::Source::Claim),
    ];

    // Each class waits no longer than the next lower one, at p95 (see `ordered`).
    let ladder: Vec<Option<f64>> = CLASSES.iter().map(|c| p95(c)).collect();
    let call_ms = calls.quantile(0.95);
    let ladder_text = CLASSES
        .iter()
        .zip(&ladder)
        .map(|(c, v)| format!("{c} {}", v.map_or("-".into(), |v| number(v, "ms"))))
        .collect::<Vec<_>>()
        .join(" ≤ ");
    criteria.push(Criterion {
        name: "p95 wait by class".into(),
        target: format!(
            "critical ≤ high ≤ normal ≤ low (±1 ms; a wait within one upstream call, p95 {}, is the next free slot)",
            call_ms.map_or("-".into(), |v| number(v, "ms"))
        ),
        measured: ladder_text.clone(),
        passed: ordered(&ladder, call_ms),
        value: None,
        unit: "ms".into(),
        higher_is_better: false,
        source: gatebench_report::Source::Claim,
    });
    let low = served.get("low").copied().unwrap_or(0);
    criteria.push(criterion(
        "low priority served",
        Some(low as f64),
        "count",
        1.0,
        true,
        format!("{low} served"),
    ));

    // Nothing lost: every request sent came back with an answer (a 429 from a full
    // queue is an answer; a timeout or a dropped connection is not).
    let lost: u64 = records
        .iter()
        .filter(|r| {
            matches!(
                r.outcome.as_str(),
                "timeout" | "connect_error" | "tls_error" | "reset" | "interrupted" | "stream_cut"
            )
        })
        .count() as u64;
    let sent = results.totals.sent;
    let lost_max = ctx.spec.targets.lost_max.unwrap_or(0);
    criteria.push(criterion(
        "requests lost",
        Some(lost as f64),
        "count",
        lost_max as f64,
        false,
        format!(
            "{lost} of {sent} sent ({} answered)",
            results.totals.ok + results.totals.failed - lost
        ),
    ));

    let bars: Vec<Series> = ["p50", "p95", "p99"]
        .iter()
        .map(|q| {
            let quantile = match *q {
                "p50" => 0.5,
                "p95" => 0.95,
                _ => 0.99,
            };
            Series {
                name: (*q).into(),
                points: CLASSES
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        [
                            i as f64,
                            waits
                                .get(c)
                                .and_then(|m| m.quantile(quantile))
                                .unwrap_or(0.0),
                        ]
                    })
                    .collect(),
            }
        })
        .collect();
    let chart = Chart {
        id: "queue-wait-by-priority".into(),
        title: "Queue wait by priority (saturated)".into(),
        kind: ChartKind::Bar,
        x_label: "priority".into(),
        y_unit: "ms".into(),
        categories: CLASSES.iter().map(|c| (*c).to_owned()).collect(),
        series: bars,
        load: None,
    };

    let mut recommendations = Vec::new();
    let latency_p95 = results
        .kinds
        .values()
        .filter_map(|k| k.latency_ms.as_ref())
        .map(|s| s.p95)
        .fold(0.0, f64::max);
    if let Some(low_wait) = p95("low")
        && latency_p95 > 0.0
        && low_wait > 0.5 * latency_p95
    {
        recommendations.push(Recommendation {
            rule: "queue-dominates".into(),
            check: ctx.spec.name.clone(),
            message: "Queue wait is most of the latency under load: raise the provider's upstream concurrency (if its rate limits allow) or shed low-priority load earlier with deadlines.".into(),
            figure: format!("low p95 wait {} of a p95 latency of {}", number(low_wait, "ms"), number(latency_p95, "ms")),
        });
    }
    let evidence = Evidence {
        summary: format!(
            "{} requests with room (queue p99 {}); {} above capacity, p95 waits {ladder_text}; {low} low-priority requests served; {lost} lost.",
            room.count(),
            overhead.map_or("-".into(), |v| number(v, "ms")),
            records.iter().filter(|r| r.scenario == "saturated").count(),
        ),
        details: json!({
            "room": { "count": room.count(), "p50_ms": room.quantile(0.5), "p99_ms": overhead },
            "saturated": CLASSES.iter().map(|c| (c.to_string(), json!({
                "served": served.get(c).copied().unwrap_or(0),
                "p50_ms": waits.get(c).and_then(|m| m.quantile(0.5)),
                "p95_ms": waits.get(c).and_then(|m| m.quantile(0.95)),
                "p99_ms": waits.get(c).and_then(|m| m.quantile(0.99)),
            }))).collect::<serde_json::Map<_, _>>(),
            "errors": results.totals.errors,
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(results.name.clone(), results)],
        charts: vec![chart],
        recommendations,
    })
}

#[cfg(test)]
mod tests {
    use super::ordered;

    #[test]
    fn classes_served_at_the_next_free_slot_are_in_order_whichever_waited_longer() {
        // critical 165.8 ms above high 163.6 ms, both within one 449 ms call
        let ladder = [Some(165.8), Some(163.6), Some(3272.7), Some(6127.6)];
        assert!(ordered(&ladder, Some(449.0)));
        // without the call's length, the same ladder is out of order
        assert!(!ordered(&ladder, None));
    }

    #[test]
    fn a_class_queued_behind_a_lower_one_is_out_of_order() {
        // critical waited for several calls while high went at the next free slot
        assert!(!ordered(
            &[Some(2000.0), Some(150.0), Some(3000.0), Some(6000.0)],
            Some(449.0)
        ));
        // normal waited longer than low, both far past one call
        assert!(!ordered(
            &[Some(100.0), Some(120.0), Some(6000.0), Some(3000.0)],
            Some(449.0)
        ));
        // beyond a call, a millisecond of noise is all a class may exceed the next by
        assert!(ordered(
            &[Some(100.0), Some(120.0), Some(3000.5), Some(3000.0)],
            Some(449.0)
        ));
    }

    #[test]
    fn a_class_with_no_wait_measured_fails_the_order() {
        assert!(!ordered(
            &[Some(1.0), None, Some(3000.0), Some(6000.0)],
            Some(449.0)
        ));
    }
}
