//! `gatebench merge DIR... --out DIR`: adds the results of a load's execution
//! segments (`gatebench run --segment I/N`) into the results of the whole load.
//!
//! Counts add and HDR histograms merge exactly, time series align on wall-clock
//! seconds, per-request records concatenate (`gatebench-results`' merge); the
//! thresholds the segments carried are judged again on the merged figures and decide
//! the exit code. Every segment of the load must be there, once: a segment that
//! failed or whose results were not collected makes the merge fail (exit 1) rather
//! than report a part of the load as the whole.
//!
//! Segments in containers print their results as one log line (`run
//! --print-results`); `--from-logs` reads them back from `kubectl logs` output, with
//! or without `--prefix`.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use gatebench_driver::Segment;
use gatebench_driver::results::{RunResults, SegmentInfo, SegmentsError, check_segments, merge};
use gatebench_driver::threshold::{evaluate_all, from_results};
use gatebench_report::{TargetInfo, run_report, write_all};

/// What starts a results line in a log: `gatebench-results {...}`.
pub(crate) const LOG_MARKER: &str = "gatebench-results ";

/// Options of `gatebench merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Output folders of the segments' runs (or their results.json files).
    #[arg(value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Logs holding the segments' `gatebench-results` lines (`run --print-results`),
    /// e.g. saved `kubectl logs --prefix -l job-name=JOB --tail=-1`; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    from_logs: Vec<PathBuf>,
    /// Output folder for the merged results.json and its reports.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// One input's results and where they came from.
struct Input {
    results: RunResults,
    source: String,
    /// Where the results were read: a folder's `results.json`, or `FILE line N`.
    read_from: String,
}

/// The segment a run was, with the digest of the load it is part of: the scenario
/// file's bytes, the seed and the duration override. Segments of different loads
/// never merge.
pub(crate) fn segment_info(
    segment: Segment,
    scenario: &Path,
    seed: u64,
    duration: Option<Duration>,
) -> anyhow::Result<SegmentInfo> {
    let mut bytes = std::fs::read(scenario)
        .with_context(|| format!("reading {} for its digest", scenario.display()))?;
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&duration.map_or(u128::MAX, |d| d.as_nanos()).to_le_bytes());
    Ok(SegmentInfo {
        index: segment.index(),
        count: segment.count(),
        plan: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)),
    })
}

/// Prints the results as one line on stdout, for collection from container logs.
pub(crate) fn print_results_line(results: &RunResults) -> anyhow::Result<()> {
    print_line(LOG_MARKER, results)
}

/// Reads `DIR/results.json` (or the file itself).
fn read_dir(path: &Path) -> anyhow::Result<Input> {
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_owned()
    };
    if !path.exists() {
        anyhow::bail!("{}: no such folder or file", path.display());
    }
    let results = RunResults::read_json(&file)
        .map_err(|e| anyhow::anyhow!("reading {}: {}", e.path.display(), e.source))?;
    Ok(Input {
        results,
        source: path.display().to_string(),
        read_from: file.display().to_string(),
    })
}

/// Reads every results line of a log.
fn read_logs(path: &Path) -> anyhow::Result<Vec<Input>> {
    Ok(read_log_lines(path, LOG_MARKER)?
        .into_iter()
        .map(|(results, source)| Input {
            results,
            read_from: source.clone(),
            source,
        })
        .collect())
}

/// Refuses a corrupt results document (a segment no split has, a histogram that
/// does not decode, a length of time no run has), naming where it came from: the
/// merge refuses it too, but without saying which of the inputs it was. Asked only
/// once a merge has failed, so that a merge that works decodes each input once.
fn sound(results: &RunResults, source: &str) -> anyhow::Result<()> {
    let failed = |e: &dyn std::fmt::Display| anyhow::anyhow!("{source}: {e}");
    if let Some(segment) = &results.segment {
        segment.check().map_err(|e| failed(&e))?;
    }
    results.store().map(drop).map_err(|e| failed(&e))
}

/// Reads every line of a log that holds `marker` and then a JSON document, with
/// where it was (`FILE line N`); `-` reads stdin. Container logs prefix lines
/// (`kubectl logs --prefix`), so the marker may start anywhere in a line.
pub(crate) fn read_log_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    marker: &str,
) -> anyhow::Result<Vec<(T, String)>> {
    let name = path.display().to_string();
    let reader: Box<dyn std::io::BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("opening {name}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut found = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {name}"))?;
        let Some(at) = line.find(marker) else {
            continue;
        };
        let source = format!("{name} line {}", i + 1);
        let value: T =
            serde_json::from_str(line[at + marker.len()..].trim()).with_context(|| {
                format!("{source}: not a complete results document (a log cut short?)")
            })?;
        found.push((value, source));
    }
    Ok(found)
}

/// Prints `value` as one line `MARKER{json}` on stdout, for collection from
/// container logs.
pub(crate) fn print_line<T: serde::Serialize>(marker: &str, value: &T) -> anyhow::Result<()> {
    let json = serde_json::to_string(value).context("serialising the results")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{marker}{json}")
        .and_then(|()| out.flush())
        .context("printing the results")
}

fn label(r: &RunResults) -> String {
    r.segment.as_ref().map_or_else(
        || "a whole run".to_owned(),
        |s| format!("segment {}/{}", s.index, s.count),
    )
}

/// Runs `gatebench merge`.
pub fn merge_cmd(args: MergeArgs) -> anyhow::Result<ExitCode> {
    if args.dirs.is_empty() && args.from_logs.is_empty() {
        anyhow::bail!("nothing to merge: name the segments' output folders or --from-logs FILE");
    }
    let mut inputs = Vec::new();
    for dir in &args.dirs {
        if dir.join("segment.json").exists() && !dir.join("results.json").exists() {
            anyhow::bail!(
                "{} holds a segment of a suite check: merge it with `gatebench suite SUITE --check NAME --merge DIR...`, which takes the check's verdict",
                dir.display()
            );
        }
        if dir.is_dir() && !dir.join("results.json").exists() {
            // the folder of a segment that never wrote its results: it failed
            eprintln!(
                "error: {}: no results.json: that run did not finish, and a merge without it would be a partial result",
                dir.display()
            );
            return Ok(ExitCode::from(1));
        }
        inputs.push(read_dir(dir)?);
    }
    for logs in &args.from_logs {
        let found = read_logs(logs)?;
        if found.is_empty() {
            eprintln!(
                "error: no `{}` line in {}: no segment finished (were they run with --print-results?)",
                LOG_MARKER.trim_end(),
                logs.display()
            );
            return Ok(ExitCode::from(1));
        }
        inputs.extend(found);
    }
    for input in &inputs {
        eprintln!("  {}: {}", input.source, label(&input.results));
    }
    let (runs, read_from): (Vec<RunResults>, Vec<String>) =
        inputs.into_iter().map(|i| (i.results, i.read_from)).unzip();
    let merged = match merge_runs(&runs) {
        Ok(merged) => merged,
        Err(refusal) => {
            // a corrupt input is named before any other reason the merge failed
            let mut inputs = runs.iter().zip(&read_from);
            if let Some(corrupt) = inputs.find_map(|(r, s)| sound(r, s).err()) {
                return Err(corrupt);
            }
            match refusal {
                Refusal::Incomplete(why) => {
                    eprintln!("error: {why}");
                    return Ok(ExitCode::from(1));
                }
                Refusal::Invalid(error) => return Err(error),
            }
        }
    };
    let path = merged.results.write_json(&args.out)?;
    let target = TargetInfo {
        mode: "external".to_owned(),
        url: merged.what.clone(),
        profile: String::new(),
        mocks: None,
    };
    let report = run_report(&merged.results, target, gatebench_suite::environment());
    let written = write_all(&report, &args.out)?;
    gatebench_driver::print_summary(&merged.results);
    outln!("\n  {}", merged.what);
    outln!("  results: {}", path.display());
    outln!("  report:  {}", written.html.display());
    for why in &merged.incomplete {
        eprintln!("error: {why}");
    }
    let nothing = merged.results.totals.ok == 0;
    if nothing {
        eprintln!("error: no request succeeded in any segment; the load measured nothing");
    }
    Ok(
        if merged.results.passed() && merged.incomplete.is_empty() && !nothing {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// Why results were not merged.
pub(crate) enum Refusal {
    /// The load is not whole: a segment is missing (exit 1).
    Incomplete(String),
    /// The inputs are not parts of one load (exit 2).
    Invalid(anyhow::Error),
}

/// One load's results merged, its thresholds judged again on the merged figures.
pub(crate) struct Merged {
    /// The merged results.
    pub results: RunResults,
    /// `N segments merged` (or runs).
    pub what: String,
    /// Segments that stopped early: the merged results miss the rest of their load.
    pub incomplete: Vec<String>,
}

/// The merge of `gatebench merge` and of a suite check's segments: every segment
/// of one load, once, with the same thresholds; counts added, histograms merged,
/// thresholds judged again.
pub(crate) fn merge_runs(runs: &[RunResults]) -> Result<Merged, Refusal> {
    let segments = match check_segments(runs) {
        Ok(n) => n,
        Err(e @ SegmentsError::Missing { .. }) => return Err(Refusal::Incomplete(e.to_string())),
        Err(e) => return Err(Refusal::Invalid(e.into())),
    };
    let first = runs
        .first()
        .ok_or_else(|| Refusal::Invalid(anyhow::anyhow!("nothing to merge")))?;
    let criteria = &first.thresholds;
    let same = |a: &RunResults| {
        a.thresholds.len() == criteria.len()
            && a.thresholds
                .iter()
                .zip(criteria)
                .all(|(x, y)| x.key == y.key && x.expression == y.expression)
    };
    if let Some(other) = runs.iter().find(|r| !same(r)) {
        return Err(Refusal::Invalid(anyhow::anyhow!(
            "{} of `{}` has other thresholds than {} of `{}`: results of different scenarios",
            label(other),
            other.name,
            label(first),
            first.name
        )));
    }
    let invalid = |e: anyhow::Error| Refusal::Invalid(e);
    let thresholds = from_results(criteria)
        .context("the thresholds the results carry")
        .map_err(invalid)?;
    let mut merged = merge(runs).context("merging").map_err(invalid)?;
    let store = merged
        .store()
        .context("rebuilding the merged histograms")
        .map_err(invalid)?;
    merged.thresholds = evaluate_all(&thresholds, &store);
    let incomplete = runs
        .iter()
        .filter(|r| r.aborted)
        .map(|r| {
            format!(
                "{} stopped early ({}): the merged results miss the rest of its load",
                label(r),
                r.abort_reason.as_deref().unwrap_or("no reason given")
            )
        })
        .collect();
    Ok(Merged {
        results: merged,
        what: match segments {
            Some(n) => format!("{n} segments merged"),
            None => format!("{} runs merged", runs.len()),
        },
        incomplete,
    })
}
