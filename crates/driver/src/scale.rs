//! The scalability step test: a scenario's request mix at rising loads, one run per
//! step, each step's figures read from its own HDR histograms, and the steps judged
//! by `gatebench-analysis` (efficiency, linear range, breaking point).
//!
//! The scenario's `[load]` is replaced at each step: `constant-vus` with the step's
//! VUs (concurrency mode, the scenario's think time kept) or `constant-arrival-rate`
//! at the step's rate (rate mode). Its thresholds do not apply: the step test has
//! its own criteria ([`Criteria`]).

use std::time::Duration;

use gatebench_analysis::{Criteria, Mode, ScaleReport, ScaleStep, analyse, efficiencies};
use gatebench_results::{MergeError, RunResults, US_TO_MS, round3};

use crate::engine::{RunError, RunOptions, run};
use crate::scenario::{DEFAULT_MAX_VUS, Executor, ScenarioFile};
use crate::targets::Targets;

/// Steps added by `until_break` at most, beyond the listed ones.
pub const MAX_EXTRA_STEPS: usize = 16;

/// Options of a step test.
#[derive(Clone, Debug)]
pub struct ScaleOptions {
    /// VUs or arrival rate.
    pub mode: Mode,
    /// Loads to run, rising.
    pub steps: Vec<f64>,
    /// How long each step runs.
    pub step_duration: Duration,
    /// After the listed steps, keep doubling the load until the target breaks (or
    /// `max_load`, or [`MAX_EXTRA_STEPS`] more steps).
    pub until_break: bool,
    /// Highest load `until_break` may reach.
    pub max_load: f64,
    /// What counts as linear and as broken.
    pub criteria: Criteria,
    /// How each step runs (seed, time scale, quiet, cancel); its `duration` is
    /// ignored: `step_duration` sets it.
    pub run: RunOptions,
    /// Where the load goes, for the report (a URL or "the embedded stack").
    pub target_label: String,
}

/// A step test could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// Steps need one request mix.
    #[error(
        "{file}: the step test runs one scenario's request mix, and this file has {count} (`[scenarios.NAME]`); give it a file with a top-level `[load]`"
    )]
    Scenarios {
        /// The file.
        file: String,
        /// Scenarios in it.
        count: usize,
    },
    /// A step's run could not start.
    #[error("step {load} {unit}: {source}")]
    Run {
        /// The step's load.
        load: f64,
        /// Its unit.
        unit: &'static str,
        /// Why.
        source: RunError,
    },
    /// A step's histograms could not be read back.
    #[error("step {load}: {source}")]
    Histograms {
        /// The step's load.
        load: f64,
        /// Why.
        source: MergeError,
    },
}

/// The scenario file with its load replaced by one step's.
pub fn step_file(file: &ScenarioFile, mode: Mode, load: f64, duration: Duration) -> ScenarioFile {
    let mut out = file.clone();
    out.thresholds.clear();
    for s in &mut out.scenarios {
        let max_vus = if s.load.executor.is_open() {
            s.load.executor.max_vus()
        } else {
            DEFAULT_MAX_VUS
        };
        s.load.executor = match mode {
            Mode::Concurrency => Executor::ConstantVus {
                vus: load.round().max(1.0) as u32,
                duration,
            },
            Mode::Rate => Executor::ConstantArrivalRate {
                rate: load,
                duration,
                max_vus,
            },
        };
        s.load.start_time = Duration::ZERO;
        // in-flight requests may finish, but an overloaded step must not double its length
        s.load.graceful_stop = s.load.graceful_stop.min(duration);
    }
    out
}

/// One step's figures from its run: throughput of successes over the whole run
/// (drain included), percentiles of every outcome's latency from the intended send
/// time merged from the histograms, errors over answered requests.
pub fn measure(load: f64, unit: &str, results: &RunResults) -> Result<ScaleStep, MergeError> {
    let summary = results.store()?.answered_latency().summary(US_TO_MS);
    let t = &results.totals;
    let answered = t.ok + t.failed;
    Ok(ScaleStep {
        load,
        throughput: if results.duration_s > 0.0 {
            round3(t.ok as f64 / results.duration_s)
        } else {
            0.0
        },
        p50_ms: summary.as_ref().map(|s| s.p50),
        p95_ms: summary.as_ref().map(|s| s.p95),
        p99_ms: summary.as_ref().map(|s| s.p99),
        error_rate: if answered > 0 {
            (t.failed as f64 / answered as f64 * 10_000.0).round() / 10_000.0
        } else {
            0.0
        },
        efficiency: None,
        sent: t.sent,
        ok: t.ok,
        failed: t.failed,
        dropped: t.dropped,
        duration_s: results.duration_s,
        bottleneck: results
            .bottleneck
            .as_ref()
            .map(|b| gatebench_analysis::bottleneck::relabel(b, load, unit)),
    })
}

/// Runs the steps one after another and judges them; `on_step` sees each step as
/// it ends (its efficiency filled in).
#[tracing::instrument(skip_all, fields(scenario = %file.name, mode = %options.mode))]
pub async fn scale(
    file: &ScenarioFile,
    targets: &Targets,
    options: ScaleOptions,
    mut on_step: impl FnMut(&ScaleStep),
) -> Result<ScaleReport, ScaleError> {
    if file.scenarios.len() != 1 {
        return Err(ScaleError::Scenarios {
            file: file.path.display().to_string(),
            count: file.scenarios.len(),
        });
    }
    let unit = options.mode.unit();
    let time_scale = options.run.time_scale;
    let mut loads = options.steps.clone();
    let mut steps: Vec<ScaleStep> = Vec::new();
    let mut extra = 0;
    let mut stopped_early = None;
    let mut index = 0;
    while index < loads.len() {
        let load = loads[index];
        index += 1;
        let step = step_file(file, options.mode, load, options.step_duration);
        let run_options = RunOptions {
            duration: None,
            ..options.run.clone()
        };
        tracing::info!(load, unit, "scale step starts");
        let results = run(&step, targets, run_options)
            .await
            .map_err(|source| ScaleError::Run { load, unit, source })?;
        if results.aborted {
            // cut short: its figures are those of part of a step, not of the load
            stopped_early = Some(format!(
                "{} during the {load} {unit} step, which ran {:.1}s of {:.1}s and is left out",
                results.abort_reason.as_deref().unwrap_or("stopped"),
                results.duration_s,
                options.step_duration.as_secs_f64()
            ));
            break;
        }
        steps.push(
            measure(load, unit, &results)
                .map_err(|source| ScaleError::Histograms { load, source })?,
        );
        efficiencies(&mut steps);
        if let Some(last) = steps.last() {
            on_step(last);
        }
        if options.run.cancel.as_ref().is_some_and(|c| *c.borrow()) {
            stopped_early = Some("cancelled after the last step shown".to_owned());
            break;
        }
        if index == loads.len() && options.until_break && extra < MAX_EXTRA_STEPS {
            let finding = analyse(&steps, &options.criteria, time_scale, unit);
            let next = load * 2.0;
            if finding.breaking_point.is_none() && next <= options.max_load {
                loads.push(next);
                extra += 1;
            }
        }
    }
    let finding = analyse(&steps, &options.criteria, time_scale, unit);
    let mut reason = finding.reason;
    if let Some(why) = &stopped_early {
        reason.push_str(&format!(" (stopped early: {why})"));
    } else if options.until_break && finding.breaking_point.is_none() {
        reason.push_str(&format!(
            " (--until-break stopped at the load cap {} {unit} or after {MAX_EXTRA_STEPS} added steps)",
            options.max_load
        ));
    }
    Ok(ScaleReport {
        scenario: file.name.clone(),
        target: options.target_label.clone(),
        mode: options.mode,
        unit: unit.to_owned(),
        step_duration_s: options.step_duration.as_secs_f64(),
        time_scale,
        criteria: options.criteria.clone(),
        steps,
        linear_until: finding.linear_until,
        breaking_point: finding.breaking_point,
        reason,
        stopped_early,
    })
}
