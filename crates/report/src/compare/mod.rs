//! Comparing a suite report with a baseline: per check and per request kind, what
//! moved, by how much, and whether that is a regression.
//!
//! A figure is a **regression** only when it moved in its bad direction by more than
//! the tolerance (relative to the baseline; from a baseline of zero any worsening
//! exceeds it) **and** beyond the run-to-run noise ([`noise`]): the two runs' 95 %
//! intervals do not overlap. Noise models, by figure:
//!
//! | figure | noise |
//! |---|---|
//! | latency p50/p95/p99, TTFT p95 (request kinds) | quantile interval from the HDR histograms |
//! | error rate, cache hit rate (request kinds) | binomial standard error over the requests |
//! | requests per second (request kinds) | none: tolerance alone |
//! | a check's criterion values | none: tolerance alone (criteria carry no sample size) |
//! | percentiles whose histograms are missing or unreadable | none: tolerance alone, with a note |
//!
//! A check that passed in the baseline and fails now is a regression whatever its
//! numbers. A check, run or request name present in only one of the reports is listed,
//! never flagged.

mod figures;
pub mod noise;
mod render;

use std::collections::BTreeMap;

use serde::Serialize;

pub use noise::Interval;

use crate::model::{Severity, SuiteReport};

/// Where a figure comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    /// A criterion of a check.
    Check {
        /// Check name.
        check: String,
    },
    /// A request name of a run.
    Request {
        /// Run key (`check/scenario`).
        run: String,
        /// Request name.
        request: String,
    },
}

impl Scope {
    /// `check` or `run · request`.
    pub fn label(&self) -> String {
        match self {
            Scope::Check { check } => check.clone(),
            Scope::Request { run, request } => format!("{run} · {request}"),
        }
    }
}

/// How the noise of a figure was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseModel {
    /// Quantile confidence interval from HDR histograms.
    Histogram,
    /// Binomial standard error of a rate.
    Binomial,
    /// No noise model: the tolerance alone decides.
    None,
}

/// One figure in both reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FigureChange {
    /// Where it comes from.
    #[serde(flatten)]
    pub scope: Scope,
    /// What it is (`latency p95`, `error rate`, a criterion's name).
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// Baseline value.
    pub baseline: f64,
    /// Current value.
    pub current: f64,
    /// `current − baseline`.
    pub change: f64,
    /// Change relative to the baseline, percent; `None` from a baseline of zero.
    pub change_pct: Option<f64>,
    /// Noise model used.
    pub noise: NoiseModel,
    /// Baseline's 95 % interval (in `unit`).
    pub baseline_interval: Option<Interval>,
    /// Current 95 % interval (in `unit`).
    pub current_interval: Option<Interval>,
    /// Moved in the bad direction.
    pub worse: bool,
    /// Moved by more than the tolerance (either direction).
    pub beyond_tolerance: bool,
    /// Intervals do not overlap (always true without a noise model).
    pub beyond_noise: bool,
    /// Worse, beyond tolerance and beyond noise.
    pub regression: bool,
}

/// How a check's outcome changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Passed in both.
    StillPassing,
    /// Failed in both.
    StillFailing,
    /// Passed in the baseline, fails now.
    NewlyFailing,
    /// Failed in the baseline, passes now.
    NewlyPassing,
    /// Only the baseline has it.
    OnlyInBaseline,
    /// Only the current report has it.
    OnlyInCurrent,
}

/// One check in either report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckChange {
    /// Check name.
    pub name: String,
    /// Severity (the current one when both have it).
    pub severity: Severity,
    /// Passed in the baseline.
    pub baseline_passed: Option<bool>,
    /// Passes now.
    pub current_passed: Option<bool>,
    /// What changed.
    pub status: CheckStatus,
    /// Newly failing.
    pub regression: bool,
}

/// Which report a side of the comparison is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportRef {
    /// Suite.
    pub suite: String,
    /// Start time.
    pub started_at: String,
    /// Seed.
    pub seed: u64,
    /// Verdict.
    pub verdict: String,
}

impl ReportRef {
    fn of(r: &SuiteReport) -> ReportRef {
        ReportRef {
            suite: r.suite.clone(),
            started_at: r.started_at.clone(),
            seed: r.seed,
            verdict: r.verdict.as_str().to_owned(),
        }
    }
}

/// The comparison of a report with a baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Relative tolerance (0.10 = 10 %).
    pub tolerance: f64,
    /// The baseline report.
    pub baseline: ReportRef,
    /// The current report.
    pub current: ReportRef,
    /// Number of regressions (checks and figures).
    pub regressions: usize,
    /// Every check of either report.
    pub checks: Vec<CheckChange>,
    /// Every figure present in both.
    pub figures: Vec<FigureChange>,
    /// What could not be compared, and why.
    pub notes: Vec<String>,
}

impl Comparison {
    /// Whether anything regressed.
    pub fn has_regressions(&self) -> bool {
        self.checks.iter().any(|c| c.regression) || self.figures.iter().any(|f| f.regression)
    }

    /// The comparison for a terminal.
    pub fn console(&self) -> String {
        render::console(self)
    }

    /// The comparison as pretty JSON.
    pub fn to_json(&self) -> String {
        // only finite numbers and strings: serialisation cannot fail
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Parses a tolerance: `10%`, `10 %` or `0.1`.
pub fn parse_tolerance(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("tolerance `{text}` is not a number or a percentage (e.g. 10%)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("tolerance `{text}` must be zero or more"));
    }
    Ok(value)
}

/// Compares `current` with `baseline` at a relative `tolerance` (0.10 = 10 %).
pub fn compare(current: &SuiteReport, baseline: &SuiteReport, tolerance: f64) -> Comparison {
    let tolerance = if tolerance.is_finite() {
        tolerance.max(0.0)
    } else {
        0.0
    };
    let mut notes = Vec::new();
    let checks = compare_checks(current, baseline);
    let mut out = Vec::new();
    check_figures(current, baseline, tolerance, &mut out, &mut notes);
    figures::run_figures(current, baseline, tolerance, &mut out, &mut notes);
    let mut c = Comparison {
        tolerance,
        baseline: ReportRef::of(baseline),
        current: ReportRef::of(current),
        regressions: 0,
        checks,
        figures: out,
        notes,
    };
    c.regressions = c.checks.iter().filter(|c| c.regression).count()
        + c.figures.iter().filter(|f| f.regression).count();
    c
}

fn compare_checks(current: &SuiteReport, baseline: &SuiteReport) -> Vec<CheckChange> {
    let base: BTreeMap<&str, _> = baseline
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let mut out = Vec::new();
    for c in &current.checks {
        let b = base.get(c.name.as_str());
        let status = match b.map(|b| b.passed) {
            None => CheckStatus::OnlyInCurrent,
            Some(true) if c.passed => CheckStatus::StillPassing,
            Some(true) => CheckStatus::NewlyFailing,
            Some(false) if c.passed => CheckStatus::NewlyPassing,
            Some(false) => CheckStatus::StillFailing,
        };
        out.push(CheckChange {
            name: c.name.clone(),
            severity: c.severity,
            baseline_passed: b.map(|b| b.passed),
            current_passed: Some(c.passed),
            status,
            regression: status == CheckStatus::NewlyFailing,
        });
    }
    for b in &baseline.checks {
        if !current.checks.iter().any(|c| c.name == b.name) {
            out.push(CheckChange {
                name: b.name.clone(),
                severity: b.severity,
                baseline_passed: Some(b.passed),
                current_passed: None,
                status: CheckStatus::OnlyInBaseline,
                regression: false,
            });
        }
    }
    out
}

fn check_figures(
    current: &SuiteReport,
    baseline: &SuiteReport,
    tolerance: f64,
    out: &mut Vec<FigureChange>,
    notes: &mut Vec<String>,
) {
    for c in &current.checks {
        let Some(b) = baseline.checks.iter().find(|b| b.name == c.name) else {
            continue;
        };
        for k in &c.criteria {
            let Some(bk) = b.criteria.iter().find(|bk| bk.name == k.name) else {
                notes.push(format!(
                    "check `{}`: criterion `{}` is not in the baseline",
                    c.name, k.name
                ));
                continue;
            };
            let (Some(cv), Some(bv)) = (k.value, bk.value) else {
                continue;
            };
            if bk.unit != k.unit {
                notes.push(format!(
                    "check `{}`: criterion `{}` changed unit ({} → {})",
                    c.name, k.name, bk.unit, k.unit
                ));
                continue;
            }
            out.push(judge(
                Scope::Check {
                    check: c.name.clone(),
                },
                &k.name,
                &k.unit,
                k.higher_is_better,
                (bv, cv),
                tolerance,
                NoiseModel::None,
                None,
            ));
        }
        for bk in &b.criteria {
            if !c.criteria.iter().any(|k| k.name == bk.name) {
                notes.push(format!(
                    "check `{}`: baseline criterion `{}` is no longer measured",
                    c.name, bk.name
                ));
            }
        }
    }
}

/// Decides one figure. `intervals` are (baseline, current) in the figure's unit.
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge(
    scope: Scope,
    metric: &str,
    unit: &str,
    higher_is_better: bool,
    (baseline, current): (f64, f64),
    tolerance: f64,
    noise: NoiseModel,
    intervals: Option<(Interval, Interval)>,
) -> FigureChange {
    let change = current - baseline;
    let change_pct = (baseline != 0.0).then(|| 100.0 * change / baseline.abs());
    let worse = if higher_is_better {
        current < baseline
    } else {
        current > baseline
    };
    let beyond_tolerance = match change_pct {
        Some(p) => p.abs() > 100.0 * tolerance,
        None => change != 0.0,
    };
    let beyond_noise = intervals.is_none_or(|(b, c)| !b.overlaps(&c));
    FigureChange {
        scope,
        metric: metric.to_owned(),
        unit: unit.to_owned(),
        higher_is_better,
        baseline,
        current,
        change,
        change_pct,
        noise: if intervals.is_some() {
            noise
        } else {
            NoiseModel::None
        },
        baseline_interval: intervals.map(|i| i.0),
        current_interval: intervals.map(|i| i.1),
        worse,
        beyond_tolerance,
        beyond_noise,
        regression: worse && beyond_tolerance && beyond_noise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope() -> Scope {
        Scope::Check { check: "c".into() }
    }

    proptest! {
        #[test]
        fn only_worse_moves_beyond_tolerance_regress(
            base in 0.0f64..1e6,
            factor in 0.0f64..3.0,
            tolerance in 0.0f64..1.0,
            higher_is_better: bool,
        ) {
            let cur = base * factor;
            let f = judge(scope(), "m", "ms", higher_is_better, (base, cur), tolerance, NoiseModel::None, None);
            if f.regression {
                prop_assert!(f.worse && f.beyond_tolerance);
                let moved = (cur - base).abs() / base;
                prop_assert!(moved > tolerance);
            }
            if higher_is_better == (cur >= base) {
                prop_assert!(!f.regression, "an improvement or no change flagged: {f:?}");
            }
        }

        #[test]
        fn overlapping_intervals_never_regress(base in 1.0f64..1e6, cur in 1.0f64..1e6, spread in 0.0f64..1e6) {
            let lo = base.min(cur);
            let hi = base.max(cur);
            let wide = Interval { lo: lo - spread, hi: hi + spread };
            let f = judge(scope(), "m", "ms", false, (base, cur), 0.0, NoiseModel::Histogram, Some((wide, wide)));
            prop_assert!(!f.regression && !f.beyond_noise);
        }
    }

    #[test]
    fn from_zero_any_worsening_exceeds_the_tolerance() {
        let f = judge(
            scope(),
            "error rate",
            "%",
            false,
            (0.0, 0.1),
            0.5,
            NoiseModel::None,
            None,
        );
        assert!(f.regression && f.change_pct.is_none());
    }
}
