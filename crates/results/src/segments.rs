//! Whether a set of results is every segment of one load, once: the check before a
//! merge, so that a segment that failed or never reported makes the merge fail
//! instead of yielding a silently partial result.

use std::collections::BTreeSet;

use crate::run::RunResults;

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
        return Ok(None);
    };
    let label = |s: &crate::SegmentInfo| format!("{}/{}", s.index, s.count);
    if let Some(whole) = whole {
        return Err(SegmentsError::Mixed {
            whole: whole + 1,
            segment: first_pos + 1,
            label: label(first),
        });
    }
    let mut seen = BTreeSet::new();
    for s in runs.iter().filter_map(|r| r.segment.as_ref()) {
        if s.count != first.count || s.index >= s.count {
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
