//! Comparing a suite report with a baseline: per check and per request kind, what
//! moved, by how much, and whether that is a regression.
//!
//! A figure is a **regression** only when it moved in its bad direction by more than
//! the tolerance (relative to the baseline; from a baseline of zero any worsening
//! exceeds it), by more than the absolute floor of its unit ([`floor`]: a latency
//! change under half a millisecond or a count change of a handful is never one),
//! **and** beyond the run-to-run noise ([`noise`]): the two runs' 95 % intervals do
//! not overlap. Noise models, by figure:
//!
//! | figure | noise |
//! |---|---|
//! | latency p50/p95/p99, TTFT p95 (request kinds) | quantile interval from the HDR histograms |
//! | error rate, cache hit rate (request kinds) | binomial standard error over the requests |
//! | requests per second (request kinds) | unknown: not judged against one run |
//! | a check's criterion values of the clock (ms, s, req/s) | unknown: not judged against one run |
//! | a check's other criterion values | none: tolerance alone (criteria carry no sample size) |
//! | percentiles whose histograms are missing or unreadable | unknown, with a note |
//! | any figure of a baseline saved from several runs | also the spread of those runs |
//!
//! A baseline may hold several runs of one suite ([`compare_runs`]): each figure's
//! baseline is then the median of the runs, and its interval spans every run's value
//! and interval (min to max), so a figure must leave the whole range the baseline
//! runs showed to count.
//!
//! A check that passed in the baseline (in every baseline run) and fails now is a
//! regression whatever its numbers. A check, run or request name present in only one
//! of the reports is listed, never flagged. Reports of different suites are not
//! compared at all ([`Mismatch`]).

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
    /// The spread of a baseline saved from several runs.
    Runs,
    /// No noise model: the tolerance alone decides (a figure that repeats run to
    /// run from one seed: counts, costs, shares).
    None,
    /// A figure of the clock (latency, throughput) with no interval, against a
    /// baseline of one run: its run-to-run noise is unknown, so it is shown but
    /// never a regression. A baseline saved from several runs judges it.
    Unknown,
}

/// The noise model of a figure in `unit` that has no interval: [`NoiseModel::Unknown`]
/// for what the clock measures, which moves from run to run on the same build.
pub(crate) fn without_interval(unit: &str) -> NoiseModel {
    match unit {
        "ms" | "s" | "req/s" | "rps" | "tokens/s" => NoiseModel::Unknown,
        _ => NoiseModel::None,
    }
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
    /// Intervals do not overlap (always true without a noise model, never with an
    /// unknown noise).
    pub beyond_noise: bool,
    /// Smallest change of this unit that can count ([`floor`]).
    pub floor: f64,
    /// Moved by more than the floor.
    pub beyond_floor: bool,
    /// Worse, beyond tolerance, noise and floor.
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
    /// The baseline report (the first, when it holds several runs).
    pub baseline: ReportRef,
    /// How many runs the baseline holds.
    pub baseline_runs: usize,
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

    /// The comparison for a terminal: the outcome, changed checks, and the figures
    /// that moved most (regressions first), at most [`render::SHOWN`] rows.
    pub fn console(&self) -> String {
        render::console(self)
    }

    /// One line per regression, for the reports: what regressed and by how much.
    pub fn regression_lines(&self) -> Vec<String> {
        render::regression_lines(self)
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
    let percent = t.strip_suffix('%');
    let value = match percent {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("tolerance `{text}` is not a number or a percentage (e.g. 10%)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("tolerance `{text}` must be zero or more"));
    }
    // `10` read as a fraction would be 1000 %, and no regression would show
    if percent.is_none() && value >= 1.0 {
        return Err(format!(
            "tolerance `{text}` is ambiguous: write a percentage ({text}%) or a fraction below 1 (0.1 for 10%)"
        ));
    }
    Ok(value)
}

/// The smallest change of a figure in `unit` that can count as a regression: a
/// latency change under half a millisecond, a rate change under half a percentage
/// point, a count change of five or fewer, a throughput change under half a
/// request per second. Money and unknown units have none (the tolerance decides).
pub fn floor(unit: &str) -> f64 {
    match unit {
        "ms" => 0.5,
        "s" => 0.0005,
        "%" => 0.5,
        "req/s" => 0.5,
        "MB" => 5.0,
        "requests" | "calls" | "count" | "hits" | "" => 5.0,
        _ => 0.0,
    }
}

/// Two reports that must not be compared.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    /// Different suites measure different things.
    #[error(
        "the baseline is a `{baseline}` suite and this report a `{current}` suite: only runs of one suite compare (save a `{current}` baseline first)"
    )]
    Suite {
        /// The baseline's suite.
        baseline: String,
        /// The current report's suite.
        current: String,
    },
    /// An empty baseline.
    #[error("the baseline holds no report")]
    Empty,
}

/// Compares `current` with a baseline of one or more runs of the same suite at a
/// relative `tolerance`; refuses reports of different suites.
pub fn compare_runs(
    current: &SuiteReport,
    baselines: &[SuiteReport],
    tolerance: f64,
) -> Result<Comparison, Mismatch> {
    let first = baselines.first().ok_or(Mismatch::Empty)?;
    if let Some(b) = baselines.iter().find(|b| b.suite != current.suite) {
        return Err(Mismatch::Suite {
            baseline: b.suite.clone(),
            current: current.suite.clone(),
        });
    }
    if baselines.len() == 1 {
        return Ok(compare(current, first, tolerance));
    }
    let each: Vec<Comparison> = baselines
        .iter()
        .map(|b| compare(current, b, tolerance))
        .collect();
    let mut merged = each[0].clone();
    merged.baseline = ReportRef::of(first);
    merged.baseline_runs = each.len();
    for check in &mut merged.checks {
        let passed: Vec<Option<bool>> = each
            .iter()
            .map(|c| {
                c.checks
                    .iter()
                    .find(|k| k.name == check.name)
                    .and_then(|k| k.baseline_passed)
            })
            .collect();
        let all = passed.iter().all(|p| *p == Some(true));
        if check.baseline_passed.is_some() {
            check.baseline_passed = Some(all);
            check.status = match (all, check.current_passed) {
                (_, None) => CheckStatus::OnlyInBaseline,
                (true, Some(true)) => CheckStatus::StillPassing,
                (true, Some(false)) => CheckStatus::NewlyFailing,
                (false, Some(true)) => CheckStatus::NewlyPassing,
                (false, Some(false)) => CheckStatus::StillFailing,
            };
            check.regression = check.status == CheckStatus::NewlyFailing;
        }
    }
    merged.figures = merged
        .figures
        .iter()
        .map(|f| {
            let same = |g: &&FigureChange| g.scope == f.scope && g.metric == f.metric;
            let seen: Vec<&FigureChange> = each
                .iter()
                .filter_map(|c| c.figures.iter().find(same))
                .collect();
            across_runs(f, &seen, tolerance)
        })
        .collect();
    for c in &each[1..] {
        for n in &c.notes {
            if !merged.notes.contains(n) {
                merged.notes.push(n.clone());
            }
        }
    }
    merged.regressions = merged.checks.iter().filter(|c| c.regression).count()
        + merged.figures.iter().filter(|f| f.regression).count();
    Ok(merged)
}

/// Re-judges figure `f` against the median of the baseline runs in `seen`, with an
/// interval spanning every run's value and interval.
fn across_runs(f: &FigureChange, seen: &[&FigureChange], tolerance: f64) -> FigureChange {
    let mut values: Vec<f64> = seen.iter().map(|g| g.baseline).collect();
    values.sort_by(f64::total_cmp);
    let median = match values.len() {
        0 => return f.clone(),
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    let mut span = Interval {
        lo: values[0],
        hi: values[values.len() - 1],
    };
    for i in seen.iter().filter_map(|g| g.baseline_interval) {
        span.lo = span.lo.min(i.lo);
        span.hi = span.hi.max(i.hi);
    }
    let current = f.current_interval.unwrap_or(Interval {
        lo: f.current,
        hi: f.current,
    });
    let model = if matches!(f.noise, NoiseModel::None | NoiseModel::Unknown) {
        NoiseModel::Runs
    } else {
        f.noise
    };
    judge(
        f.scope.clone(),
        &f.metric,
        &f.unit,
        f.higher_is_better,
        (median, f.current),
        tolerance,
        model,
        Some((span, current)),
    )
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
        baseline_runs: 1,
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
                without_interval(&k.unit),
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
    // a difference at the last bits of a double is the arithmetic, not a change
    let change = match current - baseline {
        d if d.abs() <= 1e-9 * baseline.abs().max(current.abs()) => 0.0,
        d => d,
    };
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
    let beyond_noise = match intervals {
        Some((b, c)) => !b.overlaps(&c),
        None => noise != NoiseModel::Unknown,
    };
    let floor = floor(unit);
    let beyond_floor = change.abs() > floor;
    FigureChange {
        scope,
        metric: metric.to_owned(),
        unit: unit.to_owned(),
        higher_is_better,
        baseline,
        current,
        change,
        change_pct,
        noise: match (intervals, noise) {
            (Some(_), _) | (None, NoiseModel::Unknown) => noise,
            (None, _) => NoiseModel::None,
        },
        baseline_interval: intervals.map(|i| i.0),
        current_interval: intervals.map(|i| i.1),
        worse,
        beyond_tolerance,
        beyond_noise,
        floor,
        beyond_floor,
        regression: worse && beyond_tolerance && beyond_noise && beyond_floor,
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
            (0.0, 2.0),
            0.5,
            NoiseModel::None,
            None,
        );
        assert!(f.regression && f.change_pct.is_none());
    }

    #[test]
    fn moves_under_the_floor_of_their_unit_never_regress() {
        // the queue stage's p99 from 0.002 to 0.003 ms is +50 %, and nothing
        for (unit, (b, c)) in [
            ("ms", (0.002, 0.003)),
            ("ms", (1.0, 1.4)),
            ("%", (0.0, 0.4)),
            ("count", (0.0, 5.0)),
            ("requests", (10.0, 14.0)),
        ] {
            let f = judge(
                scope(),
                "m",
                unit,
                false,
                (b, c),
                0.1,
                NoiseModel::None,
                None,
            );
            assert!(f.worse && f.beyond_tolerance && !f.beyond_floor, "{f:?}");
            assert!(!f.regression, "{f:?}");
        }
        let f = judge(
            scope(),
            "m",
            "ms",
            false,
            (1.0, 2.0),
            0.1,
            NoiseModel::None,
            None,
        );
        assert!(f.regression, "{f:?}");
        // money has no floor: a cent is a cent
        let f = judge(
            scope(),
            "m",
            "USD",
            false,
            (0.0, 1e-9),
            0.1,
            NoiseModel::None,
            None,
        );
        assert!(f.regression, "{f:?}");
    }

    #[test]
    fn last_bit_differences_are_no_change() {
        let f = judge(
            scope(),
            "m",
            "USD",
            false,
            (0.1 + 0.2, 0.3),
            0.0,
            NoiseModel::None,
            None,
        );
        assert_eq!(f.change, 0.0);
        assert_eq!(f.change_pct, Some(0.0));
        assert!(!f.regression);
    }
}
