//! Cache efficiency: a workload drawn from the paraphrase catalogs with repeats.
//! The driver records each request's intent; the gateway says which entry it served
//! (`x-gatebench-cache-key`, also sent on the miss that stored it). A hit is false
//! when the entry it was served from was stored by a request of another intent.
//! Measured: the hit rate, the false-hit rate, the similarity of hits, and a
//! threshold sweep over the catalogs with the same embedder to show where the
//! configured threshold sits.

use std::collections::{BTreeMap, HashMap};

use gatebench_driver::RequestRecord;
use gatebench_report::{Chart, ChartKind, Criterion, Evidence, Recommendation, Series};
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion};
use crate::sweep::{SweepRow, find_catalogs, sweep};

const CATALOGS: [&str; 3] = ["stories.toml", "esg.toml", "support.toml"];

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let results = ctx.drive(scenario).await?;
    let records: Vec<&RequestRecord> = results
        .requests
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == "chat" && r.outcome == "ok")
        .collect();

    // Which intent stored each entry: the misses carry the key they were stored under.
    let mut stored: HashMap<&str, &str> = HashMap::new();
    for r in records
        .iter()
        .filter(|r| r.cache.as_deref() == Some("miss"))
    {
        if let (Some(key), Some(intent)) = (r.cache_key.as_deref(), r.intent.as_deref()) {
            stored.entry(key).or_insert(intent);
        }
    }
    let looked_up: Vec<&&RequestRecord> = records
        .iter()
        .filter(|r| matches!(r.cache.as_deref(), Some("hit") | Some("miss")))
        .collect();
    let hits: Vec<&&RequestRecord> = looked_up
        .iter()
        .copied()
        .filter(|r| r.cache.as_deref() == Some("hit"))
        .collect();
    let mut false_hits = Vec::new();
    let mut unattributed = 0u64;
    let (mut true_similarity, mut false_similarity) = (Vec::new(), Vec::new());
    for r in &hits {
        let served_from = r.cache_key.as_deref().and_then(|k| stored.get(k)).copied();
        let similarity = r.cache_similarity.unwrap_or(f64::NAN);
        match (served_from, r.intent.as_deref()) {
            (Some(from), Some(intent)) if from == intent => true_similarity.push(similarity),
            (Some(from), Some(intent)) => {
                false_similarity.push(similarity);
                false_hits.push(json!({ "request": r.request, "intent": intent, "served_from": from, "similarity": similarity }));
            }
            _ => unattributed += 1,
        }
    }
    let attributed = hits.len() as u64 - unattributed;
    let hit_rate =
        (!looked_up.is_empty()).then(|| 100.0 * hits.len() as f64 / looked_up.len() as f64);
    let false_rate = (attributed > 0).then(|| 100.0 * false_hits.len() as f64 / attributed as f64);

    let hit_min = ctx.spec.targets.hit_rate_min.unwrap_or(30.0);
    let false_max = ctx.spec.targets.false_hit_rate_max.unwrap_or(1.0);
    let mut criteria = vec![
        criterion(
            "hit rate",
            hit_rate,
            "%",
            hit_min,
            true,
            format!(
                "{:.1}% ({} hits of {} lookups)",
                hit_rate.unwrap_or(0.0),
                hits.len(),
                looked_up.len()
            ),
        ),
        criterion(
            "false-hit rate",
            false_rate,
            "%",
            false_max,
            false,
            format!(
                "{:.2}% ({} of {} attributed hits)",
                false_rate.unwrap_or(0.0),
                false_hits.len(),
                attributed
            ),
        ),
    ];
    // Hits nobody can attribute (an entry stored before the run) cannot be judged.
    criteria.push(Criterion {
        name: "hits attributed".into(),
        target: "every hit".into(),
        measured: format!("{attributed} of {}", hits.len()),
        passed: unattributed == 0 || !ctx.subject.is_embedded(),
        value: Some(unattributed as f64),
        unit: "count".into(),
        higher_is_better: false,
    });

    // The sweep, with the embedder and dimensions the gateway uses.
    let (configured, model, dims) = match &ctx.subject.embedded_config {
        Some(config) => (
            Some(config.cache.threshold),
            config.cache.embedding_model.clone(),
            config.cache.dimensions,
        ),
        None => (None, "text-embedding-3-small".to_owned(), 1536),
    };
    let dir =
        find_catalogs(&ctx.suite.base).ok_or("fixtures/prompts not found above the suite file")?;
    let rows = tokio::task::spawn_blocking(move || sweep(&dir, &CATALOGS, &model, dims, 0x5eed))
        .await
        .map_err(|e| e.to_string())??;
    let best = best_row(&rows, false_max / 100.0);

    let mut recommendations = Vec::new();
    if let (Some(best), Some(configured)) = (best, configured) {
        let failing_hits = hit_rate.is_some_and(|r| r < hit_min);
        let failing_false = false_rate.is_some_and(|r| r > false_max);
        if (failing_hits || failing_false) && (best.threshold - configured).abs() >= 0.02 {
            recommendations.push(Recommendation {
                rule: "cache-threshold".into(),
                check: ctx.spec.name.clone(),
                message: format!(
                    "Move the cache threshold from {configured:.2} to {:.2}: on the catalogs it has the best F1 ({:.3}) with false hits within {false_max}% (precision {:.3}, recall {:.3}).",
                    best.threshold,
                    best.f1(),
                    best.precision(),
                    best.recall()
                ),
                figure: format!(
                    "hit rate {:.1}% (target ≥ {hit_min}%), false-hit rate {:.2}% (target ≤ {false_max}%)",
                    hit_rate.unwrap_or(0.0),
                    false_rate.unwrap_or(0.0)
                ),
            });
        }
    }

    let similarity_summary = |v: &[f64]| -> serde_json::Value {
        let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                .copied()
        };
        json!({ "count": v.len(), "min": v.first(), "p50": at(0.5), "max": v.last() })
    };
    let configured_row =
        configured.and_then(|t| rows.iter().find(|r| (r.threshold - t).abs() < 0.005));
    let evidence = Evidence {
        summary: format!(
            "{} cache lookups: {} hits ({:.1}%), {} false ({:.2}% of attributed hits). On the catalogs, the configured threshold {} gives precision {} and recall {}; the best F1 within the false-hit target is at {}.",
            looked_up.len(),
            hits.len(),
            hit_rate.unwrap_or(0.0),
            false_hits.len(),
            false_rate.unwrap_or(0.0),
            configured.map_or("(unknown for an external target)".into(), |t| format!(
                "{t:.2}"
            )),
            configured_row.map_or("-".into(), |r| format!("{:.3}", r.precision())),
            configured_row.map_or("-".into(), |r| format!("{:.3}", r.recall())),
            best.map_or("-".into(), |r| format!("{:.2}", r.threshold)),
        ),
        details: json!({
            "lookups": looked_up.len(),
            "hits": hits.len(),
            "false_hits": false_hits,
            "unattributed_hits": unattributed,
            "similarity": { "true_hits": similarity_summary(&true_similarity), "false_hits": similarity_summary(&false_similarity) },
            "configured_threshold": configured,
            "sweep": rows.iter().map(|r| json!({
                "threshold": r.threshold, "hits": r.hits, "true_hits": r.true_hits, "answerable": r.answerable,
                "precision": r.precision(), "recall": r.recall(), "f1": r.f1(),
            })).collect::<Vec<_>>(),
        }),
    };
    let charts = vec![
        hit_rate_chart(&ctx.spec.name, &records),
        sweep_chart(&ctx.spec.name, &rows),
        similarity_chart(&ctx.spec.name, &true_similarity, &false_similarity),
    ];
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(results.name.clone(), results)],
        charts,
        recommendations,
    })
}

/// The threshold with the best F1 among those whose false-hit rate is within `max_false`.
fn best_row(rows: &[SweepRow], max_false: f64) -> Option<SweepRow> {
    rows.iter()
        .copied()
        .filter(|r| r.false_hit_rate() <= max_false)
        .max_by(|a, b| a.f1().total_cmp(&b.f1()))
}

fn hit_rate_chart(check: &str, records: &[&RequestRecord]) -> Chart {
    let mut seconds: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for r in records {
        let slot = seconds.entry((r.sent_ms / 1000.0) as u64).or_default();
        match r.cache.as_deref() {
            Some("hit") => slot.0 += 1,
            Some("miss") => slot.1 += 1,
            _ => {}
        }
    }
    let points = seconds
        .iter()
        .filter(|(_, (h, m))| h + m > 0)
        .map(|(s, (h, m))| [*s as f64 + 1.0, 100.0 * *h as f64 / (*h + *m) as f64])
        .collect();
    Chart {
        id: format!("{check}-hit-rate"),
        title: "Cache hit rate over time".into(),
        kind: ChartKind::Line,
        x_label: "s".into(),
        y_unit: "%".into(),
        categories: Vec::new(),
        series: vec![Series {
            name: "hit rate".into(),
            points,
        }],
    }
}

fn sweep_chart(check: &str, rows: &[SweepRow]) -> Chart {
    let series = |name: &str, f: fn(&SweepRow) -> f64| Series {
        name: name.into(),
        points: rows
            .iter()
            .map(|r| [f64::from(r.threshold), f(r)])
            .collect(),
    };
    Chart {
        id: format!("{check}-sweep"),
        title: "Threshold sweep on the catalogs".into(),
        kind: ChartKind::Line,
        x_label: "threshold".into(),
        y_unit: "".into(),
        categories: Vec::new(),
        series: vec![
            series("precision", SweepRow::precision),
            series("recall", SweepRow::recall),
            series("F1", SweepRow::f1),
        ],
    }
}

fn similarity_chart(check: &str, true_hits: &[f64], false_hits: &[f64]) -> Chart {
    // Ten buckets of 0.05 from 0.50; 1.0 falls in the last one.
    let bucket = |v: f64| (v >= 0.5).then(|| (((v - 0.5) / 0.05).floor() as usize).min(9));
    let count = |values: &[f64]| -> Vec<[f64; 2]> {
        let mut counts = [0u64; 10];
        values
            .iter()
            .filter_map(|v| bucket(*v))
            .for_each(|b| counts[b] += 1);
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| [i as f64, *n as f64])
            .collect()
    };
    Chart {
        id: format!("{check}-similarity"),
        title: "Similarity of cache hits".into(),
        kind: ChartKind::Bar,
        x_label: "similarity".into(),
        y_unit: "hits".into(),
        categories: (0..10)
            .map(|i| format!("{:.2}", 0.5 + 0.05 * f64::from(i)))
            .collect(),
        series: vec![
            Series {
                name: "true hits".into(),
                points: count(true_hits),
            },
            Series {
                name: "false hits".into(),
                points: count(false_hits),
            },
        ],
    }
}
