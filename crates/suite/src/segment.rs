//! One check of a suite run as N execution segments (k6's execution segments, the
//! k6-operator's parallelism): each segment drives its share of the check's load
//! and keeps what the verdict needs — the driver's results of each run, and, for
//! checks judged by the truth, the mocks' calls during them — in a
//! [`CheckSegment`]; the segments' results are then merged exactly (elsewhere: the
//! command line's merge, the one `gatebench merge` uses) and [`judge_merged`]
//! takes the check's verdict on the merged figures, as one process would.
//!
//! **Truth across segments.** Each segment marks the books of the mocks it uses
//! before its load and reads every call since the mark after it, so its window
//! holds all of its own calls, and, against one mock fleet shared by all
//! segments, others' calls too. The merge takes the union of the windows, each
//! call once (a call is its fleet, its mock and its id in that mock's books), and
//! attributes the union to the merged requests: exactly the calls of the whole
//! load, plus whatever else the fleet served meanwhile (unattributed, as in one
//! process's run). Segments that each start their own embedded stack have a fleet
//! each, and their windows simply add.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use gatebench_driver::results::SegmentInfo;
use gatebench_driver::{RunResults, Segment};
use gatebench_report::{SuiteReport, TargetInfo};
use gatebench_wire::books::CallRecord;
use serde::{Deserialize, Serialize};

use crate::checks::driven::{self, Driven};
use crate::checks::{Ctx, unmeasurable};
use crate::file::{CheckSpec, SuiteFile};
use crate::profile::TargetProfile;
use crate::runner::{self, SuiteOptions, Timing};
use crate::subject::Subject;
use crate::truth::Window;

/// Version of the [`CheckSegment`] document.
pub const SEGMENT_SCHEMA: u32 = 1;

/// What one segment of a check produced (`segment.json`, or one log line).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckSegment {
    /// Format version.
    pub schema_version: u32,
    /// The suite's name.
    pub suite: String,
    /// The check's name.
    pub check: String,
    /// Segment index, from 0.
    pub index: u32,
    /// Number of segments.
    pub count: u32,
    /// Digest of the whole check's load (the check, its scenarios, the seed, the
    /// target): segments of different plans never merge.
    pub plan: String,
    /// Seed of every draw.
    pub seed: u64,
    /// When the segment started (RFC 3339).
    pub started_at: String,
    /// Seconds the segment took.
    pub duration_s: f64,
    /// What it ran against.
    pub target: TargetInfo,
    /// The embedded mocks' time scale; none for an external target.
    pub time_scale: Option<f64>,
    /// The driver's runs, each under its key in the check (a load pattern's name,
    /// else the check's), each marked as this segment of its load.
    pub runs: Vec<SegmentRun>,
    /// The mocks' calls during the segment, for checks judged by the truth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<SegmentTruth>,
}

/// One run of a segment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentRun {
    /// Its key in the check.
    pub key: String,
    /// Its results.
    pub results: RunResults,
}

/// The mocks' calls a segment saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentTruth {
    /// Which mock fleet: its URLs for an external target's (shared by every
    /// segment), the segment's own for an embedded stack.
    pub fleet: String,
    /// Every call of its window.
    pub calls: Vec<CallRecord>,
    /// Mocks whose log dropped calls of the window before they were read.
    #[serde(default)]
    pub lost: Vec<String>,
    /// Each mock's limit of requests in flight per API key, where it has one.
    #[serde(default)]
    pub concurrent_per_key: BTreeMap<String, u32>,
}

/// A check that cannot run as segments, or segments that cannot be judged.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// No check of that name.
    #[error("suite {suite} has no check `{check}` (its checks: {known})")]
    NoSuchCheck {
        /// The suite.
        suite: String,
        /// The name asked for.
        check: String,
        /// The checks it has.
        known: String,
    },
    /// The check's kind cannot be split.
    #[error("check `{check}` ({kind}) cannot run as segments: {why}")]
    NotSegmentable {
        /// The check.
        check: String,
        /// Its kind.
        kind: String,
        /// Why not.
        why: &'static str,
    },
    /// Faults injected into mocks that every segment shares.
    #[error(
        "check `{0}` cannot run as segments against an external target: it injects faults into the mocks, and segments sharing them start and end at different times (the first to end would clear the faults of the others); run it on the embedded stack (no --target), where each segment has its own mocks"
    )]
    SharedFaults(String),
    /// The segment could not drive its load.
    #[error("check `{check}`, segment {segment}: {why}")]
    Failed {
        /// The check.
        check: String,
        /// `I/N`.
        segment: String,
        /// What went wrong.
        why: String,
    },
    /// Segments that do not belong together.
    #[error("{0}")]
    Mismatch(String),
}

/// The check named `name` of `file`.
pub fn find_check<'a>(file: &'a SuiteFile, name: &str) -> Result<&'a CheckSpec, SegmentError> {
    file.checks
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| SegmentError::NoSuchCheck {
            suite: file.name.clone(),
            check: name.to_owned(),
            known: file
                .checks
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Whether `spec` can run as segments with these options.
pub fn check_segmentable(spec: &CheckSpec, options: &SuiteOptions) -> Result<(), SegmentError> {
    driven::segmentable(spec).map_err(|why| SegmentError::NotSegmentable {
        check: spec.name.clone(),
        kind: format!("{:?}", spec.kind).to_lowercase(),
        why,
    })?;
    if options.target.is_some() && !spec.faults.is_empty() {
        return Err(SegmentError::SharedFaults(spec.name.clone()));
    }
    Ok(())
}

/// Digest of the check's whole load: the suite and check as parsed, each scenario
/// file's bytes, the seed and the target.
fn plan(file: &SuiteFile, spec: &CheckSpec, seed: u64, target: &TargetInfo) -> String {
    let mut bytes = format!(
        "{}\n{spec:?}\n{}\n{seed}\n{}\n{}",
        file.name, file.time_scale, target.mode, target.url
    )
    .into_bytes();
    let scenarios = spec
        .scenario
        .iter()
        .chain(spec.patterns.iter().map(|p| &p.scenario));
    for scenario in scenarios {
        // a scenario that cannot be read fails the run itself, with its own message
        bytes.extend(std::fs::read(file.resolve(scenario)).unwrap_or_default());
    }
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// Runs segment `segment` of check `spec`: the subject a suite would give it (its
/// own embedded stack, or the external target), its faults, its share of the load.
pub async fn run_segment(
    file: &SuiteFile,
    spec: &CheckSpec,
    options: &SuiteOptions,
    segment: Segment,
) -> Result<CheckSegment, SegmentError> {
    check_segmentable(spec, options)?;
    let seed = options.seed.unwrap_or(file.seed);
    let clock = std::time::Instant::now();
    let started_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let failed = |why: String| SegmentError::Failed {
        check: spec.name.clone(),
        segment: segment.to_string(),
        why,
    };
    let books = runner::find_books(options).await;
    let subject = runner::subject_for(file, spec, options, seed, &books)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let fleet = subject.books.as_ref().map(|b| {
        if subject.is_embedded() {
            format!("embedded stack of segment {segment}")
        } else {
            b.urls().values().cloned().collect::<Vec<_>>().join(" ")
        }
    });
    let time_scale = subject.time_scale;
    let outcome = async {
        if !subject.reachable().await {
            return Err(format!("the target {} does not answer", subject.gateway));
        }
        subject
            .apply_faults(&spec.faults)
            .await
            .map_err(|e| e.to_string())?;
        let ctx = Ctx {
            suite: file,
            spec,
            subject: &subject,
            seed,
            out: &options.out,
            segment,
        };
        driven::drive(&ctx).await
    }
    .await;
    // An external target's faults are refused above, so only the segment's own
    // embedded mocks carry any, and they stop with it.
    subject.shutdown().await;
    let driven = outcome.map_err(failed)?;
    let target = runner::target_info(options, matches!(books, Some(Ok(_))));
    let plan = plan(file, spec, seed, &target);
    let runs = driven
        .runs
        .into_iter()
        .map(|(key, mut results)| {
            results.segment = Some(SegmentInfo {
                index: segment.index(),
                count: segment.count(),
                plan: format!("{plan}:{key}"),
            });
            SegmentRun { key, results }
        })
        .collect();
    let truth = driven.truth.map(|window| SegmentTruth {
        fleet: fleet.unwrap_or_default(),
        calls: window.calls,
        lost: window.lost,
        concurrent_per_key: window.concurrent_per_key,
    });
    Ok(CheckSegment {
        schema_version: SEGMENT_SCHEMA,
        suite: file.name.clone(),
        check: spec.name.clone(),
        index: segment.index(),
        count: segment.count(),
        plan,
        seed,
        started_at,
        duration_s: clock.elapsed().as_secs_f64(),
        target,
        time_scale,
        runs,
        truth,
    })
}

/// Checks that `segments` are segments of `spec` of `file`, of one plan, and
/// returns their runs grouped by key, in the check's order (each group's
/// completeness is the merge's to check, run by run).
pub fn runs_by_key(
    file: &SuiteFile,
    spec: &CheckSpec,
    segments: &[CheckSegment],
) -> Result<Vec<(String, Vec<RunResults>)>, SegmentError> {
    let first = segments
        .first()
        .ok_or_else(|| SegmentError::Mismatch("no segment to merge".to_owned()))?;
    for s in segments {
        if s.schema_version != SEGMENT_SCHEMA {
            return Err(SegmentError::Mismatch(format!(
                "segment {}/{} has format version {} (this gatebench reads {SEGMENT_SCHEMA})",
                s.index, s.count, s.schema_version
            )));
        }
        if s.suite != file.name || s.check != spec.name {
            return Err(SegmentError::Mismatch(format!(
                "segment {}/{} is of check `{}` of suite {}, not `{}` of suite {}",
                s.index, s.count, s.check, s.suite, spec.name, file.name
            )));
        }
        if s.plan != first.plan {
            return Err(SegmentError::Mismatch(format!(
                "segment {}/{} ran another load than segment {}/{} (another suite file, scenario, seed or target: plan {} vs {})",
                s.index, s.count, first.index, first.count, s.plan, first.plan
            )));
        }
    }
    let mut groups: Vec<(String, Vec<RunResults>)> = Vec::new();
    for run in segments.iter().flat_map(|s| &s.runs) {
        match groups.iter_mut().find(|(key, _)| *key == run.key) {
            Some((_, runs)) => runs.push(run.results.clone()),
            None => groups.push((run.key.clone(), vec![run.results.clone()])),
        }
    }
    for (_, runs) in &mut groups {
        on_one_clock(runs);
    }
    Ok(groups)
}

/// Puts the runs' per-request records on the clock of the earliest run's start
/// (the merged run's): a record's times count from its own segment's start, and
/// the truth's calls are tied to requests on the wall clock.
fn on_one_clock(runs: &mut [RunResults]) {
    let start_ms = |r: &RunResults| {
        humantime::parse_rfc3339(&r.started_at)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64() * 1000.0)
    };
    let Some(origin) = runs.iter().filter_map(start_ms).reduce(f64::min) else {
        return;
    };
    for run in runs.iter_mut() {
        let offset = start_ms(run).map_or(0.0, |s| s - origin);
        for record in run.requests.iter_mut().flatten() {
            record.intended_ms += offset;
            record.sent_ms += offset;
        }
    }
}

/// The union of the segments' windows of the mocks' books, each call once; `None`
/// when the check is not judged by the truth.
pub fn truth_union(segments: &[CheckSegment]) -> Result<Option<Window>, SegmentError> {
    let with = segments.iter().filter(|s| s.truth.is_some()).count();
    if with == 0 {
        return Ok(None);
    }
    if with != segments.len() {
        return Err(SegmentError::Mismatch(
            "some segments carry the mocks' calls and some do not".to_owned(),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut calls: Vec<(&str, &CallRecord)> = Vec::new();
    let mut lost = BTreeSet::new();
    let mut concurrent_per_key = BTreeMap::new();
    for truth in segments.iter().filter_map(|s| s.truth.as_ref()) {
        concurrent_per_key.extend(truth.concurrent_per_key.clone());
        for call in &truth.calls {
            if seen.insert((truth.fleet.as_str(), call.mock.as_str(), call.id)) {
                calls.push((truth.fleet.as_str(), call));
            }
        }
        lost.extend(truth.lost.iter().cloned());
    }
    // one fleet's calls in the order of its books, as one process reads them
    calls.sort_by(|a, b| (&a.1.mock, a.0, a.1.id).cmp(&(&b.1.mock, b.0, b.1.id)));
    Ok(Some(Window {
        calls: calls.into_iter().map(|(_, c)| c.clone()).collect(),
        lost: lost.into_iter().collect(),
        concurrent_per_key,
    }))
}

/// What the merged check is judged with.
pub struct Merged<'a> {
    /// The segments (their target, seed, time scale and times).
    pub segments: &'a [CheckSegment],
    /// Each key's runs merged, in the check's order.
    pub runs: Vec<(String, RunResults)>,
    /// The union of the segments' truth.
    pub truth: Option<Window>,
    /// How the target reports what it did (as the segments were run with).
    pub profile: TargetProfile,
    /// Report folder.
    pub out: &'a Path,
}

/// The check's verdict on its segments' merged results, as a suite report of
/// that one check.
pub fn judge_merged(file: &SuiteFile, spec: &CheckSpec, merged: Merged<'_>) -> SuiteReport {
    let first = &merged.segments[0];
    let mut subject = Subject::external(&first.target.url, &[], merged.profile, None);
    subject.time_scale = first.time_scale;
    let ctx = Ctx {
        suite: file,
        spec,
        subject: &subject,
        seed: first.seed,
        out: merged.out,
        segment: Segment::WHOLE,
    };
    let driven = Driven {
        runs: merged.runs,
        truth: merged.truth,
    };
    let mut outcome = driven::verdict(&ctx, driven).unwrap_or_else(|e| unmeasurable(&ctx, e));
    // the check took as long as its longest segment
    let duration_s = merged
        .segments
        .iter()
        .map(|s| s.duration_s)
        .fold(0.0, f64::max);
    outcome.result.duration_s = duration_s;
    outcome.result.time_scale = first.time_scale;
    let started_at = merged
        .segments
        .iter()
        .map(|s| s.started_at.clone())
        .min()
        .unwrap_or_default();
    let mut target = first.target.clone();
    target.url = format!("{} ({} segments)", target.url, first.count);
    let timing = Timing {
        started_at,
        duration_s,
    };
    runner::assemble(file, first.seed, target, timing, vec![outcome])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(mock: &str, id: u64) -> CallRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "mock": mock, "at_ms": 1_000 + id, "duration_ms": 1.0,
            "route": "/v1/chat/completions", "outcome": "ok", "status": 200,
            "stream": false, "complete": true, "billed": true, "usage": {},
            "request_id": format!("req_{id}"),
        }))
        .unwrap()
    }

    fn segment(index: u32, fleet: &str, calls: &[(&str, u64)]) -> CheckSegment {
        CheckSegment {
            schema_version: SEGMENT_SCHEMA,
            suite: "s".into(),
            check: "c".into(),
            index,
            count: 3,
            plan: "p".into(),
            seed: 1,
            started_at: String::new(),
            duration_s: 0.0,
            target: TargetInfo {
                mode: "external".into(),
                url: "http://gw".into(),
                profile: "gatebench".into(),
                mocks: None,
            },
            time_scale: None,
            runs: Vec::new(),
            truth: Some(SegmentTruth {
                fleet: fleet.into(),
                calls: calls.iter().map(|(m, id)| call(m, *id)).collect(),
                lost: Vec::new(),
                concurrent_per_key: [("elevenlabs".to_owned(), 15)].into(),
            }),
        }
    }

    #[test]
    fn overlapping_windows_of_one_fleet_hold_each_call_once() {
        let segments = [
            segment(
                0,
                "shared",
                &[("openai", 1), ("openai", 2), ("elevenlabs", 1)],
            ),
            segment(1, "shared", &[("openai", 2), ("openai", 3)]),
            // another fleet's ids are other calls, however they number
            segment(2, "own", &[("openai", 1)]),
        ];
        let window = truth_union(&segments).unwrap().unwrap();
        let ids: Vec<(&str, u64)> = window
            .calls
            .iter()
            .map(|c| (c.mock.as_str(), c.id))
            .collect();
        assert_eq!(
            ids,
            [
                ("elevenlabs", 1),
                ("openai", 1),
                ("openai", 1),
                ("openai", 2),
                ("openai", 3)
            ]
        );
        // the mocks' per-key limits come along, for the concurrency check
        assert_eq!(window.concurrent_per_key["elevenlabs"], 15);
    }

    #[test]
    fn truth_is_all_or_nothing() {
        let mut without = segment(1, "shared", &[]);
        without.truth = None;
        assert!(truth_union(&[segment(0, "shared", &[]), without.clone()]).is_err());
        assert!(truth_union(&[without]).unwrap().is_none());
    }
}
