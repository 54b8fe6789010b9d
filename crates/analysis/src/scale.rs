//! The scalability step test's findings: for each load level (VUs or arrival rate)
//! what it bought in throughput, where growth stops being linear (the knee), and
//! where the target breaks.
//!
//! Efficiency of a step is the throughput it gained per unit of load added, relative
//! to what the first step's load bought:
//!
//! ```text
//! efficiency_i = ((T_i − T_{i−1}) / (L_i − L_{i−1})) ÷ (T_0 / L_0)
//! ```
//!
//! so 1 means each added VU (or request per second) bought as much throughput as
//! the first ones did, and 0 means the added load bought nothing. The first step is
//! the reference (efficiency 1). The linear range ends at the last step before the
//! efficiency falls below [`Criteria::min_efficiency`]; the breaking point is the
//! first step whose error rate passes [`Criteria::max_error_rate`], whose p95 passes
//! the SLO, or whose throughput stops rising (efficiency below
//! [`Criteria::stall_efficiency`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a step's load counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Virtual users in a closed loop (k6's `constant-vus`).
    Concurrency,
    /// Iterations started per second in an open loop (k6's `constant-arrival-rate`).
    Rate,
}

impl Mode {
    /// Unit of a step's load: `VUs` or `rps`.
    pub fn unit(self) -> &'static str {
        match self {
            Mode::Concurrency => "VUs",
            Mode::Rate => "rps",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Concurrency => "concurrency",
            Mode::Rate => "rate",
        })
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "concurrency" | "vus" => Ok(Mode::Concurrency),
            "rate" => Ok(Mode::Rate),
            other => Err(format!(
                "unknown mode `{other}`: use `concurrency` or `rate`"
            )),
        }
    }
}

/// What one step measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleStep {
    /// Load of the step: VUs (concurrency) or iterations per second (rate).
    pub load: f64,
    /// Successful requests per second over the step (its drain included).
    pub throughput: f64,
    /// Median latency from the intended send time, every outcome, ms as measured.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms as measured.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms as measured.
    pub p99_ms: Option<f64>,
    /// Failed ÷ (ok + failed); requests the run itself cut off are not counted.
    pub error_rate: f64,
    /// Throughput gained per unit of load added, relative to the first step's
    /// throughput per unit of load (the first step is 1); `null` when the first
    /// step had no throughput to compare with.
    pub efficiency: Option<f64>,
    /// Requests sent.
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed by the target.
    pub failed: u64,
    /// Iterations the driver dropped for want of a free VU (never sent).
    pub dropped: u64,
    /// How long the step ran, its drain included, seconds.
    pub duration_s: f64,
    /// Which component held the step's latency; absent when the step answered
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottleneck: Option<crate::Bottleneck>,
}

/// Where the linear range ends and what counts as broken.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Criteria {
    /// Efficiency below which the linear range ends.
    pub min_efficiency: f64,
    /// Efficiency below which throughput has stopped rising (a break).
    pub stall_efficiency: f64,
    /// Error rate above which a step is broken (also applied to dropped
    /// iterations ÷ iterations due).
    pub max_error_rate: f64,
    /// p95 latency (real-time equivalent, ms) above which a step is broken.
    pub slo_p95_ms: Option<f64>,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            min_efficiency: 0.8,
            stall_efficiency: 0.1,
            max_error_rate: 0.01,
            slo_p95_ms: None,
        }
    }
}

/// `scale.json`: the steps and what they show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleReport {
    /// Scenario file name.
    pub scenario: String,
    /// Where the load went.
    pub target: String,
    /// What a step's load counts.
    pub mode: Mode,
    /// Unit of `load`, `linear_until` and `breaking_point`: `VUs` or `rps`.
    pub unit: String,
    /// Planned length of each step, seconds.
    pub step_duration_s: f64,
    /// The mocks' delays were multiplied by this (embedded stack); latencies are as
    /// measured, the SLO is judged on real-time equivalents (measured ÷ time scale).
    pub time_scale: Option<f64>,
    /// What counted as linear and as broken.
    pub criteria: Criteria,
    /// One entry per step, in the order run.
    pub steps: Vec<ScaleStep>,
    /// Highest load of the linear range; `null` when the first step already broke.
    pub linear_until: Option<f64>,
    /// Lowest load at which the target broke; `null` when no step broke.
    pub breaking_point: Option<f64>,
    /// The evidence for both, in words.
    pub reason: String,
    /// Why the test stopped before its last step (it was cancelled): the step
    /// under way then ran only part of its length and is not in `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
}

/// What the steps show.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// See [`ScaleReport::linear_until`].
    pub linear_until: Option<f64>,
    /// See [`ScaleReport::breaking_point`].
    pub breaking_point: Option<f64>,
    /// See [`ScaleReport::reason`].
    pub reason: String,
}

/// Fills in each step's efficiency (see the module's docs).
pub fn efficiencies(steps: &mut [ScaleStep]) {
    let Some(first) = steps.first() else {
        return;
    };
    let per_unit = if first.load > 0.0 {
        first.throughput / first.load
    } else {
        0.0
    };
    let mut previous: Option<(f64, f64)> = None;
    for step in steps.iter_mut() {
        step.efficiency = if per_unit <= 0.0 {
            None
        } else {
            match previous {
                None => Some(1.0),
                Some((load, throughput)) if step.load > load => Some(round3(
                    (step.throughput - throughput) / (step.load - load) / per_unit,
                )),
                Some(_) => None,
            }
        };
        previous = Some((step.load, step.throughput));
    }
}

/// Why a step counts as broken, if it does.
fn broken(step: &ScaleStep, criteria: &Criteria, time_scale: Option<f64>) -> Option<String> {
    if step.error_rate > criteria.max_error_rate {
        return Some(format!(
            "the error rate is {} ({} of {} requests failed), past the {} limit",
            pct(step.error_rate),
            step.failed,
            step.ok + step.failed,
            pct(criteria.max_error_rate)
        ));
    }
    let due = step.sent + step.dropped;
    if due > 0 && step.dropped as f64 / due as f64 > criteria.max_error_rate {
        return Some(format!(
            "{} of {due} iterations were dropped: every VU was busy waiting for answers (raise max_vus if the load generator, not the target, is short)",
            step.dropped
        ));
    }
    if let (Some(slo), Some(p95)) = (criteria.slo_p95_ms, step.p95_ms) {
        let real = match time_scale {
            Some(s) if s > 0.0 => p95 / s,
            _ => p95,
        };
        if real > slo {
            return Some(format!(
                "p95 latency is {} ms (real-time equivalent), past the {} ms SLO",
                num(real),
                num(slo)
            ));
        }
    }
    if let Some(e) = step.efficiency
        && e < criteria.stall_efficiency
    {
        return Some(format!(
            "throughput stopped rising: {} ok/s, efficiency {} (below {})",
            num(step.throughput),
            num(e),
            num(criteria.stall_efficiency)
        ));
    }
    None
}

/// The linear range and the breaking point of steps whose efficiency is filled in.
pub fn analyse(
    steps: &[ScaleStep],
    criteria: &Criteria,
    time_scale: Option<f64>,
    unit: &str,
) -> Finding {
    let mut linear_until = None;
    let mut knee: Option<String> = None;
    let mut breaking = None;
    for step in steps {
        if let Some(why) = broken(step, criteria, time_scale) {
            breaking = Some((step.load, why));
            break;
        }
        if knee.is_none() {
            match step.efficiency {
                Some(e) if e < criteria.min_efficiency => {
                    knee = Some(format!(
                        "at {} {unit} efficiency fell to {} (below {})",
                        num(step.load),
                        num(e),
                        num(criteria.min_efficiency)
                    ));
                }
                _ => linear_until = Some(step.load),
            }
        }
    }
    let mut reason = match linear_until {
        Some(l) => format!(
            "linear up to {} {unit} (each step's added load bought at least {} of the first step's throughput per unit)",
            num(l),
            pct(criteria.min_efficiency)
        ),
        None => "no linear range: the first step already broke".to_owned(),
    };
    if let Some(k) = knee {
        reason.push_str("; ");
        reason.push_str(&k);
    }
    match &breaking {
        Some((load, why)) => {
            reason.push_str(&format!("; breaks at {} {unit}: {why}", num(*load)));
        }
        None => {
            let top = steps.last().map_or(0.0, |s| s.load);
            reason.push_str(&format!(
                "; no breaking point up to {} {unit}: errors within {}, {}throughput still rising",
                num(top),
                pct(criteria.max_error_rate),
                if criteria.slo_p95_ms.is_some() {
                    "p95 within the SLO, "
                } else {
                    ""
                }
            ));
        }
    }
    Finding {
        linear_until,
        breaking_point: breaking.map(|(l, _)| l),
        reason,
    }
}

/// Bad steps (`--steps`, a suite's `scale.steps`).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StepsError {
    /// Nothing listed.
    #[error("no steps: list loads like `10,25,50,100`")]
    Empty,
    /// An item between commas is empty.
    #[error("`{0}` has an empty item between commas")]
    EmptyItem(String),
    /// An item is not a number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// An item is zero, negative or not finite.
    #[error("{0} is not a load above 0")]
    NotPositive(String),
    /// Steps must rise.
    #[error("steps must rise: {after} comes after {before}")]
    NotRising {
        /// The earlier step.
        before: String,
        /// The step that does not rise above it.
        after: String,
    },
    /// VUs come whole.
    #[error("{0} is not a whole number of VUs (concurrency mode)")]
    NotWhole(String),
}

/// Checks listed steps: rising loads above 0, whole numbers in concurrency mode.
pub fn check_steps(steps: &[f64], mode: Mode) -> Result<(), StepsError> {
    let text: Vec<String> = steps.iter().map(|s| num(*s)).collect();
    parse_steps(&text.join(","), mode).map(|_| ())
}

/// Parses `10,25,50,100`: rising loads above 0, whole numbers in concurrency mode.
pub fn parse_steps(text: &str, mode: Mode) -> Result<Vec<f64>, StepsError> {
    let mut out: Vec<f64> = Vec::new();
    let mut previous: Option<&str> = None;
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            if text.trim().is_empty() {
                return Err(StepsError::Empty);
            }
            return Err(StepsError::EmptyItem(text.to_owned()));
        }
        let value: f64 = item
            .parse()
            .map_err(|_| StepsError::NotANumber(item.to_owned()))?;
        if !value.is_finite() || value <= 0.0 {
            return Err(StepsError::NotPositive(item.to_owned()));
        }
        if mode == Mode::Concurrency && value.fract() != 0.0 {
            return Err(StepsError::NotWhole(item.to_owned()));
        }
        if let (Some(before), Some(last)) = (previous, out.last())
            && value <= *last
        {
            return Err(StepsError::NotRising {
                before: before.to_owned(),
                after: item.to_owned(),
            });
        }
        out.push(value);
        previous = Some(item);
    }
    if out.is_empty() {
        return Err(StepsError::Empty);
    }
    Ok(out)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A number as people write it: no trailing zeros, at most three decimals.
fn num(x: f64) -> String {
    let r = round3(x);
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        let s = format!("{r:.3}");
        s.trim_end_matches('0').to_owned()
    }
}

fn pct(x: f64) -> String {
    format!("{} %", num(x * 100.0))
}

#[cfg(test)]
#[path = "scale_tests.rs"]
mod tests;
