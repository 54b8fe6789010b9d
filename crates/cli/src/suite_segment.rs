//! `gatebench suite SUITE --check NAME --segment I/N` (one segment of a check's
//! load) and `gatebench suite SUITE --check NAME --merge DIR...` (the segments
//! merged and the check judged on the merged figures).
//!
//! A segment writes `OUT/segment.json` (and, with `--print-results`, the same on
//! one log line `gatebench-suite-segment {...}`): the driver's results of each of
//! the check's runs, marked as segment `I/N` of that run's load, and the mocks'
//! calls for checks judged by the truth. The merge groups the runs by key, merges
//! each group with the pipeline of `gatebench merge` (every segment once, counts
//! added, HDR histograms merged), and takes the check's verdict on the result.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gatebench_driver::Segment;
use gatebench_report::{Verdict, console, write_all};
use gatebench_suite::segment::{
    CheckSegment, Merged, check_segmentable, judge_merged, run_segment, runs_by_key, truth_union,
};
use gatebench_suite::{CheckSpec, SuiteFile, SuiteOptions, TargetProfile};

use crate::merge::{Refusal, merge_runs, print_line, read_log_lines};

/// What starts a suite check segment's line in a log.
pub(crate) const SEGMENT_MARKER: &str = "gatebench-suite-segment ";

/// The file a segment writes in its output folder.
const SEGMENT_FILE: &str = "segment.json";

/// Runs segment `segment` of the check and writes what it drove.
pub(crate) async fn segment(
    file: &SuiteFile,
    spec: &CheckSpec,
    options: &SuiteOptions,
    segment: Segment,
    print: bool,
) -> anyhow::Result<ExitCode> {
    if let Err(error) = check_segmentable(spec, options) {
        eprintln!("error: {error}");
        return Ok(ExitCode::from(2));
    }
    if !options.quiet {
        eprintln!(
            "suite {}, check {}: segment {segment} of its load",
            file.name, spec.name
        );
    }
    let done = match run_segment(file, spec, options, segment).await {
        Ok(done) => done,
        Err(error) => {
            // no segment.json: the merge names this segment as missing
            eprintln!("error: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    let path = options.out.join(SEGMENT_FILE);
    let json = serde_json::to_vec(&done).context("serialising the segment")?;
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    let sent: u64 = done.runs.iter().map(|r| r.results.totals.sent).sum();
    outln!(
        "  segment {segment} of check {}: {sent} requests sent in {} run{}",
        spec.name,
        done.runs.len(),
        if done.runs.len() == 1 { "" } else { "s" }
    );
    outln!("  results: {}", path.display());
    outln!(
        "  the check is judged on the merged segments (`gatebench suite ... --check {} --merge`)",
        spec.name
    );
    if print {
        print_line(SEGMENT_MARKER, &done)?;
    }
    // A segment's figures are a part of the load; its exit code says only that it
    // ran (a pod that exits non-zero would be retried, sending its part twice).
    Ok(ExitCode::SUCCESS)
}

/// Reads `DIR/segment.json` (or the file itself).
fn read_dir(path: &Path) -> anyhow::Result<Option<CheckSegment>> {
    if !path.exists() {
        anyhow::bail!("{}: no such folder or file", path.display());
    }
    let file = if path.is_dir() {
        path.join(SEGMENT_FILE)
    } else {
        path.to_owned()
    };
    if !file.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let segment = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a suite check segment", file.display()))?;
    Ok(Some(segment))
}

/// What the merge reads, and the profile the check is judged with.
pub(crate) struct MergeInputs<'a> {
    /// Segments' output folders.
    pub dirs: &'a [PathBuf],
    /// Logs holding segments' lines.
    pub logs: &'a [PathBuf],
    /// The profile named on the command line, if any.
    pub preset: Option<&'a str>,
}

/// Merges the check's segments and judges it.
pub(crate) fn merge(
    file: &SuiteFile,
    spec: &CheckSpec,
    inputs: MergeInputs<'_>,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let mut segments = Vec::new();
    for dir in inputs.dirs {
        match read_dir(dir)? {
            Some(s) => segments.push((s, dir.display().to_string())),
            None => {
                eprintln!(
                    "error: {}: no {SEGMENT_FILE}: that segment did not finish, and a verdict without it would judge a part of the load",
                    dir.display()
                );
                return Ok(ExitCode::from(1));
            }
        }
    }
    for logs in inputs.logs {
        let found: Vec<(CheckSegment, String)> = read_log_lines(logs, SEGMENT_MARKER)?;
        if found.is_empty() {
            eprintln!(
                "error: no `{}` line in {}: no segment finished (were they run with --print-results?)",
                SEGMENT_MARKER.trim_end(),
                logs.display()
            );
            return Ok(ExitCode::from(1));
        }
        segments.extend(found);
    }
    if !quiet {
        for (s, source) in &segments {
            eprintln!(
                "  {source}: segment {}/{} of check {}",
                s.index, s.count, s.check
            );
        }
    }
    let segments: Vec<CheckSegment> = segments.into_iter().map(|(s, _)| s).collect();
    let groups = runs_by_key(file, spec, &segments).map_err(anyhow::Error::from)?;
    let truth = truth_union(&segments).map_err(anyhow::Error::from)?;
    let profile = profile_of(&segments[0], inputs.preset)?;
    let mut runs = Vec::new();
    let mut incomplete = Vec::new();
    for (key, group) in groups {
        match merge_runs(&group) {
            Ok(merged) => {
                incomplete.extend(merged.incomplete);
                runs.push((key, merged.results));
            }
            Err(Refusal::Incomplete(why)) => {
                eprintln!("error: check {}: {why}", spec.name);
                return Ok(ExitCode::from(1));
            }
            Err(Refusal::Invalid(error)) => {
                return Err(error.context(format!("check {}, run {key}", spec.name)));
            }
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let count = segments[0].count;
    let report = judge_merged(
        file,
        spec,
        Merged {
            segments: &segments,
            runs,
            truth,
            profile,
            out,
        },
    );
    let written = write_all(&report, out)?;
    outln!("{}", console(&report));
    outln!("  {count} segments merged");
    outln!(
        "reports: {}",
        written.html.parent().unwrap_or(out).display()
    );
    for why in &incomplete {
        eprintln!("error: {why}");
    }
    Ok(
        if report.verdict == Verdict::Ready && incomplete.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// The profile the segments were judged with: the embedded stack's is always
/// `gatebench`; an external target's must be named again (`--preset`) when it
/// was not that preset.
fn profile_of(first: &CheckSegment, preset: Option<&str>) -> anyhow::Result<TargetProfile> {
    let recorded = &first.target.profile;
    let name = match preset {
        Some(name) => name,
        None => recorded.as_str(),
    };
    let profile = TargetProfile::load(name).with_context(|| {
        format!("the segments ran with target profile `{recorded}`: give the merge the same --preset or --profile FILE")
    })?;
    if &profile.name != recorded {
        anyhow::bail!(
            "the segments ran with target profile `{recorded}`, not `{}`: give the merge the same --preset or --profile FILE",
            profile.name
        );
    }
    Ok(profile)
}
