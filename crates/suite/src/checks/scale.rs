//! Scalability: the scenario's request mix at each load of `[check.scale]` (as
//! `gatebench scale` runs it). The linear range must reach `linear_until_min`
//! (default: the first step) and the target must not break below
//! `breaking_point_min` (default: not within the listed steps). `scale.json`,
//! `scale.md` and `scale.html` go into `scale-CHECK/` in the report folder, and
//! the report gets the throughput and p95 charts with the knee and the break marked.

use gatebench_driver::ScenarioFile;
use gatebench_driver::analysis::{Criteria, Mode, ScaleReport};
use gatebench_driver::scale::{ScaleOptions, scale};
use gatebench_report::{Criterion, Evidence, Recommendation, Source, scale_charts, write_scale};

use super::{CheckOutcome, Ctx, criterion, number};

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let spec = ctx
        .spec
        .scale
        .as_ref()
        .ok_or("the check has no [check.scale] table")?;
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let path = ctx.suite.resolve(scenario);
    let file = ScenarioFile::load(&path).map_err(|e| e.to_string())?;
    let mode = spec.mode.unwrap_or_else(|| {
        match file.scenarios.first().map(|s| s.load.executor.is_open()) {
            Some(true) => Mode::Rate,
            _ => Mode::Concurrency,
        }
    });
    let duration = |text: &str, key: &str| {
        gatebench_driver::parse_duration(text).map_err(|e| format!("scale.{key}: {e}"))
    };
    let defaults = Criteria::default();
    let criteria = Criteria {
        min_efficiency: spec.min_efficiency.unwrap_or(defaults.min_efficiency),
        max_error_rate: spec.max_error_rate.unwrap_or(defaults.max_error_rate),
        slo_p95_ms: spec
            .slo_p95
            .as_deref()
            .map(|s| duration(s, "slo_p95").map(|d| d.as_secs_f64() * 1000.0))
            .transpose()?,
        ..defaults
    };
    let options = ScaleOptions {
        mode,
        steps: spec.steps.clone(),
        step_duration: duration(&spec.step_duration, "step_duration")?,
        until_break: spec.until_break,
        max_load: spec.max_load.unwrap_or(10_000.0),
        criteria,
        run: gatebench_driver::RunOptions {
            // a step test judges throughput and latency; per-request records would
            // only cost memory
            record_requests: false,
            ..ctx.run_options(ctx.subject.key_map())
        },
        target_label: ctx.subject.gateway.clone(),
    };
    let report = scale(&file, &ctx.targets(), options, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    let dir = ctx.out.join(format!("scale-{}", ctx.spec.name));
    let written = write_scale(&report, &dir).map_err(|e| e.to_string())?;
    Ok(outcome(ctx, report, &written.json.display().to_string()))
}

fn outcome(ctx: &Ctx<'_>, report: ScaleReport, file: &str) -> CheckOutcome {
    let unit = report.unit.clone();
    let first = report.steps.first().map_or(0.0, |s| s.load);
    let last = report.steps.last().map_or(0.0, |s| s.load);
    let targets = &ctx.spec.targets;
    let linear_min = targets.linear_until_min.unwrap_or(first);
    let linear = criterion(
        "linear range",
        report.linear_until,
        &unit,
        linear_min,
        true,
        report.linear_until.map_or_else(
            || "none: the first step already broke".to_owned(),
            |l| format!("linear until {}", number(l, &unit)),
        ),
    );
    // no break within the steps passes whatever the target: it broke above them
    let breaking = Criterion {
        name: "breaking point".to_owned(),
        target: targets.breaking_point_min.map_or_else(
            || format!("none up to {}", number(last, &unit)),
            |m| format!("≥ {}", number(m, &unit)),
        ),
        measured: report.breaking_point.map_or_else(
            || format!("not reached up to {}", number(last, &unit)),
            |b| format!("breaks at {}", number(b, &unit)),
        ),
        passed: match (report.breaking_point, targets.breaking_point_min) {
            (None, _) => true,
            (Some(b), Some(min)) => b >= min,
            (Some(_), None) => false,
        },
        value: report.breaking_point,
        unit: unit.clone(),
        higher_is_better: true,
        source: Source::Client,
    };
    let broken = report
        .breaking_point
        .and_then(|b| report.steps.iter().find(|s| s.load == b))
        .and_then(|s| s.bottleneck.as_ref())
        .map(|b| crate::recommend::bottleneck(&ctx.spec.name, b));
    let recommendations = report
        .breaking_point
        .map(|b| Recommendation {
            rule: "scale-breaking-point".to_owned(),
            check: ctx.spec.name.clone(),
            message: format!(
                "The target breaks at {}; keep expected peak load within the linear range ({}) or add capacity where the break came from: {}.",
                number(b, &unit),
                report
                    .linear_until
                    .map_or_else(|| "none".to_owned(), |l| format!("up to {}", number(l, &unit))),
                report.reason
            ),
            figure: format!("breaking point {}", number(b, &unit)),
        })
        .into_iter()
        .chain(broken)
        .collect();
    let mut charts = scale_charts(&report);
    for chart in &mut charts {
        chart.id = format!("{}-{}", ctx.spec.name, chart.id);
        chart.title = format!("{}: {}", ctx.title(), chart.title);
    }
    let evidence = Evidence {
        summary: format!(
            "{} steps in {} mode ({}): {} Details in {file}.",
            report.steps.len(),
            report.mode,
            report
                .steps
                .iter()
                .map(|s| number(s.load, &unit))
                .collect::<Vec<_>>()
                .join(", "),
            report.reason
        ),
        details: serde_json::to_value(&report).unwrap_or_default(),
    };
    CheckOutcome {
        result: ctx.result(vec![linear, breaking], evidence),
        runs: Vec::new(),
        charts,
        recommendations,
    }
}
