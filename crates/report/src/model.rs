//! The report of one suite run: the verdict, each check with its target, what was
//! measured and the evidence, recommendations, the driver's results of every
//! scenario run, and chart data.
//!
//! `report.json` is this structure serialised; its JSON schema lives in
//! `crates/report/schema/report.schema.json` and a test keeps them in step.

use std::collections::BTreeMap;

use gatebench_results::RunResults;
use serde::{Deserialize, Serialize};

/// Version of the `report.json` layout; bump it when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// READY when every critical and major check passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Ship it.
    #[serde(rename = "READY")]
    Ready,
    /// A critical or major check failed (or could not measure).
    #[serde(rename = "NOT READY")]
    NotReady,
}

impl Verdict {
    /// `READY` or `NOT READY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ready => "READY",
            Verdict::NotReady => "NOT READY",
        }
    }
}

/// How much a check's failure matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the release.
    Critical,
    /// Blocks the release.
    Major,
    /// A warning only.
    Minor,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
        }
    }

    /// Does a failure of this severity make the verdict NOT READY?
    pub fn blocks(self) -> bool {
        matches!(self, Severity::Critical | Severity::Major)
    }
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Suite name (a built-in suite's, or a file's `name`).
    pub suite: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Start time, RFC 3339 (UTC).
    pub started_at: String,
    /// Wall-clock duration of the suite, seconds.
    pub duration_s: f64,
    /// Seed of every draw.
    pub seed: u64,
    /// What was tested.
    pub target: TargetInfo,
    /// Where it ran.
    pub environment: Environment,
    /// Versions of gatebench and its parts.
    pub versions: BTreeMap<String, String>,
    /// Checks, in suite order.
    pub checks: Vec<CheckResult>,
    /// Advice derived from the measurements.
    pub recommendations: Vec<Recommendation>,
    /// Driver results of every scenario run, keyed `check/scenario`.
    pub runs: BTreeMap<String, RunResults>,
    /// Chart data, in display order.
    pub charts: Vec<Chart>,
    /// The comparison with a baseline, when one was asked for: any regression makes
    /// the verdict NOT READY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineResult>,
}

/// What a comparison with a baseline found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineResult {
    /// The baseline's name.
    pub name: String,
    /// How many runs the baseline holds.
    pub runs: usize,
    /// Relative tolerance (0.10 = 10 %).
    pub tolerance: f64,
    /// Figures compared.
    pub compared: usize,
    /// Figures that moved at all.
    pub moved: usize,
    /// Each regression in one line (empty: none).
    pub regressions: Vec<String>,
}

impl SuiteReport {
    /// Records the comparison with baseline `name`; a regression makes the verdict
    /// NOT READY.
    pub fn apply_baseline(&mut self, name: &str, comparison: &crate::compare::Comparison) {
        let regressions = comparison.regression_lines();
        if !regressions.is_empty() {
            self.verdict = Verdict::NotReady;
        }
        self.baseline = Some(BaselineResult {
            name: name.to_owned(),
            runs: comparison.baseline_runs,
            tolerance: comparison.tolerance,
            compared: comparison.figures.len(),
            moved: comparison
                .figures
                .iter()
                .filter(|f| f.change != 0.0)
                .count(),
            regressions,
        });
    }

    /// The regressions against the baseline, if one was compared.
    pub fn regressions(&self) -> &[String] {
        self.baseline.as_ref().map_or(&[], |b| &b.regressions)
    }

    /// The verdict the checks imply: NOT READY if any blocking check failed.
    pub fn verdict_of(checks: &[CheckResult]) -> Verdict {
        if checks.iter().any(|c| !c.passed && c.severity.blocks()) {
            Verdict::NotReady
        } else {
            Verdict::Ready
        }
    }
}

/// The system under test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `embedded` (mocks and gateway started by the suite) or `external`.
    pub mode: String,
    /// Base URL of the gateway tested.
    pub url: String,
    /// The target profile its claims were read with.
    #[serde(default)]
    pub profile: String,
    /// The mocks whose books were the truth (`null`: none known).
    #[serde(default)]
    pub mocks: Option<String>,
}

impl TargetInfo {
    /// `URL (mode, profile P)`.
    pub fn describe(&self) -> String {
        if self.profile.is_empty() {
            format!("{} ({})", self.url, self.mode)
        } else {
            format!("{} ({}, profile {})", self.url, self.mode, self.profile)
        }
    }

    /// Where the truth came from.
    pub fn truth(&self) -> String {
        match &self.mocks {
            Some(m) => format!("the mocks' books at {m}"),
            None => "none: the mocks behind the target are unknown".to_owned(),
        }
    }
}

/// The machine the suite ran on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Operating system and version.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, bytes.
    pub memory_bytes: u64,
    /// Host name.
    pub hostname: String,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Machine name, e.g. `cache_efficiency`.
    pub name: String,
    /// Display title, e.g. `Cache efficiency`.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// All criteria's targets in one line.
    pub target: String,
    /// All criteria's measurements in one line.
    pub measured: String,
    /// Every criterion passed (and there was something to measure).
    pub passed: bool,
    /// The individual criteria.
    pub criteria: Vec<Criterion>,
    /// What backs the measurement.
    pub evidence: Evidence,
    /// Wall-clock duration of the check, seconds.
    pub duration_s: f64,
    /// The embedded mocks' time scale the check ran at (their delays ×this);
    /// `null` for an external target, whose mocks keep their own. Latency targets
    /// are judged on real-time equivalents (measured ÷ time scale).
    #[serde(default)]
    pub time_scale: Option<f64>,
}

/// The name of the one criterion of a check that did not run (the suite was
/// stopped before it): it failed, and it says nothing about the target.
pub const NOT_RUN: &str = "not run";

impl CheckResult {
    /// Whether the check ran (was not left out when its suite was stopped).
    pub fn ran(&self) -> bool {
        !self.criteria.iter().any(|c| c.name == NOT_RUN)
    }

    /// Builds a check from its criteria: passed only if there is at least one
    /// criterion and all passed (a check that could not measure fails).
    pub fn from_criteria(
        name: &str,
        title: &str,
        severity: Severity,
        criteria: Vec<Criterion>,
        evidence: Evidence,
        duration_s: f64,
    ) -> CheckResult {
        let passed = !criteria.is_empty() && criteria.iter().all(|c| c.passed);
        let join =
            |f: fn(&Criterion) -> String| criteria.iter().map(f).collect::<Vec<_>>().join("; ");
        CheckResult {
            name: name.to_owned(),
            title: title.to_owned(),
            severity,
            target: join(|c| format!("{} {}", c.name, c.target)),
            measured: join(|c| format!("{} {}", c.name, c.measured)),
            passed,
            criteria,
            evidence,
            duration_s,
            time_scale: None,
        }
    }
}

/// One measurable criterion of a check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// What is measured, e.g. `false-hit rate`.
    pub name: String,
    /// The target as text, e.g. `≤ 1%`.
    pub target: String,
    /// The measurement as text, e.g. `0.4% (2 of 512 hits)`.
    pub measured: String,
    /// Met?
    pub passed: bool,
    /// The measured number, for baselines (in `unit`).
    pub value: Option<f64>,
    /// Unit of `value` (`ms`, `%`, `count`, `USD`, `s`, `MB/min`, ...).
    pub unit: String,
    /// Whether a higher value is better (for regression direction).
    pub higher_is_better: bool,
    /// Where the figure comes from.
    #[serde(default)]
    pub source: Source,
}

/// Where a figure comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Measured at the client: what the driver saw (latency, status, content).
    #[default]
    Client,
    /// The truth: the mocks' books of every upstream call.
    Truth,
    /// What the target claims (its headers, ledger or endpoints), taken as given.
    Claim,
    /// A claim compared with the truth.
    ClaimVsTruth,
}

impl Criterion {
    /// The same criterion, its figure from `source`.
    pub fn from_source(mut self, source: Source) -> Criterion {
        self.source = source;
        self
    }
}

impl Source {
    /// The label reports print.
    pub fn label(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Truth => "truth",
            Source::Claim => "claim",
            Source::ClaimVsTruth => "claim vs truth",
        }
    }
}

/// The data behind a check: a human summary and structured details.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// A few sentences a reviewer reads first.
    pub summary: String,
    /// Structured details (tables of mismatches, distributions, sweeps...).
    pub details: serde_json::Value,
}

/// Advice derived from a rule over the measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Rule id, e.g. `cache-threshold`.
    pub rule: String,
    /// Check it concerns.
    pub check: String,
    /// What to do.
    pub message: String,
    /// The figure that triggered it, e.g. `hit rate 12% (target ≥ 30%)`.
    pub figure: String,
}

/// How a chart is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    /// Lines over a numeric x axis (time series).
    Line,
    /// Grouped bars: one group per x label, one bar per series.
    Bar,
}

/// A chart's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// Stable id (HTML anchor).
    pub id: String,
    /// Title.
    pub title: String,
    /// Line or bar.
    pub kind: ChartKind,
    /// Label of the x axis (`s` for time series; categories for bars).
    pub x_label: String,
    /// Unit of the y axis.
    pub y_unit: String,
    /// For bar charts: the group labels, in order.
    pub categories: Vec<String>,
    /// The series.
    pub series: Vec<Series>,
    /// The load behind a time series (active VUs, say), shaded behind the lines on
    /// its own scale, so a latency change can be read against the load that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<Load>,
}

/// A load series drawn behind a chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// What it counts, e.g. `active VUs`.
    pub name: String,
    /// Points `[x, y]`, on the chart's x axis.
    pub points: Vec<[f64; 2]>,
}

/// One series: points `[x, y]` (for bar charts, x is the category index).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points.
    pub points: Vec<[f64; 2]>,
}
