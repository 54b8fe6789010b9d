//! The checks. Each takes its spec and a subject, runs what it needs (usually a
//! driver scenario), and returns a [`CheckResult`] whose criteria say what was
//! measured against which target, with the evidence; plus the driver results,
//! charts and recommendations it produced.
//!
//! A check that cannot measure (the target is down, a scenario produced no data)
//! fails: its criteria say so. It never passes by default.

mod app;
mod cache;
mod concurrency;
mod cost;
pub mod driven;
mod endpoints;
mod errors;
mod isolation;
pub mod judged;
mod load;
mod memory;
mod queue;
mod resilience;
mod scale;
mod streaming;
mod usage;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use gatebench_driver::{RunOptions, RunResults, ScenarioFile, Segment, Targets};
use gatebench_report::{Chart, CheckResult, Criterion, Evidence, Recommendation, Source};

use crate::file::{CheckKind, CheckSpec, SuiteFile};
use crate::subject::Subject;

/// What a check produced.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The result.
    pub result: CheckResult,
    /// Driver results, by scenario name.
    pub runs: Vec<(String, RunResults)>,
    /// Charts.
    pub charts: Vec<Chart>,
    /// Advice.
    pub recommendations: Vec<Recommendation>,
}

/// What a check works with.
pub struct Ctx<'a> {
    /// The suite.
    pub suite: &'a SuiteFile,
    /// This check.
    pub spec: &'a CheckSpec,
    /// The system under test.
    pub subject: &'a Subject,
    /// Seed.
    pub seed: u64,
    /// Report folder.
    pub out: &'a Path,
    /// The part of the check's load this process sends (the whole, unless the
    /// check runs as execution segments).
    pub segment: Segment,
}

/// Runs one check.
pub async fn run(ctx: &Ctx<'_>) -> CheckOutcome {
    let started = Instant::now();
    let mut outcome = if !ctx.subject.reachable().await {
        unmeasurable(
            ctx,
            format!("the target {} does not answer", ctx.subject.gateway),
        )
    } else {
        let result = match ctx.spec.kind {
            CheckKind::Queue => queue::run(ctx).await,
            CheckKind::Cache => cache::run(ctx).await,
            CheckKind::Cost => cost::run(ctx).await,
            CheckKind::Resilience => resilience::run(ctx).await,
            CheckKind::Endpoints => endpoints::run(ctx).await,
            CheckKind::Memory => memory::run(ctx).await,
            CheckKind::Isolation => isolation::run(ctx).await,
            CheckKind::Scale => scale::run(ctx).await,
            CheckKind::Load
            | CheckKind::Concurrency
            | CheckKind::Streaming
            | CheckKind::Usage
            | CheckKind::Errors
            | CheckKind::App => driven::drive(ctx)
                .await
                .and_then(|driven| driven::verdict(ctx, driven)),
        };
        result.unwrap_or_else(|error| unmeasurable(ctx, error))
    };
    outcome.result.duration_s = started.elapsed().as_secs_f64();
    outcome.result.time_scale = ctx.subject.time_scale;
    // what the resource monitor saw cross a threshold during the check's runs
    let advice: Vec<_> = outcome
        .runs
        .iter()
        .flat_map(|(_, run)| gatebench_report::resource_recommendations(&ctx.spec.name, run))
        .collect();
    outcome.recommendations.extend(advice);
    outcome
}

/// A check that could not measure: one failed criterion saying why.
pub fn unmeasurable(ctx: &Ctx<'_>, why: impl Into<String>) -> CheckOutcome {
    let why = why.into();
    let summary = format!("The check could not measure: {why}.");
    failed_before(
        ctx,
        "measurement",
        "data to judge",
        format!("none: {why}"),
        summary,
    )
}

/// A check its suite was stopped before: one failed criterion,
/// [`gatebench_report::NOT_RUN`], that says nothing about the target.
pub fn not_run(ctx: &Ctx<'_>) -> CheckOutcome {
    let summary = "The suite was stopped before this check ran.".to_owned();
    let measured = "the suite was stopped before it".to_owned();
    failed_before(ctx, gatebench_report::NOT_RUN, "a run", measured, summary)
}

/// A check that failed before it measured anything: one failed criterion.
fn failed_before(
    ctx: &Ctx<'_>,
    name: &str,
    target: &str,
    measured: String,
    summary: String,
) -> CheckOutcome {
    let criterion = Criterion {
        name: name.into(),
        target: target.into(),
        measured,
        passed: false,
        value: None,
        unit: String::new(),
        higher_is_better: true,
        source: Source::Client,
    };
    CheckOutcome {
        result: CheckResult::from_criteria(
            &ctx.spec.name,
            ctx.title(),
            ctx.spec.severity,
            vec![criterion],
            Evidence {
                summary,
                details: serde_json::Value::Null,
            },
            0.0,
        ),
        runs: Vec::new(),
        charts: Vec::new(),
        recommendations: Vec::new(),
    }
}

impl Ctx<'_> {
    /// Display title.
    pub fn title(&self) -> &str {
        self.spec.title.as_deref().unwrap_or(&self.spec.name)
    }

    /// Runs a driver scenario (relative to the suite file) against the target,
    /// keeping one traced record per request, with the profile's claim headers, the
    /// demo keys swapped for the subject's tenants.
    pub async fn drive(&self, scenario: &str) -> Result<RunResults, String> {
        self.drive_as(scenario, self.subject.key_map()).await
    }

    /// [`Ctx::drive`] with the scenario's keys mapped by `keys`.
    pub async fn drive_as(
        &self,
        scenario: &str,
        keys: std::collections::BTreeMap<String, String>,
    ) -> Result<RunResults, String> {
        let path = self.suite.resolve(scenario);
        let file = ScenarioFile::load(&path).map_err(|e| e.to_string())?;
        let options = self.run_options(keys);
        gatebench_driver::run(&file, &self.targets(), options)
            .await
            .map_err(|e| format!("scenario {}: {e}", path.display()))
    }

    /// Where the driver sends a check's load.
    pub fn targets(&self) -> Targets {
        Targets::new(self.subject.gateway.clone()).with_trust(self.subject.trust.clone())
    }

    /// How a check's scenarios run: quiet, traced, the profile's claim headers,
    /// models and priority header, the scenario's keys mapped by `keys`.
    pub fn run_options(&self, keys: std::collections::BTreeMap<String, String>) -> RunOptions {
        RunOptions {
            seed: Some(self.seed),
            resources: self.suite.resources.clone(),
            prometheus: self.subject.profile.prometheus.clone(),
            quiet: true,
            record_requests: true,
            capture_headers: self.subject.profile.headers(),
            keys,
            models: self.subject.profile.target_models(),
            priority_header: Some(
                self.subject
                    .profile
                    .priority
                    .as_ref()
                    .map_or(String::new(), |p| p.header.clone()),
            ),
            time_scale: self.subject.time_scale,
            segment: self.segment,
            books: self.subject.books.clone(),
            ..RunOptions::default()
        }
    }

    /// Builds the check's result from its criteria.
    pub fn result(&self, criteria: Vec<Criterion>, evidence: Evidence) -> CheckResult {
        CheckResult::from_criteria(
            &self.spec.name,
            self.title(),
            self.spec.severity,
            criteria,
            evidence,
            0.0,
        )
    }
}

impl Ctx<'_> {
    /// A latency the mocks' delays are part of, as it would be in real time, and
    /// its text. At time scale `s` the embedded mocks wait `s×` their profile's
    /// delays, so the real-time equivalent is the measurement ÷ `s`; the text gives
    /// both. That also multiplies the target's own time (CPU, not upstream), which
    /// under load can dominate: the shipped suites run their latency-judged checks
    /// at time scale 1, where the figure is the measurement. External targets'
    /// figures are as measured.
    pub fn real_time_ms(&self, measured: f64) -> (f64, String) {
        match self.subject.time_scale {
            Some(s) if s > 0.0 && s != 1.0 => (
                measured / s,
                format!(
                    "{} real-time equivalent ({} measured at time scale {s})",
                    number(measured / s, "ms"),
                    number(measured, "ms")
                ),
            ),
            Some(0.0) => (
                measured,
                format!(
                    "{} at time scale 0 (no mock delays)",
                    number(measured, "ms")
                ),
            ),
            _ => (measured, number(measured, "ms")),
        }
    }
}

/// Counts by class for a sentence: `http_503 × 3, timeout × 1` (`none` when empty).
pub fn by_class(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(class, n)| format!("{class} × {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A criterion `value ≤ max` (or `≥ min` with `at_least`).
pub fn criterion(
    name: &str,
    value: Option<f64>,
    unit: &str,
    bound: f64,
    at_least: bool,
    measured: String,
) -> Criterion {
    let passed = value.is_some_and(|v| if at_least { v >= bound } else { v <= bound });
    let sign = if at_least { "≥" } else { "≤" };
    Criterion {
        name: name.to_owned(),
        target: format!("{sign} {}", number(bound, unit)),
        measured: if value.is_some() {
            measured
        } else {
            format!("no data ({measured})")
        },
        passed,
        value,
        unit: unit.to_owned(),
        higher_is_better: at_least,
        source: Source::Client,
    }
}

/// A criterion that could not be measured against this target: failed, unless the
/// suite file marks the check optional for the target's profile (then it passes as
/// skipped, and says so).
pub fn not_measurable(ctx: &Ctx<'_>, name: &str, why: &str, source: Source) -> Criterion {
    let optional = ctx
        .spec
        .optional_for
        .iter()
        .any(|p| p == &ctx.subject.profile.name);
    Criterion {
        name: name.to_owned(),
        target: "a figure to judge".into(),
        measured: if optional {
            format!(
                "skipped: not measurable ({why}); optional for profile {}",
                ctx.subject.profile.name
            )
        } else {
            format!("not measurable: {why}")
        },
        passed: optional,
        value: None,
        unit: String::new(),
        higher_is_better: true,
        source,
    }
}

/// The first few examples of a list, for evidence.
pub fn first(items: &[String]) -> &[String] {
    &items[..items.len().min(20)]
}

/// `part` of `whole` as a percentage criterion (`None` when `whole` is 0).
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

/// `12.3 ms`, `99.5%`, `3`.
pub fn number(value: f64, unit: &str) -> String {
    let text = if value.fract() == 0.0 && value.abs() < 1e12 {
        format!("{value:.0}")
    } else if value.abs() < 1.0 {
        format!("{value:.3}")
    } else {
        format!("{value:.2}")
    };
    match unit {
        "%" => format!("{text}%"),
        "" | "count" => text,
        unit => format!("{text} {unit}"),
    }
}
