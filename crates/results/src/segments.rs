//! Whether a set of results is every segment of one load, once: the check before a
//! merge, so that a segment that failed or never reported makes the merge fail
//! instead of yielding a silently partial result.

use std::collections::BTreeSet;

use crate::run::{RunResults, SegmentInfo};

/// The results are not the segments of one load, each once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentsError {
    /// Some results are segments, some whole runs.
    #[error(
        "result {whole} is a whole run but result {segment} is segment {label}: merge the segments of one load, or whole runs, not both"
    )]
    Mixed {
        /// Position (from 1) of a whole run among the inputs.
        whole: usize,
        /// Position of a segment.
        segment: usize,
        /// The segment, `I/N`.
        label: String,
    },
    /// A segment whose index or count no segment has (`7/2`, `0/0`): a corrupt
    /// file, since `--segment` refuses them.
    #[error("segment {label} is not a segment: {why}")]
    Invalid {
        /// The segment, `I/N`.
        label: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Segments of loads split differently.
    #[error("segments of different splits: {first} and {other}")]
    Split {
        /// One segment, `I/N`.
        first: String,
        /// Another, `J/M`.
        other: String,
    },
    /// Segments of different loads (another scenario file, seed or duration).
    #[error(
        "segment {other} ran another load than segment {first} (another scenario file, seed or duration: plan {other_plan} vs {first_plan})"
    )]
    Plan {
        /// One segment.
        first: String,
        /// Its plan.
        first_plan: String,
        /// Another.
        other: String,
        /// Its plan.
        other_plan: String,
    },
    /// One segment given twice.
    #[error("segment {0} is given twice")]
    Duplicate(String),
    /// One whole run given twice: the same scenario, seed and start to the
    /// millisecond, and the same requests.
    #[error(
        "results {first} and {other} are the same run (`{name}`, started {started_at}) given twice: merging it would count its load twice"
    )]
    SameRun {
        /// Position (from 1) of the run among the inputs.
        first: usize,
        /// Position of its copy.
        other: usize,
        /// The scenario's name.
        name: String,
        /// When it started.
        started_at: String,
    },
    /// Segments that did not report: they failed, or their results were not collected.
    #[error("missing segment{} {} of {count}: a merge without {} would be a partial result", if .missing.len() == 1 { "" } else { "s" }, list(.missing), if .missing.len() == 1 { "it" } else { "them" })]
    Missing {
        /// Indices of the missing segments.
        missing: Vec<u32>,
        /// N.
        count: u32,
    },
}

fn list(indices: &[u32]) -> String {
    indices
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl SegmentInfo {
    /// Whether this is a segment at all: an index below a count of at least 1.
    pub fn check(&self) -> Result<(), SegmentsError> {
        let why = if self.count == 0 {
            "its count must be at least 1"
        } else if self.index >= self.count {
            "its index counts from 0 and must be below its count"
        } else {
            return Ok(());
        };
        Err(SegmentsError::Invalid {
            label: format!("{}/{}", self.index, self.count),
            why,
        })
    }
}

/// Refuses one whole run given twice (two folders of one run, a copy of its
/// results), which would otherwise merge as two concurrent runs.
fn same_run(runs: &[RunResults]) -> Result<(), SegmentsError> {
    fn identity(r: &RunResults) -> (&str, &str, u64, u64) {
        (&r.name, &r.started_at, r.seed, r.totals.sent)
    }
    for (i, run) in runs.iter().enumerate() {
        if let Some(j) = runs[..i].iter().position(|r| identity(r) == identity(run)) {
            return Err(SegmentsError::SameRun {
                first: j + 1,
                other: i + 1,
                name: run.name.clone(),
                started_at: run.started_at.clone(),
            });
        }
    }
    Ok(())
}

/// Checks that `runs` are every segment of one load, each once; `Ok(Some(N))` for
/// the N segments of one load, `Ok(None)` when no input is a segment (whole runs,
/// merged as concurrent runs).
pub fn check_segments(runs: &[RunResults]) -> Result<Option<u32>, SegmentsError> {
    let whole = runs.iter().position(|r| r.segment.is_none());
    let Some((first_pos, first)) = runs
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.segment.as_ref().map(|s| (i, s)))
    else {
        return same_run(runs).map(|()| None);
    };
    let label = |s: &SegmentInfo| format!("{}/{}", s.index, s.count);
    if let Some(whole) = whole {
        return Err(SegmentsError::Mixed {
            whole: whole + 1,
            segment: first_pos + 1,
            label: label(first),
        });
    }
    // every segment is checked on its own first, so that two segments that both
    // claim `7/2` are not reported as two different splits
    for s in runs.iter().filter_map(|r| r.segment.as_ref()) {
        s.check()?;
    }
    let mut seen = BTreeSet::new();
    for s in runs.iter().filter_map(|r| r.segment.as_ref()) {
        if s.count != first.count {
            return Err(SegmentsError::Split {
                first: label(first),
                other: label(s),
            });
        }
        if s.plan != first.plan {
            return Err(SegmentsError::Plan {
                first: label(first),
                first_plan: first.plan.clone(),
                other: label(s),
                other_plan: s.plan.clone(),
            });
        }
        if !seen.insert(s.index) {
            return Err(SegmentsError::Duplicate(label(s)));
        }
    }
    let missing: Vec<u32> = (0..first.count).filter(|i| !seen.contains(i)).collect();
    if !missing.is_empty() {
        return Err(SegmentsError::Missing {
            missing,
            count: first.count,
        });
    }
    Ok(Some(first.count))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::build::{RunMeta, build};
    use crate::store::Store;
    use crate::timeseries::{Point, TimePoint};
    use crate::{SegmentInfo, merge};

    /// An empty run that started `start_ms` after the epoch, lasted `secs`, with one
    /// time point per second of `per_second` finished requests.
    fn run(
        segment: Option<(u32, u32, &str)>,
        start_ms: u64,
        secs: u64,
        per_second: u64,
    ) -> RunResults {
        let meta = RunMeta {
            name: "s".into(),
            scenario_file: None,
            seed: 1,
            started_at: UNIX_EPOCH + Duration::from_millis(start_ms),
            planned: Duration::from_secs(secs),
            aborted: false,
            abort_reason: None,
            executors: Default::default(),
            time_scale: None,
        };
        let store = Store {
            requests: Vec::new(),
            elapsed: Duration::from_secs(secs),
            time_scale: None,
        };
        let series = (1..=secs)
            .map(|t| TimePoint {
                t: t as f64,
                total: Point {
                    requests: per_second,
                    vus: 1,
                    ..Point::default()
                },
                scenarios: Default::default(),
            })
            .collect();
        let mut r = build(meta, &store, series, None, Vec::new());
        r.segment = segment.map(|(index, count, plan)| SegmentInfo {
            index,
            count,
            plan: plan.into(),
        });
        r
    }

    #[test]
    fn a_full_set_passes_and_gaps_are_named() {
        let all: Vec<RunResults> = (0..3).map(|i| run(Some((i, 3, "p")), 0, 1, 1)).collect();
        assert_eq!(check_segments(&all), Ok(Some(3)));
        assert_eq!(check_segments(&[run(None, 0, 1, 1)]), Ok(None));
        let partial = [all[0].clone(), all[2].clone()];
        let e = check_segments(&partial).unwrap_err();
        assert_eq!(
            e,
            SegmentsError::Missing {
                missing: vec![1],
                count: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "missing segment 1 of 3: a merge without it would be a partial result"
        );
        let twice = [all[0].clone(), all[0].clone(), all[1].clone()];
        assert_eq!(
            check_segments(&twice),
            Err(SegmentsError::Duplicate("0/3".into()))
        );
        let other = [all[0].clone(), run(Some((1, 3, "q")), 0, 1, 1)];
        assert!(matches!(
            check_segments(&other),
            Err(SegmentsError::Plan { .. })
        ));
        let split = [all[0].clone(), run(Some((1, 2, "p")), 0, 1, 1)];
        assert!(matches!(
            check_segments(&split),
            Err(SegmentsError::Split { .. })
        ));
        let mixed = [all[0].clone(), run(None, 0, 1, 1)];
        assert!(matches!(
            check_segments(&mixed),
            Err(SegmentsError::Mixed { whole: 2, .. })
        ));
        // whole runs merge as concurrent runs, but one run twice is refused
        let concurrent = [run(None, 0, 1, 1), run(None, 7, 1, 1)];
        assert_eq!(check_segments(&concurrent), Ok(None));
        let copied = [
            concurrent[0].clone(),
            concurrent[1].clone(),
            concurrent[0].clone(),
        ];
        let e = check_segments(&copied).unwrap_err();
        assert!(
            matches!(
                e,
                SegmentsError::SameRun {
                    first: 1,
                    other: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn a_segment_no_split_has_is_named_as_such() {
        for (index, count, says) in [
            (
                7,
                2,
                "segment 7/2 is not a segment: its index counts from 0 and must be below its count",
            ),
            (
                2,
                2,
                "segment 2/2 is not a segment: its index counts from 0 and must be below its count",
            ),
            (
                0,
                0,
                "segment 0/0 is not a segment: its count must be at least 1",
            ),
        ] {
            let bad = run(Some((index, count, "p")), 0, 1, 1);
            // twice, as two corrupt copies of one file would be
            let e = check_segments(&[bad.clone(), bad.clone()]).unwrap_err();
            assert_eq!(e.to_string(), says);
            // and after a sound segment: still the bad one's fault, not a split's
            let sound = run(Some((0, 2, "p")), 0, 1, 1);
            let e = check_segments(&[sound, bad]).unwrap_err();
            assert_eq!(e.to_string(), says);
        }
    }

    #[test]
    fn time_series_align_on_the_wall_clock() {
        // the second segment started 2 s after the first: its seconds are 3 and 4
        let a = run(Some((0, 2, "p")), 10_000, 3, 5);
        let b = run(Some((1, 2, "p")), 12_000, 2, 7);
        let m = merge(&[a, b]).unwrap();
        let per_second: Vec<(f64, u64, u64)> = m
            .timeseries
            .iter()
            .map(|p| (p.t, p.total.requests, p.total.vus))
            .collect();
        assert_eq!(
            per_second,
            [(1.0, 5, 1), (2.0, 5, 1), (3.0, 12, 2), (4.0, 7, 1)]
        );
        // the merge lasts from the first start to the last end
        assert_eq!(m.duration_s, 4.0);
        assert_eq!(m.started_at, "1970-01-01T00:00:10.000Z");
    }
}
