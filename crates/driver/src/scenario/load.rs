//! Load models: which executor, how much load, for how long.
//!
//! The names and meanings follow k6's executors so that a k6 user reads a scenario
//! file without a manual; each executor accepts only the options that apply to it.

use std::time::Duration;

use gatebench_distr::Delay;
use serde::Serialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::raw::{RawLoad, RawStage};

/// Default cap on concurrent iterations for arrival-rate executors.
pub const DEFAULT_MAX_VUS: u32 = 1000;
/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default wait for in-flight requests once a scenario ends.
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
/// Default cap on the run time of iteration-count executors.
pub const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);
/// The most arrivals a second an arrival-rate executor may ask for. Every arrival
/// is sent or counted as dropped, one at a time, and one driver process sends about
/// 100,000 a second at most: far above that, a run would spend its time counting
/// drops long after its end (a billion a second for 2 s, hours).
pub const MAX_RATE: u32 = 10_000_000;
/// The most VUs a scenario may ask for. An idle VU costs the driver about 5 KB
/// (10,000 take 52 MB), so a million is several GB; more ends in an allocation
/// failure, not a load test.
pub const MAX_VUS: u32 = 1_000_000;

/// Most iterations an iteration executor plans (its VUs' together for
/// `per-vu-iterations`): those its `max_duration` leaves unstarted are counted
/// one by one as dropped, by the request each would have sent.
pub const MAX_ITERATIONS: u64 = 100_000_000;

/// One stage of a ramping executor: reach `target` (VUs or iterations per second)
/// linearly over `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stage {
    /// How long the stage lasts.
    #[serde(serialize_with = "crate::results::ser_duration")]
    pub duration: Duration,
    /// VUs or rate (per second) reached at the end of the stage.
    pub target: f64,
}

/// How load is generated.
#[derive(Clone, Debug, PartialEq)]
pub enum Executor {
    /// A fixed number of VUs loop for a duration (closed loop).
    ConstantVus {
        /// VUs.
        vus: u32,
        /// How long.
        duration: Duration,
    },
    /// The number of VUs follows the stages (closed loop).
    RampingVus {
        /// VUs at the start.
        start_vus: u32,
        /// Stages.
        stages: Vec<Stage>,
    },
    /// Each VU runs a fixed number of iterations (closed loop).
    PerVuIterations {
        /// VUs.
        vus: u32,
        /// Iterations per VU.
        iterations: u64,
        /// Cap on the run time.
        max_duration: Duration,
    },
    /// VUs share a fixed number of iterations (closed loop).
    SharedIterations {
        /// VUs.
        vus: u32,
        /// Iterations in total.
        iterations: u64,
        /// Cap on the run time.
        max_duration: Duration,
    },
    /// Iterations start at a fixed rate whatever the responses do (open loop).
    ConstantArrivalRate {
        /// Iterations per second.
        rate: f64,
        /// How long.
        duration: Duration,
        /// Concurrent iterations at most.
        max_vus: u32,
    },
    /// The arrival rate follows the stages (open loop).
    RampingArrivalRate {
        /// Rate (per second) at the start.
        start_rate: f64,
        /// Stages; targets are rates per second.
        stages: Vec<Stage>,
        /// Concurrent iterations at most.
        max_vus: u32,
    },
}

/// A scenario's load model and its timing options.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// The executor.
    pub executor: Executor,
    /// Pause between a VU's iterations (closed loop).
    pub think_time: Delay,
    /// How long an open-loop iteration may wait for a free VU before it is dropped.
    pub max_lateness: Duration,
    /// How long in-flight requests may finish once the scenario ends.
    pub graceful_stop: Duration,
    /// Offset of the scenario from the start of the run.
    pub start_time: Duration,
    /// Per-request timeout (a request may override it).
    pub timeout: Duration,
}

impl Executor {
    /// The k6 name of the executor.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::ConstantVus { .. } => "constant-vus",
            Executor::RampingVus { .. } => "ramping-vus",
            Executor::PerVuIterations { .. } => "per-vu-iterations",
            Executor::SharedIterations { .. } => "shared-iterations",
            Executor::ConstantArrivalRate { .. } => "constant-arrival-rate",
            Executor::RampingArrivalRate { .. } => "ramping-arrival-rate",
        }
    }

    /// Open loop (arrival rate) or closed loop (VUs).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. }
        )
    }

    /// Planned run time (for iteration executors, the cap).
    pub fn duration(&self) -> Duration {
        match self {
            Executor::ConstantVus { duration, .. }
            | Executor::ConstantArrivalRate { duration, .. } => *duration,
            Executor::RampingVus { stages, .. } | Executor::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
            Executor::PerVuIterations { max_duration, .. }
            | Executor::SharedIterations { max_duration, .. } => *max_duration,
        }
    }

    /// Most VUs the executor can use at once.
    pub fn max_vus(&self) -> u32 {
        match self {
            Executor::ConstantVus { vus, .. }
            | Executor::PerVuIterations { vus, .. }
            | Executor::SharedIterations { vus, .. } => *vus,
            Executor::RampingVus { start_vus, stages } => stages
                .iter()
                .map(|s| s.target.round() as u32)
                .fold(*start_vus, u32::max),
            Executor::ConstantArrivalRate { max_vus, .. }
            | Executor::RampingArrivalRate { max_vus, .. } => *max_vus,
        }
    }

    /// Stages (empty for executors without stages).
    pub fn stages(&self) -> &[Stage] {
        match self {
            Executor::RampingVus { stages, .. } | Executor::RampingArrivalRate { stages, .. } => {
                stages
            }
            _ => &[],
        }
    }

    /// The same executor with every duration multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Executor {
        let f = |d: Duration| d.mul_f64(factor);
        let stages = |s: &[Stage]| {
            s.iter()
                .map(|s| Stage {
                    duration: f(s.duration),
                    target: s.target,
                })
                .collect()
        };
        match self {
            Executor::ConstantVus { vus, duration } => Executor::ConstantVus {
                vus: *vus,
                duration: f(*duration),
            },
            Executor::RampingVus {
                start_vus,
                stages: s,
            } => Executor::RampingVus {
                start_vus: *start_vus,
                stages: stages(s),
            },
            Executor::PerVuIterations {
                vus,
                iterations,
                max_duration,
            } => Executor::PerVuIterations {
                vus: *vus,
                iterations: *iterations,
                max_duration: f(*max_duration),
            },
            Executor::SharedIterations {
                vus,
                iterations,
                max_duration,
            } => Executor::SharedIterations {
                vus: *vus,
                iterations: *iterations,
                max_duration: f(*max_duration),
            },
            Executor::ConstantArrivalRate {
                rate,
                duration,
                max_vus,
            } => Executor::ConstantArrivalRate {
                rate: *rate,
                duration: f(*duration),
                max_vus: *max_vus,
            },
            Executor::RampingArrivalRate {
                start_rate,
                stages: s,
                max_vus,
            } => Executor::RampingArrivalRate {
                start_rate: *start_rate,
                stages: stages(s),
                max_vus: *max_vus,
            },
        }
    }
}

/// Checks a raw `[load]` table; `prefix` is its key path for errors (`load` or
/// `scenarios.NAME.load`).
pub(crate) fn check(
    raw: &Spanned<RawLoad>,
    prefix: &str,
    loc: &Locator,
) -> Result<Load, ScenarioError> {
    let span = Some(raw.span());
    let r = raw.get_ref();
    let err =
        |key: &str, message: String| loc.error(span.clone(), format!("{prefix}.{key}"), message);
    let executor_name = r.executor.as_str();
    // options each executor takes; anything else set is a mistake worth reporting
    let allowed: &[&str] = match executor_name {
        "constant-vus" => &["vus", "duration", "think_time"],
        "ramping-vus" => &["start_vus", "stages", "duration", "think_time"],
        "per-vu-iterations" | "shared-iterations" => {
            &["vus", "iterations", "max_duration", "think_time"]
        }
        "constant-arrival-rate" => &["rate", "time_unit", "duration", "max_vus", "max_lateness"],
        "ramping-arrival-rate" => &[
            "rate",
            "start_rate",
            "time_unit",
            "stages",
            "duration",
            "max_vus",
            "max_lateness",
        ],
        other => {
            return Err(err(
                "executor",
                format!(
                    "unknown executor `{other}`: expected constant-vus, ramping-vus, per-vu-iterations, shared-iterations, constant-arrival-rate or ramping-arrival-rate"
                ),
            ));
        }
    };
    let set = [
        ("rate", r.rate.is_some()),
        ("start_rate", r.start_rate.is_some()),
        ("time_unit", r.time_unit.is_some()),
        ("duration", r.duration.is_some()),
        ("stages", r.stages.is_some()),
        ("vus", r.vus.is_some()),
        ("start_vus", r.start_vus.is_some()),
        ("max_vus", r.max_vus.is_some()),
        ("iterations", r.iterations.is_some()),
        ("max_duration", r.max_duration.is_some()),
        ("max_lateness", r.max_lateness.is_some()),
        ("think_time", r.think_time.is_some()),
    ];
    for (key, is_set) in set {
        if is_set && !allowed.contains(&key) {
            return Err(err(
                key,
                format!("`{key}` does not apply to the {executor_name} executor"),
            ));
        }
    }
    let positive = |key: &str, v: Option<f64>| -> Result<Option<f64>, ScenarioError> {
        match v {
            Some(x) if !(x.is_finite() && x >= 0.0) => {
                Err(err(key, format!("must be a number ≥ 0, got {x}")))
            }
            other => Ok(other),
        }
    };
    let time_unit = r.time_unit.unwrap_or(Duration::from_secs(1));
    if time_unit.is_zero() {
        return Err(err("time_unit", "must be above zero".into()));
    }
    // a rate in arrivals a second, refused above MAX_RATE
    let per_second = |key: &str, x: f64| -> Result<f64, ScenarioError> {
        let rate = x / time_unit.as_secs_f64();
        if rate > f64::from(MAX_RATE) {
            return Err(err(
                key,
                format!(
                    "{rate} arrivals a second is more than the driver schedules (at most {MAX_RATE})"
                ),
            ));
        }
        Ok(rate)
    };
    let need_duration = || {
        r.duration.filter(|d| !d.is_zero()).ok_or_else(|| {
            err(
                "duration",
                format!("the {executor_name} executor needs a duration above zero"),
            )
        })
    };
    let stages = || -> Result<Vec<Stage>, ScenarioError> {
        let raw: &[RawStage] = r.stages.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(err(
                "stages",
                format!("the {executor_name} executor needs at least one stage"),
            ));
        }
        let stages: Vec<Stage> = raw
            .iter()
            .map(|s| Stage {
                duration: s.duration,
                target: s.target,
            })
            .collect();
        if let Some(bad) = stages
            .iter()
            .find(|s| !(s.target.is_finite() && s.target >= 0.0))
        {
            return Err(err(
                "stages",
                format!("stage targets must be ≥ 0, got {}", bad.target),
            ));
        }
        let total: Duration = stages.iter().map(|s| s.duration).sum();
        if total.is_zero() {
            return Err(err(
                "stages",
                "the stages last zero seconds in total".into(),
            ));
        }
        if let Some(d) = r.duration
            && d != total
        {
            return Err(err(
                "duration",
                format!(
                    "`duration` ({}) differs from the sum of the stages ({}); leave it out or make them agree",
                    gatebench_distr::format_duration(d),
                    gatebench_distr::format_duration(total)
                ),
            ));
        }
        Ok(stages)
    };
    let at_most_max_vus = |key: &str, vus: f64| -> Result<(), ScenarioError> {
        if vus > f64::from(MAX_VUS) {
            return Err(err(
                key,
                format!("{vus} VUs is more than one driver runs (at most {MAX_VUS})"),
            ));
        }
        Ok(())
    };
    let need = |key: &str, v: Option<u32>| -> Result<u32, ScenarioError> {
        let vus = v.filter(|&x| x > 0).ok_or_else(|| {
            err(
                key,
                format!("the {executor_name} executor needs `{key}` ≥ 1"),
            )
        })?;
        at_most_max_vus(key, f64::from(vus))?;
        Ok(vus)
    };
    let max_vus = r.max_vus.unwrap_or(DEFAULT_MAX_VUS);
    if max_vus == 0 {
        return Err(err("max_vus", "must be ≥ 1".into()));
    }
    at_most_max_vus("max_vus", f64::from(max_vus))?;
    let executor = match executor_name {
        "constant-vus" => Executor::ConstantVus {
            vus: need("vus", r.vus)?,
            duration: need_duration()?,
        },
        "ramping-vus" => {
            let start_vus = r.start_vus.unwrap_or(0);
            at_most_max_vus("start_vus", f64::from(start_vus))?;
            let stages = stages()?;
            for stage in &stages {
                at_most_max_vus("stages", stage.target)?;
                if stage.target.fract() != 0.0 {
                    return Err(err(
                        "stages",
                        format!(
                            "a ramping-vus target is a number of VUs, so a whole number; got {}",
                            stage.target
                        ),
                    ));
                }
            }
            if start_vus == 0 && stages.iter().all(|s| s.target == 0.0) {
                return Err(err(
                    "stages",
                    "`start_vus` or a stage's target must be ≥ 1: no VU would run".into(),
                ));
            }
            Executor::RampingVus { start_vus, stages }
        }
        "per-vu-iterations" | "shared-iterations" => {
            let vus = need("vus", r.vus)?;
            let iterations = r.iterations.filter(|&i| i > 0).ok_or_else(|| {
                err(
                    "iterations",
                    format!("the {executor_name} executor needs `iterations` ≥ 1"),
                )
            })?;
            let planned = if executor_name == "per-vu-iterations" {
                iterations.saturating_mul(u64::from(vus))
            } else {
                iterations
            };
            if planned > MAX_ITERATIONS {
                return Err(err(
                    "iterations",
                    format!(
                        "{planned} iterations is more than one scenario plans (at most {MAX_ITERATIONS}; split the load into segments)"
                    ),
                ));
            }
            let max_duration = r.max_duration.unwrap_or(DEFAULT_MAX_DURATION);
            if max_duration.is_zero() {
                return Err(err(
                    "max_duration",
                    "must be above zero: no iteration would run".into(),
                ));
            }
            if executor_name == "per-vu-iterations" {
                Executor::PerVuIterations {
                    vus,
                    iterations,
                    max_duration,
                }
            } else {
                Executor::SharedIterations {
                    vus,
                    iterations,
                    max_duration,
                }
            }
        }
        "constant-arrival-rate" => {
            let rate = positive("rate", r.rate)?
                .filter(|&x| x > 0.0)
                .ok_or_else(|| {
                    err(
                        "rate",
                        "the constant-arrival-rate executor needs `rate` above zero".into(),
                    )
                })?;
            Executor::ConstantArrivalRate {
                rate: per_second("rate", rate)?,
                duration: need_duration()?,
                max_vus,
            }
        }
        _ => {
            if r.rate.is_some() && r.start_rate.is_some() {
                return Err(err("rate", "give `start_rate` or `rate`, not both".into()));
            }
            let start = positive("start_rate", r.start_rate.or(r.rate))?.unwrap_or(0.0);
            let start_rate = per_second(
                if r.rate.is_some() {
                    "rate"
                } else {
                    "start_rate"
                },
                start,
            )?;
            let stages = stages()?
                .into_iter()
                .map(|s| {
                    Ok(Stage {
                        duration: s.duration,
                        target: per_second("stages", s.target)?,
                    })
                })
                .collect::<Result<_, _>>()?;
            Executor::RampingArrivalRate {
                start_rate,
                stages,
                max_vus,
            }
        }
    };
    Ok(Load {
        executor,
        think_time: r.think_time.unwrap_or(Delay::ZERO),
        max_lateness: r.max_lateness.unwrap_or(Duration::ZERO),
        graceful_stop: r.graceful_stop.unwrap_or(DEFAULT_GRACEFUL_STOP),
        start_time: r.start_time.unwrap_or(Duration::ZERO),
        timeout: match r.timeout {
            Some(t) if t.is_zero() => return Err(err("timeout", "must be above zero".into())),
            Some(t) => t,
            None => DEFAULT_TIMEOUT,
        },
    })
}
