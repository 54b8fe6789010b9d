//! `gatebench scale SCENARIO`: the scalability step test. The scenario's request
//! mix runs at each load of `--steps` in turn (its `[load]` replaced), and
//! `DIR/scale.json` (with `scale.md` and `scale.html`) says how far throughput grew
//! linearly and where the target broke.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gatebench_driver::analysis::{Criteria, Mode, parse_steps};
use gatebench_driver::scale::{ScaleOptions, scale};
use gatebench_driver::{RunOptions, ScenarioFile, Targets};
use gatebench_report::{scale_console, write_scale};

/// Options of `gatebench scale`.
#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// Scenario file (TOML) whose request mix is stepped; its `[load]` is replaced.
    scenario: PathBuf,
    /// Base URL of the target; default: the embedded stack (mocks and gateway).
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// https targets: trust the CA certificates in this PEM file.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "insecure",
        requires = "target"
    )]
    cacert: Option<PathBuf>,
    /// https targets: accept any certificate.
    #[arg(long, short = 'k', requires = "target")]
    insecure: bool,
    /// What a step's load counts: `concurrency` (VUs, closed loop) or `rate`
    /// (requests started per second, open loop); default: the scenario's kind of
    /// executor.
    #[arg(long, value_parser = clap::value_parser!(Mode))]
    mode: Option<Mode>,
    /// Loads to run, rising: VUs or requests per second.
    #[arg(long, default_value = "10,25,50,100")]
    steps: String,
    /// How long each step runs.
    #[arg(long, default_value = "20s", value_parser = crate::parse_duration)]
    step_duration: Duration,
    /// After the listed steps, keep doubling the load until the target breaks.
    #[arg(long)]
    until_break: bool,
    /// Highest load `--until-break` may reach.
    #[arg(long, default_value_t = 10_000.0)]
    max_load: f64,
    /// Efficiency below which the linear range ends (0–1).
    #[arg(long, default_value_t = Criteria::default().min_efficiency)]
    min_efficiency: f64,
    /// Error rate above which a step is broken, e.g. `0.01` for 1 %.
    #[arg(long, default_value_t = Criteria::default().max_error_rate)]
    max_error_rate: f64,
    /// p95 latency above which a step is broken (real-time equivalent), e.g. `2s`.
    #[arg(long, value_parser = crate::parse_positive_duration)]
    slo_p95: Option<Duration>,
    /// Output folder; default: reports/NAME-scale-TIMESTAMP.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seed of every draw; default: the file's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// The mocks' time scale: the embedded stack multiplies every mock delay by it
    /// (default 1; 0 = no delays). With --target, the scale the mocks behind the
    /// target run at (`gatebench up --time-scale`): thresholds then judge
    /// real-time equivalents, as on the embedded stack.
    #[arg(long, value_parser = crate::mock::time_scale)]
    time_scale: Option<f64>,
    /// The mocks behind the target (the URL of any mock of the set): their books
    /// show how much of each step's latency the provider held. Default: the
    /// embedded stack's mocks; none for another target.
    #[arg(long, value_name = "URL")]
    mocks: Option<String>,
}

/// The criteria the flags set, or what is wrong with them.
fn criteria(args: &ScaleArgs) -> Result<Criteria, String> {
    let fraction = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{name} must be between 0 and 1, not {v}"))
        }
    };
    Ok(Criteria {
        min_efficiency: fraction("--min-efficiency", args.min_efficiency)?,
        max_error_rate: fraction("--max-error-rate", args.max_error_rate)?,
        slo_p95_ms: args.slo_p95.map(|d| d.as_secs_f64() * 1000.0),
        ..Criteria::default()
    })
}

/// What is wrong with the loads and step length the flags ask for, if anything:
/// a step shorter than a second measures no throughput, a load beyond what one
/// driver runs cannot be sent, and `--until-break` needs room above the last step.
fn loads(args: &ScaleArgs, mode: Mode, steps: &[f64]) -> Result<(), String> {
    if args.step_duration < Duration::from_secs(1) {
        return Err(
            "--step-duration must be at least 1s: a shorter step measures no throughput".into(),
        );
    }
    let (most, unit) = match mode {
        Mode::Concurrency => (f64::from(gatebench_driver::scenario::MAX_VUS), "VUs"),
        Mode::Rate => (
            f64::from(gatebench_driver::scenario::MAX_RATE),
            "requests a second",
        ),
    };
    if let Some(&last) = steps.last()
        && last > most
    {
        return Err(format!(
            "--steps: {} is more than one driver runs (at most {most} {unit})",
            shown(last)
        ));
    }
    if args.until_break {
        let last = steps.last().copied().unwrap_or(0.0);
        if !(args.max_load > last && args.max_load <= most) {
            return Err(format!(
                "--max-load must be above the last step ({}) and at most {most} {unit}, not {}",
                shown(last),
                shown(args.max_load)
            ));
        }
    }
    Ok(())
}

/// A number as a message shows it: `1e308`, not its 309 digits.
fn shown(x: f64) -> String {
    if x.abs() >= 1e15 {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

pub async fn scale_cmd(args: ScaleArgs) -> anyhow::Result<ExitCode> {
    let file = match ScenarioFile::load(&args.scenario) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mode = args.mode.unwrap_or_else(|| {
        match file.scenarios.first().map(|s| s.load.executor.is_open()) {
            Some(true) => Mode::Rate,
            _ => Mode::Concurrency,
        }
    });
    let steps = match parse_steps(&args.steps, mode) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --steps: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let criteria = match criteria(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(e) = loads(&args, mode, &steps) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(2));
    }
    let seed = args.seed.unwrap_or(file.seed);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| crate::run::default_out(&format!("{}-scale", file.name)));
    let (stack, targets, label) = match &args.target {
        Some(url) => {
            let trust = crate::run::trust(args.cacert.as_ref(), args.insecure);
            (None, Targets::new(url).with_trust(trust), url.clone())
        }
        None => {
            let (stack, targets) =
                crate::run::start_stack(seed, args.time_scale.unwrap_or(1.0), &out).await?;
            (Some(stack), targets, "the embedded stack".to_owned())
        }
    };
    let (books, upstream_concurrency) =
        match crate::run::evidence_sources(stack.as_ref(), args.mocks.as_deref()).await {
            Ok(sources) => sources,
            Err(e) => {
                eprintln!("error: --mocks: {e}");
                return Ok(ExitCode::from(2));
            }
        };
    let (ctrl_c, cancel_rx) = crate::cancel_on_stop_signal(
        "stopping: the step under way is cut short and left out (Ctrl-C again to quit)",
    );
    let options = ScaleOptions {
        mode,
        steps,
        step_duration: args.step_duration,
        until_break: args.until_break,
        max_load: args.max_load,
        criteria,
        run: RunOptions {
            seed: Some(seed),
            quiet: true,
            time_scale: crate::run::time_scale(args.target.as_ref(), args.time_scale),
            cancel: Some(cancel_rx),
            books,
            upstream_concurrency,
            ..RunOptions::default()
        },
        target_label: label,
    };
    let unit = mode.unit();
    eprintln!(
        "scale: {} steps of {} in {mode} mode",
        options.steps.len(),
        gatebench_driver::format_duration(args.step_duration)
    );
    let outcome = scale(&file, &targets, options, |s| {
        let bottleneck = s.bottleneck.as_ref().map_or_else(String::new, |b| {
            let share = b
                .share
                .map_or_else(String::new, |v| format!(" {:.0} %", v * 100.0));
            format!(", bottleneck {}{share}", b.component.name())
        });
        eprintln!(
            "  {} {unit}: {} ok/s, p95 {}, errors {:.2}%{bottleneck}",
            s.load,
            s.throughput,
            s.p95_ms
                .map_or_else(|| "-".to_owned(), gatebench_driver::fmt_ms),
            s.error_rate * 100.0
        );
    })
    .await;
    ctrl_c.abort();
    if let Some(stack) = stack {
        stack.shutdown().await;
    }
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let written = write_scale(&report, &out)?;
    out!("{}", scale_console(&report));
    outln!("\n  scale:  {}", written.json.display());
    outln!("  report: {}", written.html.display());
    // as a cancelled run: the steps it did not run are not judged
    Ok(match &report.stopped_early {
        Some(why) => {
            eprintln!("error: stopped early: {why}");
            ExitCode::from(1)
        }
        None => ExitCode::SUCCESS,
    })
}
