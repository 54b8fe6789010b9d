//! Building a run's results from its [`Store`]: per-kind figures from the merged
//! histograms, every histogram serialised so that runs merge exactly.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::hist::{Hist, round3};
use crate::outcome::Outcome;
use crate::record::RequestRecord;
use crate::run::{
    GatewayResults, HistogramBlob, KindResults, OutcomeResults, RunResults, SCHEMA_VERSION,
    ScenarioResults, Totals, UsageTotals,
};
use crate::store::{RequestStats, SIMILARITY_SCALE, Store, TOKENS_SCALE, US_TO_MS};
use crate::threshold::ThresholdResult;
use crate::timeseries::TimePoint;

/// What a run was, besides its measurements.
#[derive(Clone, Debug)]
pub struct RunMeta {
    /// Scenario file name.
    pub name: String,
    /// Scenario file path.
    pub scenario_file: Option<String>,
    /// Seed used.
    pub seed: u64,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// Planned length.
    pub planned: Duration,
    /// Stopped early.
    pub aborted: bool,
    /// Why.
    pub abort_reason: Option<String>,
    /// Executor per scenario.
    pub executors: BTreeMap<String, String>,
    /// The mocks' time scale, when known.
    pub time_scale: Option<f64>,
}

/// Builds results from a run's store.
pub fn build(
    meta: RunMeta,
    store: &Store,
    timeseries: Vec<TimePoint>,
    records: Option<Vec<RequestRecord>>,
    thresholds: Vec<ThresholdResult>,
) -> RunResults {
    let duration = store.elapsed.as_secs_f64();
    let mut totals = Totals::default();
    let mut scenarios: BTreeMap<String, ScenarioResults> = meta
        .executors
        .iter()
        .map(|(name, executor)| {
            (
                name.clone(),
                ScenarioResults {
                    executor: executor.clone(),
                    ..ScenarioResults::default()
                },
            )
        })
        .collect();
    let mut kinds = BTreeMap::new();
    let mut histograms = Vec::new();
    for r in &store.requests {
        let k = kind_results(r, &mut histograms);
        totals.sent += k.sent;
        totals.ok += k.ok;
        totals.failed += k.failed;
        totals.interrupted += k.interrupted;
        totals.dropped += k.dropped;
        for (class, n) in &k.errors {
            *totals.errors.entry(class.clone()).or_default() += n;
        }
        let s = scenarios.entry(r.scenario.clone()).or_default();
        s.sent += k.sent;
        s.ok += k.ok;
        s.failed += k.failed;
        s.interrupted += k.interrupted;
        s.dropped += k.dropped;
        kinds.insert(r.name.clone(), k);
    }
    totals.rps = if duration > 0.0 {
        round3(totals.sent as f64 / duration)
    } else {
        0.0
    };
    RunResults {
        schema_version: SCHEMA_VERSION,
        name: meta.name,
        scenario_file: meta.scenario_file,
        seed: meta.seed,
        started_at: humantime::format_rfc3339_millis(meta.started_at).to_string(),
        duration_s: round3(duration),
        planned_duration_s: round3(meta.planned.as_secs_f64()),
        time_scale: meta.time_scale,
        segment: None,
        aborted: meta.aborted,
        abort_reason: meta.abort_reason,
        totals,
        scenarios,
        kinds,
        thresholds,
        timeseries,
        histograms,
        // the detector runs in the driver; the engine fills these in
        findings: Vec::new(),
        bottleneck: None,
        resources: None,
        requests: records,
    }
}

fn kind_results(r: &RequestStats, blobs: &mut Vec<HistogramBlob>) -> KindResults {
    let mut merged: BTreeMap<&'static str, Hist> = BTreeMap::new();
    let mut outcomes = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for (outcome, stats) in &r.outcomes {
        let class = outcome.class().into_owned();
        for (metric, h) in stats.named() {
            // a request the run cut off has no response time: the moment it was
            // cut is kept under its own outcome, out of the request's figures
            if *outcome != Outcome::Interrupted {
                merged.entry(metric).or_default().merge(h);
            }
            if let Some(hdr) = h.to_base64() {
                blobs.push(HistogramBlob {
                    request: r.name.clone(),
                    outcome: Some(class.clone()),
                    metric: metric.to_owned(),
                    unit: unit_of(metric).to_owned(),
                    hdr,
                });
            }
        }
        if outcome.is_error() {
            errors.insert(class.clone(), stats.count);
        }
        outcomes.insert(
            class,
            OutcomeResults {
                count: stats.count,
                latency_ms: stats.latency.summary(US_TO_MS),
            },
        );
    }
    let summary = |name: &str, scale: f64| merged.get(name).and_then(|h| h.summary(scale));
    let mut request_blob = |metric: String, unit: &str, h: &Hist| {
        if let Some(hdr) = h.to_base64() {
            blobs.push(HistogramBlob {
                request: r.name.clone(),
                outcome: None,
                metric,
                unit: unit.to_owned(),
                hdr,
            });
        }
    };
    request_blob("similarity".into(), "similarity_x1000", &r.similarity);
    request_blob("attempts".into(), "count", &r.attempts);
    for (part, h) in &r.server_timing {
        request_blob(format!("server_timing.{part}"), "us", h);
    }
    let has_gateway = r.cache != Default::default()
        || r.cost_responses > 0
        || !r.providers.is_empty()
        || !r.server_timing.is_empty()
        || !r.attempts.is_empty();
    let gateway = has_gateway.then(|| {
        let mut cache = BTreeMap::new();
        for (name, n) in [
            ("hit", r.cache.hit),
            ("miss", r.cache.miss),
            ("bypass", r.cache.bypass),
            ("other", r.cache.other),
        ] {
            if n > 0 {
                cache.insert(name.to_owned(), n);
            }
        }
        let decided = r.cache.hit + r.cache.miss;
        GatewayResults {
            cache,
            cache_hit_rate: (decided > 0).then(|| round3(r.cache.hit as f64 / decided as f64)),
            similarity: r.similarity.summary(SIMILARITY_SCALE),
            cost_usd: r.cost_usd,
            cost_max_usd: r.cost_max,
            cost_responses: r.cost_responses,
            providers: r.providers.clone(),
            attempts: r.attempts.summary(1.0),
            server_timing_ms: r
                .server_timing
                .iter()
                .filter_map(|(k, h)| h.summary(US_TO_MS).map(|s| (k.clone(), s)))
                .collect(),
        }
    });
    let sent = r.sent();
    let ok = r.ok();
    let interrupted = r.interrupted();
    KindResults {
        scenario: r.scenario.clone(),
        kind: r.kind.clone(),
        sent,
        ok,
        failed: sent - ok - interrupted,
        interrupted,
        dropped: r.dropped,
        errors,
        error_messages: r
            .error_messages
            .iter()
            .map(|(o, m)| (o.class().into_owned(), m.clone()))
            .collect(),
        latency_ms: summary("latency", US_TO_MS),
        latency_uncorrected_ms: summary("latency_uncorrected", US_TO_MS),
        ttfb_ms: summary("ttfb", US_TO_MS),
        ttft_ms: summary("ttft", US_TO_MS),
        itl_ms: summary("itl", US_TO_MS),
        tokens_per_s: summary("tokens_per_s", TOKENS_SCALE),
        response_bytes: summary("bytes", 1.0),
        outcomes,
        usage: UsageTotals {
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cached_tokens: r.cached_tokens,
            responses: r.usage_responses,
        },
        tts_characters: r.tts_characters,
        gateway,
    }
}

fn unit_of(metric: &str) -> &'static str {
    match metric {
        "tokens_per_s" => "tokens_per_s_x100",
        "bytes" => "bytes",
        _ => "us",
    }
}
