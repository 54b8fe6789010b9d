//! Concurrent handling: a burst of N requests at once (N from the scenario; 200 in
//! the built-in suites). Success rate, the latency the target added to the
//! provider's own time under the burst, and every request accounted for: sent =
//! ok + failed, nothing dropped or left unanswered.
//!
//! The latency a client sees is mostly the provider's: a 150-token story streams
//! for seconds at the mock's drawn pace, and which draws a burst gets moves its p95
//! by more than any target adds. So the check judges what the target added: each
//! request's latency less the time its upstream calls took at the mocks (from the
//! books, overlapping calls counted once) and less the time it waited before its
//! first call while the provider had no room for its key (that key's calls in
//! flight at the mock's per-key limit: ElevenLabs allows 15). A target's queue
//! wait for slots of its own, retries' back-off and its own work are in it. A
//! suite may also bound the whole latency (`p95_ms_max`), a service level that
//! then includes the provider's share.

use std::collections::{BTreeMap, HashMap};

use gatebench_report::{Evidence, Source};
use gatebench_wire::books::CallRecord;
use serde_json::json;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, by_class, criterion};
use crate::stats::Millis;
use crate::truth::Window;

/// Added latency at p95 a burst may cost, ms, when the suite names no target.
const ADDED_P95_MS_MAX: f64 = 1000.0;

/// One request name's latencies in the burst.
#[derive(Debug, Default)]
struct Split {
    /// What its upstream calls took at the mocks.
    upstream: Millis,
    /// How long it waited for its first call while the provider had no room.
    provider_full: Millis,
    /// The client's wait less those two (its client-side latencies are the
    /// driver's, in the run's figures for the request name).
    added: Millis,
}

/// The verdict on the burst's run (one process's, or its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, judged: Judged) -> Result<CheckOutcome, String> {
    let totals = &judged.results.totals;
    let records = judged.records();
    if totals.sent == 0 {
        return Err("the burst sent no request".into());
    }
    let success = 100.0 * totals.ok as f64 / totals.sent as f64;
    let full = full_spans(&judged.window);
    let mut splits: BTreeMap<&str, Split> = BTreeMap::new();
    for (r, record) in records.iter().enumerate() {
        let upstream = upstream_ms(judged.calls_of(r));
        let sent = judged.started_ms as f64 + record.sent_ms;
        let no_room = judged
            .calls_of(r)
            .min_by_key(|c| c.at_ms)
            .and_then(|first| {
                let spans = full.get(&(first.mock.as_str(), key_of(first)))?;
                Some(overlap(spans, sent, first.at_ms as f64))
            })
            .unwrap_or(0.0);
        let split = splits.entry(record.request.as_str()).or_default();
        split.upstream.record(upstream);
        split.provider_full.record(no_room);
        split
            .added
            .record((record.latency_ms - upstream - no_room).max(0.0));
    }
    // the client-side p95 of a request name, as the run's figures give it
    let client_p95 = |name: &str| {
        judged
            .results
            .kinds
            .get(name)
            .and_then(|k| k.latency_ms.as_ref())
            .map(|s| s.p95)
    };
    // The request name whose added p95 is the highest decides.
    let worst = splits
        .iter()
        .filter_map(|(name, s)| Some((*name, s.added.quantile(0.95)?, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let added = worst.map(|(name, added, split)| {
        let (value, shown) = ctx.real_time_ms(added);
        let p95 = |m: &Millis| ctx.real_time_ms(m.quantile(0.95).unwrap_or_default()).1;
        let no_room = match split.provider_full.quantile(0.95) {
            Some(v) if v > 0.0 => format!(
                ", waiting while the provider had no room p95 {}",
                p95(&split.provider_full)
            ),
            _ => String::new(),
        };
        let measured = format!(
            "{shown} for {name} (its client p95 {}, its upstream calls' own time p95 {}{no_room})",
            ctx.real_time_ms(client_p95(name).unwrap_or_default()).1,
            p95(&split.upstream),
        );
        (value, measured)
    });
    // the whole latency: the request name with the highest client-side p95
    let p95 = judged
        .results
        .kinds
        .values()
        .filter_map(|k| k.latency_ms.as_ref())
        .map(|s| s.p95)
        .reduce(f64::max)
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
    let targets = &ctx.spec.targets;
    let mut criteria = vec![
        criterion(
            "success rate",
            Some(success),
            "%",
            targets.success_rate_min.unwrap_or(99.0),
            true,
            format!("{:.2}% ({} of {})", success, totals.ok, totals.sent),
        ),
        criterion(
            "p95 latency added by the target",
            added.as_ref().map(|v| v.0),
            "ms",
            targets.added_p95_ms_max.unwrap_or(ADDED_P95_MS_MAX),
            false,
            added.as_ref().map_or("-".into(), |v| v.1.clone()),
        )
        .from_source(Source::Truth),
    ];
    if let Some(max) = targets.p95_ms_max {
        criteria.push(criterion(
            "p95 latency",
            p95.as_ref().map(|v| v.0),
            "ms",
            max,
            false,
            p95.as_ref().map_or("-".into(), |v| v.1.clone()),
        ));
    }
    criteria.push(criterion(
        "unaccounted requests",
        Some(unaccounted as f64),
        "count",
        targets.lost_max.unwrap_or(0) as f64,
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
    ));
    let p95_of = |m: &Millis| m.quantile(0.95).map(|v| ctx.real_time_ms(v).0);
    let by_request: BTreeMap<&str, _> = splits
        .iter()
        .map(|(name, s)| {
            let figures = json!({
                "requests": s.added.count(),
                "client_p95_ms": client_p95(name).map(|v| ctx.real_time_ms(v).0),
                "upstream_p95_ms": p95_of(&s.upstream),
                "waited_for_provider_room_p95_ms": p95_of(&s.provider_full),
                "added_p95_ms": p95_of(&s.added),
            });
            (*name, figures)
        })
        .collect();
    let evidence = Evidence {
        summary: format!(
            "{} requests in one burst: {} succeeded ({success:.2}%), p95 {}, of which the target added at most {} at p95; errors by class: {}. {}",
            totals.sent,
            totals.ok,
            p95.as_ref().map_or("-".into(), |v| v.1.clone()),
            added.as_ref().map_or("-".into(), |v| v.1.clone()),
            by_class(&totals.errors),
            judged.attribution_sentence()
        ),
        details: json!({
            "totals": totals,
            "latency_by_request": by_request,
            "truth": judged.truth_notes(),
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(judged.results.name.clone(), judged.results)],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}

/// When each mock with a per-key concurrency limit had no room for a key's next
/// request, by mock and key: spans (Unix ms) with that key's calls in flight at
/// the limit.
fn full_spans(window: &Window) -> HashMap<(&str, &str), Vec<(f64, f64)>> {
    let mut events: HashMap<(&str, &str), Vec<(f64, i32)>> = HashMap::new();
    for call in &window.calls {
        if !window.concurrent_per_key.contains_key(&call.mock) {
            continue;
        }
        let start = call.at_ms as f64;
        let at = events
            .entry((call.mock.as_str(), key_of(call)))
            .or_default();
        at.push((start, 1));
        at.push((start + call.duration_ms.max(0.0), -1));
    }
    events
        .into_iter()
        .map(|((mock, key), mut at)| {
            let limit = window.concurrent_per_key.get(mock).map_or(0, |&l| l as i32);
            // a call ending frees its slot before one starting at the same time takes it
            at.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut spans = Vec::new();
            let (mut in_flight, mut since) = (0, None);
            for (t, step) in at {
                in_flight += step;
                match since {
                    None if in_flight >= limit => since = Some(t),
                    Some(from) if in_flight < limit => {
                        spans.push((from, t));
                        since = None;
                    }
                    _ => {}
                }
            }
            ((mock, key), spans)
        })
        .collect()
}

/// The key a mock limits `call` under: calls without one share a limit, as the
/// mocks count them.
fn key_of(call: &CallRecord) -> &str {
    call.api_key_id.as_deref().unwrap_or("")
}

/// How much of `from..to` the sorted, disjoint `spans` cover, ms.
fn overlap(spans: &[(f64, f64)], from: f64, to: f64) -> f64 {
    spans
        .iter()
        .map(|&(s, e)| (e.min(to) - s.max(from)).max(0.0))
        .sum()
}

/// How long `calls` kept the mocks busy, ms: the union of their spans from arrival
/// to last byte, so calls made in parallel (a fan-out, a hedge) count once.
fn upstream_ms<'a>(calls: impl Iterator<Item = &'a CallRecord>) -> f64 {
    let mut spans: Vec<(f64, f64)> = calls
        .map(|c| (c.at_ms as f64, c.at_ms as f64 + c.duration_ms.max(0.0)))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut open: Option<(f64, f64)> = None;
    for (start, end) in spans {
        match &mut open {
            Some((_, e)) if start <= *e => *e = e.max(end),
            _ => {
                if let Some((s, e)) = open.replace((start, end)) {
                    total += e - s;
                }
            }
        }
    }
    total + open.map_or(0.0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truth::chat_call;

    fn at(at_ms: u64, duration_ms: f64) -> CallRecord {
        CallRecord {
            at_ms,
            duration_ms,
            ..chat_call(None, "p", "c", true)
        }
    }

    #[test]
    fn upstream_time_counts_overlapping_calls_once() {
        assert_eq!(upstream_ms([].iter()), 0.0);
        // a retry after a failed attempt: both spans
        assert_eq!(upstream_ms([at(0, 10.0), at(20, 30.0)].iter()), 40.0);
        // a fan-out of two calls at once, one inside the other: the longer span
        assert_eq!(upstream_ms([at(5, 10.0), at(0, 100.0)].iter()), 100.0);
        // partly overlapping, then a separate one
        let calls = [at(0, 50.0), at(40, 20.0), at(100, 5.0)];
        assert_eq!(upstream_ms(calls.iter()), 65.0);
    }

    #[test]
    fn a_key_at_its_concurrency_limit_leaves_no_room() {
        let keyed = |key: &str, at_ms, duration_ms| CallRecord {
            mock: "elevenlabs".into(),
            api_key_id: Some(key.into()),
            ..at(at_ms, duration_ms)
        };
        let mut window = Window {
            calls: vec![
                keyed("k", 0, 10.0),
                keyed("k", 0, 20.0),
                // takes the slot the first frees, at the instant it frees it
                keyed("k", 10, 20.0),
                // another key: never two in flight
                keyed("other", 0, 50.0),
                // a mock without a limit
                at(0, 100.0),
                at(0, 100.0),
            ],
            ..Window::default()
        };
        window.concurrent_per_key.insert("elevenlabs".into(), 2);
        let full = full_spans(&window);
        let spans = &full[&("elevenlabs", "k")];
        assert_eq!(spans, &vec![(0.0, 10.0), (10.0, 20.0)]);
        assert!(full[&("elevenlabs", "other")].is_empty());
        assert!(!full.contains_key(&("openai", "")));
        // a request that waited from 5 to 25 had no room from 5 to 20
        assert_eq!(overlap(spans, 5.0, 25.0), 15.0);
        assert_eq!(overlap(spans, 20.0, 30.0), 0.0);
    }
}
