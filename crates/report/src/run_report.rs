//! The report of one `gatebench run`, in the suite's renderings (console aside:
//! the run prints the driver's summary): one check per threshold, in the order of
//! the scenario file, and one that some request succeeded, so the verdict is the
//! run's exit code — READY exactly when every threshold held, the run measured
//! something and it ran its planned length (a run stopped by a signal is NOT
//! READY: it judged only part of its scenario). The run's figures, charts and errors are the report's single run.

use std::collections::BTreeMap;

use gatebench_results::RunResults;

use crate::model::{
    CheckResult, Criterion, Environment, Evidence, SCHEMA_VERSION, Severity, Source, SuiteReport,
    TargetInfo,
};

/// The report of `results`, run against `target` on `environment`.
pub fn run_report(
    results: &RunResults,
    target: TargetInfo,
    environment: Environment,
) -> SuiteReport {
    let check = |name: String, title: String, criterion: Criterion, summary: String| {
        let mut c = CheckResult::from_criteria(
            &name,
            &title,
            Severity::Critical,
            vec![criterion],
            Evidence {
                summary,
                details: serde_json::Value::Null,
            },
            results.duration_s,
        );
        c.time_scale = results.time_scale;
        c
    };
    let mut checks: Vec<CheckResult> = results
        .thresholds
        .iter()
        .map(|t| {
            let measured = gatebench_results::threshold_value_at(t, results.time_scale);
            check(
                format!("threshold {} {}", t.key, t.expression),
                t.key.clone(),
                Criterion {
                    name: t.metric.clone(),
                    target: t.expression.clone(),
                    measured: measured.clone(),
                    passed: t.passed && !t.aborted,
                    value: t.figure(),
                    unit: t.unit().to_owned(),
                    higher_is_better: t.expression.contains('>'),
                    source: Source::Client,
                },
                if t.aborted {
                    format!(
                        "{} {} failed at {measured} and aborted the run",
                        t.key, t.expression
                    )
                } else {
                    format!("{} {}: {measured}", t.key, t.expression)
                },
            )
        })
        .collect();
    let t = &results.totals;
    checks.push(check(
        "requests_succeeded".to_owned(),
        "Requests succeeded".to_owned(),
        Criterion {
            name: "requests that succeeded".to_owned(),
            target: "≥ 1".to_owned(),
            measured: format!("{} of {} sent", t.ok, t.sent),
            passed: t.ok > 0,
            value: Some(t.ok as f64),
            unit: "requests".to_owned(),
            higher_is_better: true,
            source: Source::Client,
        },
        "A run in which no request succeeded measured nothing about the target.".to_owned(),
    ));
    // a threshold that aborted the run has failed its own check already
    if results.aborted && !results.thresholds.iter().any(|t| t.aborted) {
        let reason = results.abort_reason.as_deref().unwrap_or("aborted");
        checks.push(check(
            "ran_to_the_end".to_owned(),
            "Ran its planned length".to_owned(),
            Criterion {
                name: "time run".to_owned(),
                target: format!("{:.1}s planned", results.planned_duration_s),
                measured: format!("{:.1}s, stopped early: {reason}", results.duration_s),
                passed: false,
                value: Some(results.duration_s),
                unit: "s".to_owned(),
                higher_is_better: true,
                source: Source::Client,
            },
            format!(
                "The run stopped early ({reason}): its thresholds judged only the load it sent, not the scenario."
            ),
        ));
    }
    let mut versions = BTreeMap::new();
    versions.insert("gatebench".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    versions.insert("report_schema".to_owned(), SCHEMA_VERSION.to_string());
    let mut runs = BTreeMap::new();
    runs.insert(results.name.clone(), results.clone());
    SuiteReport {
        schema_version: SCHEMA_VERSION,
        suite: format!("run {}", results.name),
        verdict: SuiteReport::verdict_of(&checks),
        started_at: results.started_at.clone(),
        duration_s: results.duration_s,
        seed: results.seed,
        target,
        environment,
        versions,
        checks,
        recommendations: crate::resources::resource_recommendations("resources", results),
        runs,
        charts: Vec::new(),
        baseline: None,
    }
}
