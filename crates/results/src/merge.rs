//! Merging the results of several runs (e.g. several driver processes against one
//! target) from their serialised histograms and counters.
//!
//! Counts and histograms add exactly. The runs are taken to be concurrent: the
//! merged run starts with the first to start and ends with the last to end (on the
//! wall clock), so `rps` is the combined rate. Time-series points align on
//! wall-clock seconds from the merged start and add; their percentiles cannot be
//! merged exactly without per-second histograms, so a merged point keeps the largest
//! of the inputs' (an upper bound). Thresholds are not carried over: re-evaluate
//! them on the merged store. The merged results carry every run's resource
//! samples (named after their run), the degradation detector's findings over the
//! merged series, and the bottleneck of the merged figures.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gatebench_analysis::{DegradationConfig, Detector, Finding, ResourceAlert};

use crate::build::{RunMeta, build};
use crate::hist::{Hist, HistDecodeError, round3};
use crate::outcome::Outcome;
use crate::resources::{Problem, ResourceResults, ResourceSeries, ResourceTarget};
use crate::run::{RunResults, SCHEMA_VERSION};
use crate::store::{RequestStats, Store};
use crate::timeseries::{Point, TimePoint};

/// Results cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no results to merge")]
    Empty,
    /// A results file of another format version.
    #[error("results format version {0} is not supported (expected {expected})", expected = SCHEMA_VERSION)]
    Version(u32),
    /// A histogram does not decode.
    #[error("request `{request}`, metric `{metric}`: {source}")]
    Histogram {
        /// Request name.
        request: String,
        /// Metric.
        metric: String,
        /// Why.
        source: HistDecodeError,
    },
    /// An outcome class is unknown.
    #[error("request `{request}`: unknown outcome class `{class}`")]
    Outcome {
        /// Request name.
        request: String,
        /// The class.
        class: String,
    },
    /// One request name has two kinds or scenarios.
    #[error("request `{0}` has a different kind or scenario in two of the runs")]
    Conflict(String),
    /// Runs at different time scales measure different delays.
    #[error("the runs ran at different time scales ({} and {})", scale(*.0), scale(*.1))]
    TimeScale(Option<f64>, Option<f64>),
    /// The counts of a request add past 2^64, or its costs past what a `Decimal`
    /// holds (about 7.9e28 USD): no run has either, so a file is corrupt.
    #[error(
        "the counts or costs of `{0}` add past what any run has (2^64 requests, 7.9e28 USD): a corrupt results file"
    )]
    Overflow(String),
    /// A length of time no run has: negative, or past what a `Duration` holds. No
    /// run writes one, so the file is corrupt.
    #[error(
        "`{field}` is {value:?}, which is not a length of time in seconds (negative, or too large): a corrupt results file"
    )]
    Seconds {
        /// The field, e.g. `duration_s`.
        field: &'static str,
        /// Its value.
        value: f64,
    },
}

/// `value` seconds of the document's `field`, refused when no length of time is
/// that (negative or too large, which `Duration::from_secs_f64` would panic on).
pub(crate) fn seconds(field: &'static str, value: f64) -> Result<Duration, MergeError> {
    // `-0.0` is zero; any other negative is refused rather than taken as zero
    if value < 0.0 {
        return Err(MergeError::Seconds { field, value });
    }
    Duration::try_from_secs_f64(value).map_err(|_| MergeError::Seconds { field, value })
}

fn scale(s: Option<f64>) -> String {
    s.map_or("the target's own".to_owned(), |s| s.to_string())
}

/// Rebuilds the store of one results document. Its planned length is checked too,
/// though the store does not keep it, so that a document that rebuilds is one that
/// merges.
pub(crate) fn store_of(results: &RunResults) -> Result<Store, MergeError> {
    if results.schema_version != SCHEMA_VERSION {
        return Err(MergeError::Version(results.schema_version));
    }
    let elapsed = results.elapsed()?;
    results.planned()?;
    let mut requests: BTreeMap<String, RequestStats> = BTreeMap::new();
    for (name, k) in &results.kinds {
        let mut r = RequestStats {
            name: name.clone(),
            scenario: k.scenario.clone(),
            kind: k.kind.clone(),
            dropped: k.dropped,
            prompt_tokens: k.usage.prompt_tokens,
            completion_tokens: k.usage.completion_tokens,
            cached_tokens: k.usage.cached_tokens,
            usage_responses: k.usage.responses,
            tts_characters: k.tts_characters,
            ..RequestStats::default()
        };
        for (class, o) in &k.outcomes {
            let outcome = Outcome::parse(class).ok_or_else(|| MergeError::Outcome {
                request: name.clone(),
                class: class.clone(),
            })?;
            r.outcomes.entry(outcome).or_default().count = o.count;
        }
        for (class, message) in &k.error_messages {
            if let Some(outcome) = Outcome::parse(class) {
                r.error_messages.insert(outcome, message.clone());
            }
        }
        if let Some(g) = &k.gateway {
            let get = |key: &str| g.cache.get(key).copied().unwrap_or(0);
            r.cache.hit = get("hit");
            r.cache.miss = get("miss");
            r.cache.bypass = get("bypass");
            r.cache.other = get("other");
            r.cost_usd = g.cost_usd;
            r.cost_max = g.cost_max_usd;
            r.cost_responses = g.cost_responses;
            r.providers = g.providers.clone();
        }
        requests.insert(name.clone(), r);
    }
    for blob in &results.histograms {
        let decoded = Hist::from_base64(&blob.hdr).map_err(|source| MergeError::Histogram {
            request: blob.request.clone(),
            metric: blob.metric.clone(),
            source,
        })?;
        let Some(r) = requests.get_mut(&blob.request) else {
            continue;
        };
        match &blob.outcome {
            Some(class) => {
                let outcome = Outcome::parse(class).ok_or_else(|| MergeError::Outcome {
                    request: blob.request.clone(),
                    class: class.clone(),
                })?;
                if let Some(h) = r
                    .outcomes
                    .entry(outcome)
                    .or_default()
                    .named_mut(&blob.metric)
                {
                    h.merge(&decoded);
                }
            }
            None => match blob.metric.as_str() {
                "similarity" => r.similarity.merge(&decoded),
                "attempts" => r.attempts.merge(&decoded),
                other => {
                    if let Some(part) = other.strip_prefix("server_timing.") {
                        r.server_timing
                            .entry(part.to_owned())
                            .or_default()
                            .merge(&decoded);
                    }
                }
            },
        }
    }
    let store = Store {
        requests: requests.into_values().collect(),
        elapsed,
        time_scale: results.time_scale,
    };
    counts_fit(&store)?;
    Ok(store)
}

/// Refuses a store whose counts, added across its requests, pass 2^64: the
/// totals a report makes of them would not fit. Names the request they pass it at.
fn counts_fit(store: &Store) -> Result<(), MergeError> {
    let mut all = 0u64;
    for r in &store.requests {
        all = r
            .all_counts()
            .and_then(|n| all.checked_add(n))
            .ok_or_else(|| MergeError::Overflow(r.name.clone()))?;
    }
    Ok(())
}

/// Merges several runs into one results document.
pub fn merge(runs: &[RunResults]) -> Result<RunResults, MergeError> {
    let first = runs.first().ok_or(MergeError::Empty)?;
    let starts: Vec<Option<SystemTime>> = runs
        .iter()
        .map(|r| humantime::parse_rfc3339(&r.started_at).ok())
        .collect();
    let origin = starts.iter().flatten().min().copied().unwrap_or(UNIX_EPOCH);
    // where each run starts on the merged run's clock
    let starts_after: Vec<Duration> = starts
        .iter()
        .map(|s| {
            s.and_then(|s| s.duration_since(origin).ok())
                .unwrap_or_default()
        })
        .collect();
    let offsets: Vec<f64> = starts_after.iter().map(Duration::as_secs_f64).collect();
    let mut merged: BTreeMap<String, RequestStats> = BTreeMap::new();
    let mut elapsed = Duration::ZERO;
    let mut planned = Duration::ZERO;
    for (run, after) in runs.iter().zip(&starts_after) {
        let store = store_of(run)?;
        // added as durations, saturating: as float seconds, a late start plus a
        // long run could pass what a `Duration` holds and panic
        elapsed = elapsed.max(after.saturating_add(store.elapsed));
        planned = planned.max(run.planned()?);
        for r in store.requests {
            match merged.get_mut(&r.name) {
                Some(existing) => {
                    if existing.kind != r.kind || existing.scenario != r.scenario {
                        return Err(MergeError::Conflict(r.name));
                    }
                    existing
                        .merge(&r)
                        .ok_or_else(|| MergeError::Overflow(r.name.clone()))?;
                }
                None => {
                    merged.insert(r.name.clone(), r);
                }
            }
        }
    }
    if let Some(other) = runs.iter().find(|r| r.time_scale != first.time_scale) {
        return Err(MergeError::TimeScale(first.time_scale, other.time_scale));
    }
    let store = Store {
        requests: merged.into_values().collect(),
        elapsed,
        time_scale: first.time_scale,
    };
    counts_fit(&store)?;
    let mut names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    let started_at = origin;
    let reasons: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.abort_reason.as_deref())
        .collect();
    let meta = RunMeta {
        name: names.join("+"),
        scenario_file: first.scenario_file.clone(),
        seed: first.seed,
        started_at,
        planned,
        aborted: runs.iter().any(|r| r.aborted),
        abort_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        executors: runs
            .iter()
            .flat_map(|r| {
                r.scenarios
                    .iter()
                    .map(|(n, s)| (n.clone(), s.executor.clone()))
            })
            .collect(),
        time_scale: first.time_scale,
    };
    let records = runs.iter().any(|r| r.requests.is_some()).then(|| {
        runs.iter()
            .flat_map(|r| r.requests.iter().flatten().cloned())
            .collect()
    });
    let planned = meta.planned.as_secs_f64();
    let mut merged = build(
        meta,
        &store,
        merge_timeseries(runs, &offsets),
        records,
        Vec::new(),
    );
    merged.resources = merge_resources(runs, &offsets);
    merged.findings = detect(&merged.timeseries, planned);
    let evidence = merged.evidence(&store, merged.totals.rps, "rps");
    merged.bottleneck =
        (evidence.requests > 0).then(|| gatebench_analysis::bottleneck::find(&evidence));
    Ok(merged)
}

/// Adds the runs' points second by second of the wall clock: a run that started
/// `offset` seconds after the first has its point `t` at `offset + t`, in the second
/// that ends at the next whole second.
fn merge_timeseries(runs: &[RunResults], offsets: &[f64]) -> Vec<TimePoint> {
    let mut seconds: BTreeMap<u64, TimePoint> = BTreeMap::new();
    for (run, offset) in runs.iter().zip(offsets) {
        // a run's own points may share a second (its last, partial one): their
        // counts add, their gauges (in flight, VUs) are the later one's
        let mut own: BTreeMap<u64, TimePoint> = BTreeMap::new();
        for p in &run.timeseries {
            let second = (offset + p.t - 1e-6).ceil().max(1.0) as u64;
            let into = own.entry(second).or_default();
            into.t = second as f64;
            within_run(&mut into.total, &p.total);
            for (name, sp) in &p.scenarios {
                within_run(into.scenarios.entry(name.clone()).or_default(), sp);
            }
        }
        for (second, p) in own {
            let into = seconds.entry(second).or_default();
            into.t = p.t;
            add_point(&mut into.total, &p.total);
            for (name, sp) in &p.scenarios {
                add_point(into.scenarios.entry(name.clone()).or_default(), sp);
            }
        }
    }
    seconds.into_values().collect()
}

/// The degradation detector, with its default settings, over the merged series:
/// each second's p95 is the largest of the runs' (an upper bound), compared with
/// the early window of the same measure. The load's seconds only, as a run feeds
/// it.
fn detect(series: &[TimePoint], planned_s: f64) -> Vec<Finding> {
    let mut detector = Detector::new(DegradationConfig::default());
    let mut found = Vec::new();
    for point in series.iter().filter(|p| p.t <= planned_s + 0.5) {
        found.extend(detector.push(point.second()));
    }
    found
}

/// Every run's resource samples side by side, on the merged clock: with several
/// runs, each target is named after its run (`segment 1: gatebench`, or `run 2:
/// system` for runs that were not segments); the monitors' costs add.
fn merge_resources(runs: &[RunResults], offsets: &[f64]) -> Option<ResourceResults> {
    let sampled: Vec<(usize, &RunResults, &ResourceResults, f64)> = runs
        .iter()
        .zip(offsets)
        .enumerate()
        .filter_map(|(i, (run, offset))| Some((i, run, run.resources.as_ref()?, *offset)))
        .collect();
    let several = sampled.len() > 1;
    let mut out = ResourceResults::default();
    let (mut cpu_s, mut wall_s) = (Some(0.0), 0.0);
    for (i, run, r, offset) in &sampled {
        let name = |target: &str| match (several, &run.segment) {
            (false, _) => target.to_owned(),
            (true, Some(s)) => format!("segment {}: {target}", s.index),
            (true, None) => format!("run {i}: {target}"),
        };
        out.interval_s = out.interval_s.max(r.interval_s);
        out.cores = if out.targets.is_empty() || out.cores == r.cores {
            r.cores
        } else {
            None
        };
        out.targets.extend(r.targets.iter().map(|t| ResourceTarget {
            name: name(&t.name),
            ..t.clone()
        }));
        out.series.extend(r.series.iter().map(|s| {
            ResourceSeries {
                target: name(&s.target),
                points: s
                    .points
                    .iter()
                    .map(|p| [round3(p[0] + offset), p[1]])
                    .collect(),
                ..s.clone()
            }
        }));
        out.alerts.extend(r.alerts.iter().map(|a| ResourceAlert {
            t: round3(a.t + offset),
            target: name(&a.target),
            ..a.clone()
        }));
        out.problems.extend(r.problems.iter().map(|p| Problem {
            message: name(&p.message),
            count: p.count,
        }));
        out.overhead.samples = out.overhead.samples.saturating_add(r.overhead.samples);
        wall_s += r.overhead.wall_s;
        cpu_s = cpu_s.zip(r.overhead.cpu_s).map(|(a, b)| a + b);
    }
    if sampled.is_empty() {
        return None;
    }
    out.alerts.sort_by(|a, b| a.t.total_cmp(&b.t));
    out.overhead.wall_s = round3(wall_s);
    out.overhead.cpu_s = cpu_s;
    out.overhead.cpu_percent_of_core = cpu_s
        .filter(|_| wall_s > 0.0)
        .map(|c| (c / wall_s * 100.0 * 1e6).round() / 1e6);
    Some(out)
}

/// Folds a later point of one run into an earlier one of the same second.
fn within_run(into: &mut Point, p: &Point) {
    let (in_flight, vus) = (p.in_flight, p.vus);
    add_point(into, p);
    into.in_flight = in_flight;
    into.vus = vus;
}

/// Adds `p` to `into`; counts saturate (past 2^64 only a corrupt file goes, and
/// its requests' counts are refused).
fn add_point(into: &mut Point, p: &Point) {
    into.requests = into.requests.saturating_add(p.requests);
    into.errors = into.errors.saturating_add(p.errors);
    into.dropped = into.dropped.saturating_add(p.dropped);
    into.rps = round3(into.rps + p.rps);
    into.in_flight = into.in_flight.saturating_add(p.in_flight);
    into.vus = into.vus.saturating_add(p.vus);
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    into.p50_ms = max(into.p50_ms, p.p50_ms);
    into.p95_ms = max(into.p95_ms, p.p95_ms);
    into.p99_ms = max(into.p99_ms, p.p99_ms);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// A run of 20 s whose p95 is 100 ms, then 400 ms from second `from`.
    fn run(from: u64, cpu: f64) -> RunResults {
        let meta = RunMeta {
            name: "x".into(),
            scenario_file: None,
            seed: 1,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            planned: Duration::from_secs(20),
            aborted: false,
            abort_reason: None,
            executors: BTreeMap::new(),
            time_scale: None,
        };
        let series = (1..=20)
            .map(|t| TimePoint {
                t: t as f64,
                total: Point {
                    requests: 10,
                    rps: 10.0,
                    vus: 5,
                    p95_ms: Some(if t >= from { 400.0 } else { 100.0 }),
                    ..Point::default()
                },
                scenarios: BTreeMap::new(),
            })
            .collect();
        let mut r = build(meta, &Store::default(), series, None, Vec::new());
        r.resources = Some(ResourceResults {
            interval_s: 1.0,
            cores: Some(2),
            targets: vec![ResourceTarget {
                name: "gatebench".into(),
                kind: "process".into(),
                pid: Some(9),
                url: None,
            }],
            series: vec![ResourceSeries {
                target: "gatebench".into(),
                pid: Some(9),
                metric: "cpu_percent".into(),
                unit: "percent".into(),
                points: vec![[1.0, cpu], [2.0, cpu]],
            }],
            overhead: crate::MonitorOverhead {
                samples: 2,
                wall_s: 2.0,
                cpu_s: Some(0.01),
                cpu_percent_of_core: Some(0.5),
            },
            ..ResourceResults::default()
        });
        r
    }

    #[test]
    fn a_merge_judges_the_merged_series_and_keeps_each_runs_resources() {
        let merged = merge(&[run(12, 30.0), run(12, 60.0)]).unwrap();
        assert!(
            merged.findings.iter().any(|f| matches!(
                f,
                Finding::Degradation { metric, .. }
                    if *metric == gatebench_analysis::degradation::Metric::LatencyP95
            )),
            "{:?}",
            merged.findings
        );
        let resources = merged.resources.unwrap();
        let names: Vec<&str> = resources.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["run 0: gatebench", "run 1: gatebench"]);
        assert_eq!(
            resources
                .series_of("run 1: gatebench", "cpu_percent")
                .unwrap()
                .points[0][1],
            60.0
        );
        assert_eq!(resources.overhead.samples, 4);
        assert_eq!(resources.cores, Some(2));

        // a steady pair finds nothing
        let steady = merge(&[run(99, 30.0), run(99, 30.0)]).unwrap();
        assert!(steady.findings.is_empty(), "{:?}", steady.findings);
    }

    #[test]
    fn lengths_of_time_no_run_has_are_refused_by_field() {
        type Set = fn(&mut RunResults, f64);
        let cases: [(Set, &str, f64); 5] = [
            (|r, v| r.duration_s = v, "duration_s", 1e308),
            (|r, v| r.duration_s = v, "duration_s", -1.0),
            (|r, v| r.planned_duration_s = v, "planned_duration_s", 1e308),
            (|r, v| r.planned_duration_s = v, "planned_duration_s", -0.5),
            // fits an f64 and a `Duration`'s seconds only just not
            (|r, v| r.duration_s = v, "duration_s", 2e19),
        ];
        for (set, field, value) in cases {
            let mut bad = run(99, 30.0);
            set(&mut bad, value);
            for e in [
                merge(&[run(99, 30.0), bad.clone()]).unwrap_err(),
                bad.store().unwrap_err(),
            ] {
                assert!(
                    matches!(e, MergeError::Seconds { field: f, value: v } if f == field && v == value),
                    "{field} = {value}: {e:?}"
                );
                assert!(e.to_string().starts_with(&format!("`{field}` is ")), "{e}");
            }
        }
        assert_eq!(
            MergeError::Seconds {
                field: "duration_s",
                value: 1e308
            }
            .to_string(),
            "`duration_s` is 1e308, which is not a length of time in seconds (negative, or too large): a corrupt results file"
        );
        // zero, even negative zero, is a length; so is a start far after the other's
        // plus a long run, which adds without a panic
        let mut zero = run(99, 30.0);
        zero.duration_s = -0.0;
        assert_eq!(zero.elapsed().unwrap(), Duration::ZERO);
        let mut late = run(99, 30.0);
        late.started_at = "9999-12-31T00:00:00Z".into();
        late.duration_s = 1.8e19;
        let merged = merge(&[run(99, 30.0), late]).unwrap();
        assert!(merged.duration_s >= 1.8e19, "{}", merged.duration_s);
    }
}
