//! `gatebench run SCENARIO.toml`: one scenario file against a target, results and
//! reports (HTML, Markdown, JSON, JUnit; one check per threshold) in a folder, a
//! summary on stdout, and the exit code of its thresholds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use gatebench_driver::books::Books;
use gatebench_driver::{Kind, RunOptions, ScenarioFile, Segment, Targets, Trust};
use gatebench_report::{TargetInfo, run_report, write_all};
use gatebench_stack::{Stack, StackOptions};

/// Options of `gatebench run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Base URL of the target (a gateway, a mock, your own service); default: start
    /// the embedded stack (mocks and gateway) in-process on free loopback ports.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// https targets: trust the CA certificates in this PEM file instead of the
    /// system's.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "insecure",
        requires = "target"
    )]
    cacert: Option<PathBuf>,
    /// https targets: accept any certificate (self-signed staging servers).
    #[arg(long, short = 'k', requires = "target")]
    insecure: bool,
    /// Seed of every draw (payloads, think times; the embedded mocks too); default:
    /// the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Squeeze the whole file to this length (stages scale proportionally), e.g. `30s`.
    #[arg(long, value_parser = crate::parse_positive_duration)]
    duration: Option<Duration>,
    /// Output folder for results.json; default: reports/NAME-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No live progress; print only the end summary.
    #[arg(long)]
    quiet: bool,
    /// Write JSON-lines events (stages, per-second snapshots, breaches, resource
    /// alerts, end) here.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// The mocks' time scale: the embedded stack multiplies every mock delay by it
    /// (default 1; 0 = no delays). With --target, the scale the mocks behind the
    /// target run at (`gatebench up --time-scale`): thresholds then judge
    /// real-time equivalents, as on the embedded stack.
    #[arg(long, value_parser = crate::mock::time_scale)]
    time_scale: Option<f64>,
    /// Keep one record per request in results.json (intent, status, usage, gateway headers).
    #[arg(long)]
    record_requests: bool,
    /// Run execution segment I of N (from 0) of the load: its share of the arrivals,
    /// VUs and iterations; `gatebench merge` adds the segments' results.
    #[arg(long, value_name = "I/N")]
    segment: Option<Segment>,
    /// Watch this local process too (CPU, memory, threads, open files and sockets),
    /// besides gatebench's own; repeatable.
    #[arg(long = "watch-pid", value_name = "PID")]
    watch_pids: Vec<u32>,
    /// Watch every local process of this name too; repeatable.
    #[arg(long = "watch-process", value_name = "NAME")]
    watch_processes: Vec<String>,
    /// The mocks behind the target (the URL of any mock of the set): their books
    /// show how much of the latency the provider held, for the bottleneck finding.
    /// Default: the embedded stack's mocks; none for another target.
    #[arg(long, value_name = "URL")]
    mocks: Option<String>,
    /// Also print results.json on stdout as one line `gatebench-results {...}` at the
    /// end, for `gatebench merge --from-logs` to collect from container logs.
    #[arg(long)]
    print_results: bool,
}

/// Starts the embedded stack (the four mocks and the gateway in front of them) on
/// free loopback ports, its ledger in the output folder, and targets the gateway.
pub(crate) async fn start_stack(
    seed: u64,
    time_scale: f64,
    out: &Path,
) -> anyhow::Result<(Stack, Targets)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut options = StackOptions::ephemeral(seed, time_scale);
    options.ledger = out.join("ledger.db").display().to_string();
    let stack = Stack::start(options)
        .await
        .context("starting the embedded stack")?;
    // the gateway has no WebSocket route: text-to-speech over ElevenLabs'
    // stream-input socket goes to its mock directly
    let mut targets = Targets::new(stack.gateway_url());
    if let Some(elevenlabs) = stack.mock_url("elevenlabs") {
        targets = targets.with(Kind::TtsWs, elevenlabs);
    }
    Ok((stack, targets))
}

/// Where a run's bottleneck evidence comes from besides the run itself: the mocks'
/// books (the embedded stack's, or the set `--mocks` names) and the embedded
/// gateway's upstream concurrency per provider.
pub(crate) async fn evidence_sources(
    stack: Option<&Stack>,
    mocks: Option<&str>,
) -> anyhow::Result<(Option<Books>, BTreeMap<String, u64>)> {
    let books = match (mocks, stack) {
        (Some(url), _) => Some(Books::discover_at(url).await.map_err(anyhow::Error::msg)?),
        (None, Some(stack)) => Some(Books::at(
            stack
                .mock_urls()
                .into_iter()
                .map(|(name, url)| (name.to_owned(), url))
                .collect(),
        )),
        (None, None) => None,
    };
    let concurrency = stack
        .map(|s| {
            s.gateway()
                .gateway()
                .config
                .providers
                .iter()
                .map(|p| (p.name.clone(), p.concurrency as u64))
                .collect()
        })
        .unwrap_or_default();
    Ok((books, concurrency))
}

/// What `--cacert` and `--insecure` ask for.
pub(crate) fn trust(cacert: Option<&PathBuf>, insecure: bool) -> Trust {
    match (cacert, insecure) {
        (Some(file), _) => Trust::CaFile(file.clone()),
        (None, true) => Trust::Insecure,
        (None, false) => Trust::Platform,
    }
}

/// Default output folder: `reports/NAME-YYYYMMDD-HHMMSS`.
pub(crate) fn default_out(name: &str) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect::<String>()
        .replace('T', "-");
    Path::new("reports").join(format!("{}-{stamp}", folder_name(name)))
}

/// `name` as one folder name under `reports/`: a file's name may hold anything,
/// and `a/../../x` must not write outside it. Letters, digits, `-`, `_` and `.`
/// are kept, anything else becomes `-`; no leading `.` or `-`; `run` if nothing
/// is left.
fn folder_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    match kept.trim_start_matches(['.', '-']) {
        "" => "run".to_owned(),
        kept => kept.to_owned(),
    }
}

/// The time scale a run states and judges thresholds at: the embedded stack's
/// (1 unless given), or the one given for the mocks behind `--target` (none:
/// the target's mocks keep their own, unknown).
pub(crate) fn time_scale(target: Option<&String>, given: Option<f64>) -> Option<f64> {
    match target {
        None => Some(given.unwrap_or(1.0)),
        Some(_) => given,
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let file = match ScenarioFile::load(&args.scenario) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let seed = args.seed.unwrap_or(file.seed);
    let out = args.out.clone().unwrap_or_else(|| default_out(&file.name));
    let (stack, targets) = match &args.target {
        Some(url) => {
            let trust = trust(args.cacert.as_ref(), args.insecure);
            (None, Targets::new(url).with_trust(trust))
        }
        None => {
            let (stack, targets) = start_stack(seed, args.time_scale.unwrap_or(1.0), &out).await?;
            (Some(stack), targets)
        }
    };
    let (books, upstream_concurrency) =
        match evidence_sources(stack.as_ref(), args.mocks.as_deref()).await {
            Ok(sources) => sources,
            Err(e) => {
                eprintln!("error: --mocks: {e}");
                return Ok(ExitCode::from(2));
            }
        };
    let (ctrl_c, cancel_rx) = crate::cancel_on_stop_signal(
        "stopping: in-flight requests get their grace period (Ctrl-C again to quit)",
    );
    let options = RunOptions {
        seed: Some(seed),
        duration: args.duration,
        quiet: args.quiet,
        events: args.events.clone(),
        record_requests: args.record_requests,
        time_scale: time_scale(args.target.as_ref(), args.time_scale),
        cancel: Some(cancel_rx),
        segment: args.segment.unwrap_or_default(),
        watch_pids: args.watch_pids.clone(),
        watch_processes: args.watch_processes.clone(),
        books,
        upstream_concurrency,
        ..RunOptions::default()
    };
    let outcome = gatebench_driver::run(&file, &targets, options).await;
    ctrl_c.abort();
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    let mut results = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(segment) = args.segment {
        results.segment = Some(crate::merge::segment_info(
            segment,
            &args.scenario,
            seed,
            args.duration,
        )?);
    }
    let path = results.write_json(&out)?;
    let target = TargetInfo {
        mode: if args.target.is_some() {
            "external"
        } else {
            "embedded"
        }
        .to_owned(),
        url: args
            .target
            .clone()
            .unwrap_or_else(|| "mocks and gateway on free loopback ports".to_owned()),
        profile: String::new(),
        mocks: args
            .target
            .is_none()
            .then(|| "the embedded mocks".to_owned()),
    };
    let report = run_report(&results, target, gatebench_suite::environment());
    let written = write_all(&report, &out)?;
    gatebench_driver::print_summary(&results);
    outln!("\n  results: {}", path.display());
    outln!("  report:  {}", written.html.display());
    if args.print_results {
        crate::merge::print_results_line(&results)?;
    }
    // a run where nothing succeeded measured nothing about the target
    let nothing = results.totals.ok == 0;
    if nothing {
        eprintln!("error: no request succeeded; the run measured nothing");
    }
    if args.segment.is_some() {
        // a segment's thresholds see a part of the load: the merge judges the whole,
        // and a pod that exits non-zero would be retried, sending its part twice
        outln!("  segment: thresholds are judged on the merged results (`gatebench merge`)");
        return Ok(ExitCode::SUCCESS);
    }
    // a run stopped by a signal judged only part of its scenario
    Ok(if results.passed() && !results.aborted && !nothing {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_name_makes_one_folder_under_reports() {
        assert_eq!(folder_name("story-mix_2.v1"), "story-mix_2.v1");
        assert_eq!(folder_name("a/b/../../../escape"), "a-b-..-..-..-escape");
        assert_eq!(folder_name("../up"), "up");
        assert_eq!(folder_name("two words"), "two-words");
        assert_eq!(folder_name(""), "run");
        assert_eq!(folder_name("/"), "run");
        let out = default_out("../../x");
        assert_eq!(out.parent(), Some(Path::new("reports")), "{out:?}");
    }
}
