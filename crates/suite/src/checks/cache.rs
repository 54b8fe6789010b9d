//! Cache efficiency, judged by the truth: a workload drawn from the paraphrase
//! catalogs with repeats, and hard negatives (different asks about the same
//! subject; a question and its negation). A true hit is an answer the target gave without an upstream call (the
//! mocks' books); a false hit is an answer whose content the mocks produced only
//! for prompts of other intents. Where the target also claims hits and misses (its
//! profile's cache header), each claim is checked against the truth. A threshold
//! sweep over the catalogs with the same embedder shows where the target's
//! configured threshold sits, when the target declares it over HTTP.

use std::collections::{BTreeMap, HashMap};

use gatebench_report::{Chart, ChartKind, Criterion, Evidence, Recommendation, Series, Source};
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion, first, share};
use crate::profile::CacheSays;
use crate::sweep::{SweepRow, find_catalogs, sweep};
use crate::truth::generates_text;

const CATALOGS: [&str; 4] = [
    "stories.toml",
    "esg.toml",
    "support.toml",
    "hard-negatives.toml",
];

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let judged = ctx.drive_judged(scenario).await?;
    let records = judged.records();
    // Which intent each prompt belongs to, from the requests themselves.
    let intent_of: HashMap<&str, &str> = records
        .iter()
        .filter_map(|r| Some((r.prompt_digest.as_deref()?, r.intent.as_deref()?)))
        .collect();

    let mut lookups = 0u64;
    let mut hits = Vec::new();
    let mut false_hits = Vec::new();
    let mut unknown_origin = 0u64;
    let (mut claimed, mut claim_agrees) = (0u64, 0u64);
    let mut claim_wrong = Vec::new();
    let (mut true_similarity, mut false_similarity) = (Vec::new(), Vec::new());
    let mut by_request: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for (r, record) in records.iter().enumerate() {
        if !generates_text(record) || record.outcome != "ok" || record.content_digest.is_none() {
            continue;
        }
        lookups += 1;
        let hit = !judged.went_upstream(r);
        let slot = by_request.entry(record.request.as_str()).or_default();
        slot.0 += 1;
        let id = record.client_request_id.as_deref().unwrap_or("?");
        if hit {
            hits.push(r);
            slot.1 += 1;
            // The mocks can give two prompts the same answer, so a hit is true when
            // any call that delivered its content was asked by its own intent.
            let content = record.content_digest.as_deref();
            let sources: Vec<&str> = judged
                .window
                .calls
                .iter()
                .filter(|c| c.content_digest.as_deref() == content)
                .filter_map(|c| intent_of.get(c.prompt_digest.as_deref()?).copied())
                .collect();
            let own = record.intent.as_deref().filter(|i| sources.contains(i));
            let served_from = own.or(sources.first().copied());
            let similarity = record.cache_similarity.unwrap_or(f64::NAN);
            match (served_from, record.intent.as_deref()) {
                (Some(from), Some(intent)) if from == intent => true_similarity.push(similarity),
                (Some(from), Some(intent)) => {
                    slot.2 += 1;
                    false_similarity.push(similarity);
                    false_hits.push(json!({ "request": id, "intent": intent, "served_from": from, "similarity": record.cache_similarity }));
                }
                _ => unknown_origin += 1,
            }
        }
        if let Some(says) = ctx.subject.profile.cache_says(record) {
            claimed += 1;
            if (says == CacheSays::Hit) == hit {
                claim_agrees += 1;
            } else {
                claim_wrong.push(format!(
                    "{id} ({}{}): claimed {} but {}",
                    record.request,
                    if record.chunks.is_some() {
                        ", streamed"
                    } else {
                        ""
                    },
                    if says == CacheSays::Hit {
                        "a hit"
                    } else {
                        "a miss"
                    },
                    if hit {
                        "no upstream call was made"
                    } else {
                        "the answer came from an upstream call"
                    }
                ));
            }
        }
    }
    let hit_rate = share(hits.len() as u64, lookups);
    let judged_hits = hits.len() as u64 - unknown_origin;
    let false_rate = share(false_hits.len() as u64, judged_hits);
    let hit_min = ctx.spec.targets.hit_rate_min.unwrap_or(30.0);
    let false_max = ctx.spec.targets.false_hit_rate_max.unwrap_or(1.0);
    let mut criteria = vec![
        criterion(
            "true hit rate",
            hit_rate,
            "%",
            hit_min,
            true,
            format!(
                "{:.1}% ({} of {lookups} answers had no upstream call)",
                hit_rate.unwrap_or(0.0),
                hits.len()
            ),
        )
        .from_source(Source::Truth),
        criterion(
            "false-hit rate",
            false_rate,
            "%",
            false_max,
            false,
            format!(
                "{:.2}% ({} of {judged_hits} hits answered with another intent's content)",
                false_rate.unwrap_or(0.0),
                false_hits.len()
            ),
        )
        .from_source(Source::Truth),
    ];
    // A hit whose content no call of the run produced cannot be judged.
    criteria.push(Criterion {
        name: "hits not traced to an upstream call".into(),
        target: "none".into(),
        measured: format!("{unknown_origin} of {} hits", hits.len()),
        passed: unknown_origin == 0,
        value: Some(unknown_origin as f64),
        unit: "count".into(),
        higher_is_better: false,
        source: Source::Truth,
    });
    if claimed > 0 {
        criteria.push(
            criterion(
                "cache claims that match the truth",
                share(claim_agrees, claimed),
                "%",
                100.0,
                true,
                format!("{claim_agrees} of {claimed} responses' cache headers"),
            )
            .from_source(Source::ClaimVsTruth),
        );
    }

    // The sweep, with the embedder and dimensions the target declares, if any.
    let config = ctx.subject.config().await;
    let cache = config.as_ref().and_then(|c| c.get("cache"));
    let configured = cache
        .and_then(|c| c.get("threshold")?.as_f64())
        .map(|t| t as f32);
    let model = cache
        .and_then(|c| c.get("embedding_model")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "text-embedding-3-small".to_owned());
    let dims = cache
        .and_then(|c| c.get("dimensions")?.as_u64())
        .map_or(1536, |d| d as usize);
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
            "{lookups} answers: {} without an upstream call ({:.1}%), {} of them with another intent's content ({:.2}% of judged hits). {} On the catalogs, the configured threshold {} gives precision {} and recall {}; the best F1 within the false-hit target is at {}.",
            hits.len(),
            hit_rate.unwrap_or(0.0),
            false_hits.len(),
            false_rate.unwrap_or(0.0),
            judged.attribution_sentence(),
            configured.map_or("(not declared by the target)".into(), |t| format!("{t:.2}")),
            configured_row.map_or("-".into(), |r| format!("{:.3}", r.precision())),
            configured_row.map_or("-".into(), |r| format!("{:.3}", r.recall())),
            best.map_or("-".into(), |r| format!("{:.2}", r.threshold)),
        ),
        details: json!({
            "answers": lookups,
            "true_hits": hits.len(),
            "false_hits": &false_hits[..false_hits.len().min(50)],
            "hits_of_unknown_origin": unknown_origin,
            "by_request": by_request.iter().map(|(k, (n, h, f))| (k.to_string(), json!({"answers": n, "hits": h, "false_hits": f}))).collect::<serde_json::Map<_, _>>(),
            "claims_checked": claimed,
            "claims_wrong": first(&claim_wrong),
            "similarity": { "true_hits": similarity_summary(&true_similarity), "false_hits": similarity_summary(&false_similarity) },
            "configured_threshold": configured,
            "sweep": rows.iter().map(|r| json!({
                "threshold": r.threshold, "hits": r.hits, "true_hits": r.true_hits, "answerable": r.answerable,
                "precision": r.precision(), "recall": r.recall(), "f1": r.f1(),
            })).collect::<Vec<_>>(),
            "truth": judged.truth_notes(),
        }),
    };
    let hit_points: Vec<(f64, bool)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| generates_text(r) && r.outcome == "ok" && r.content_digest.is_some())
        .map(|(i, r)| (r.sent_ms, !judged.went_upstream(i)))
        .collect();
    let charts = vec![
        hit_rate_chart(&ctx.spec.name, &hit_points),
        sweep_chart(&ctx.spec.name, &rows),
        similarity_chart(&ctx.spec.name, &true_similarity, &false_similarity),
    ];
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(judged.results.name.clone(), judged.results)],
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

/// True hit rate per second: `(sent ms, hit)` per answer.
fn hit_rate_chart(check: &str, answers: &[(f64, bool)]) -> Chart {
    let mut seconds: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (sent_ms, hit) in answers {
        let slot = seconds.entry((sent_ms / 1000.0) as u64).or_default();
        if *hit {
            slot.0 += 1;
        } else {
            slot.1 += 1;
        }
    }
    let points = seconds
        .iter()
        .filter(|(_, (h, m))| h + m > 0)
        .map(|(s, (h, m))| [*s as f64 + 1.0, 100.0 * *h as f64 / (*h + *m) as f64])
        .collect();
    Chart {
        id: format!("{check}-hit-rate"),
        title: "True cache hit rate over time (answers without an upstream call)".into(),
        kind: ChartKind::Line,
        x_label: "s".into(),
        y_unit: "%".into(),
        categories: Vec::new(),
        series: vec![Series {
            name: "hit rate".into(),
            points,
        }],
        load: None,
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
        load: None,
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
        load: None,
    }
}
