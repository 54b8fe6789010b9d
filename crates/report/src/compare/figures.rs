//! The per-request figures of runs present in both reports: latency percentiles and
//! TTFT p95 from the HDR histograms, error and cache hit rates with their binomial
//! noise, and requests per second.

use std::collections::BTreeMap;

use gatebench_results::{RunResults, Summary};
use hdrhistogram::Histogram;

use super::noise::{self, Interval};
use super::{FigureChange, NoiseModel, Scope, judge};
use crate::model::SuiteReport;

/// Raw histogram values are microseconds; figures are milliseconds.
const US_TO_MS: f64 = 0.001;

/// The latency and TTFT histograms of a run's request names, merged over outcomes.
#[derive(Default)]
struct RunHists {
    latency: BTreeMap<String, Histogram<u64>>,
    ttft: BTreeMap<String, Histogram<u64>>,
}

fn run_hists(key: &str, run: &RunResults, notes: &mut Vec<String>) -> RunHists {
    let mut h = RunHists::default();
    for blob in &run.histograms {
        // request-level blobs (outcome null) are gateway figures, not latencies
        if blob.outcome.is_none() || blob.unit != "us" {
            continue;
        }
        let map = match blob.metric.as_str() {
            "latency" => &mut h.latency,
            "ttft" => &mut h.ttft,
            _ => continue,
        };
        match noise::decode(&blob.hdr) {
            Ok(d) => match map.get_mut(&blob.request) {
                Some(into) => noise::add(into, &d),
                None => {
                    map.insert(blob.request.clone(), d);
                }
            },
            Err(e) => notes.push(format!(
                "run `{key}`: the {} histogram of `{}` ({}) does not decode ({e}); its percentiles are judged by tolerance alone",
                blob.metric,
                blob.request,
                blob.outcome.as_deref().unwrap_or("all")
            )),
        }
    }
    h
}

pub(super) fn run_figures(
    current: &SuiteReport,
    baseline: &SuiteReport,
    tolerance: f64,
    out: &mut Vec<FigureChange>,
    notes: &mut Vec<String>,
) {
    for key in baseline
        .runs
        .keys()
        .filter(|k| !current.runs.contains_key(*k))
    {
        notes.push(format!("run `{key}` is only in the baseline"));
    }
    for (key, cur) in &current.runs {
        let Some(base) = baseline.runs.get(key) else {
            notes.push(format!("run `{key}` is not in the baseline"));
            continue;
        };
        let (ch, bh) = (run_hists(key, cur, notes), run_hists(key, base, notes));
        for name in base.kinds.keys().filter(|k| !cur.kinds.contains_key(*k)) {
            notes.push(format!(
                "run `{key}`: request `{name}` is only in the baseline"
            ));
        }
        for (name, ck) in &cur.kinds {
            let Some(bk) = base.kinds.get(name) else {
                notes.push(format!(
                    "run `{key}`: request `{name}` is not in the baseline"
                ));
                continue;
            };
            let scope = || Scope::Request {
                run: key.clone(),
                request: name.clone(),
            };
            let percentile =
                |out: &mut Vec<FigureChange>,
                 metric: &str,
                 (q, pick): (f64, fn(&Summary) -> f64),
                 hists: (Option<&Histogram<u64>>, Option<&Histogram<u64>>),
                 summaries: (Option<&Summary>, Option<&Summary>)| {
                    let read = |h: &Histogram<u64>| h.value_at_quantile(q) as f64 * US_TO_MS;
                    let interval = |h: &Histogram<u64>| {
                        noise::quantile_interval(h, q).map(|i| Interval {
                            lo: i.lo * US_TO_MS,
                            hi: i.hi * US_TO_MS,
                        })
                    };
                    if let (Some(b), Some(c)) = hists
                        && !b.is_empty()
                        && !c.is_empty()
                    {
                        let intervals = interval(b).zip(interval(c));
                        out.push(judge(
                            scope(),
                            metric,
                            "ms",
                            false,
                            (read(b), read(c)),
                            tolerance,
                            NoiseModel::Histogram,
                            intervals,
                        ));
                    } else if let (Some(b), Some(c)) = summaries {
                        out.push(judge(
                            scope(),
                            metric,
                            "ms",
                            false,
                            (pick(b), pick(c)),
                            tolerance,
                            NoiseModel::Unknown,
                            None,
                        ));
                    }
                };
            let p50: (f64, fn(&Summary) -> f64) = (0.5, |s| s.p50);
            let p95: (f64, fn(&Summary) -> f64) = (0.95, |s| s.p95);
            let p99: (f64, fn(&Summary) -> f64) = (0.99, |s| s.p99);
            for (metric, q) in [
                ("latency p50", p50),
                ("latency p95", p95),
                ("latency p99", p99),
            ] {
                percentile(
                    out,
                    metric,
                    q,
                    (bh.latency.get(name), ch.latency.get(name)),
                    (bk.latency_ms.as_ref(), ck.latency_ms.as_ref()),
                );
            }
            if bk.ttft_ms.is_some() || ck.ttft_ms.is_some() || bh.ttft.contains_key(name) {
                percentile(
                    out,
                    "ttft p95",
                    p95,
                    (bh.ttft.get(name), ch.ttft.get(name)),
                    (bk.ttft_ms.as_ref(), ck.ttft_ms.as_ref()),
                );
            }
            if bk.sent > 0 && ck.sent > 0 {
                let (bp, cp) = (
                    bk.failed as f64 / bk.sent as f64,
                    ck.failed as f64 / ck.sent as f64,
                );
                out.push(rate(
                    scope(),
                    "error rate",
                    false,
                    (bp, bk.sent),
                    (cp, ck.sent),
                    tolerance,
                ));
            }
            if base.duration_s > 0.0 && cur.duration_s > 0.0 {
                let (b, c) = (
                    bk.sent as f64 / base.duration_s,
                    ck.sent as f64 / cur.duration_s,
                );
                out.push(judge(
                    scope(),
                    "requests/s",
                    "req/s",
                    true,
                    (b, c),
                    tolerance,
                    NoiseModel::Unknown,
                    None,
                ));
            }
            let hits = |k: &gatebench_results::KindResults| {
                let g = k.gateway.as_ref()?;
                let n = g.cache.get("hit").copied().unwrap_or(0)
                    + g.cache.get("miss").copied().unwrap_or(0);
                (n > 0).then(|| {
                    (
                        g.cache.get("hit").copied().unwrap_or(0) as f64 / n as f64,
                        n,
                    )
                })
            };
            if let (Some(b), Some(c)) = (hits(bk), hits(ck)) {
                out.push(rate(scope(), "cache hit rate", true, b, c, tolerance));
            }
        }
    }
}

/// A rate figure in percent with its binomial interval.
fn rate(
    scope: Scope,
    metric: &str,
    higher_is_better: bool,
    (bp, bn): (f64, u64),
    (cp, cn): (f64, u64),
    tolerance: f64,
) -> FigureChange {
    let pct = |i: Interval| Interval {
        lo: 100.0 * i.lo,
        hi: 100.0 * i.hi,
    };
    let intervals = noise::rate_interval(bp, bn)
        .map(pct)
        .zip(noise::rate_interval(cp, cn).map(pct));
    judge(
        scope,
        metric,
        "%",
        higher_is_better,
        (100.0 * bp, 100.0 * cp),
        tolerance,
        NoiseModel::Binomial,
        intervals,
    )
}
