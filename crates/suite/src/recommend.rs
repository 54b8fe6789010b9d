//! Recommendations that follow from the checks as a whole; each check adds its own
//! (a cache threshold to move, a concurrency to raise), citing the figure that
//! triggered it. A failed check whose runs found a bottleneck gets what held the
//! latency of its busiest run.

use gatebench_driver::RunResults;
use gatebench_driver::analysis::Bottleneck;
use gatebench_report::{CheckResult, Recommendation};

/// What held the latency, as a recommendation for `check`: the finding's own
/// recommendation, the component and its share as the figure.
pub fn bottleneck(check: &str, b: &Bottleneck) -> Recommendation {
    let share = b.share.map_or_else(String::new, |s| {
        format!(" ({:.0} % of mean latency)", s * 100.0)
    });
    Recommendation {
        rule: "bottleneck".into(),
        check: check.to_owned(),
        message: format!("Bottleneck: {}.", b.recommendation),
        figure: format!(
            "{}{share} at {} {}",
            b.component.name(),
            gatebench_driver::analysis::bottleneck::trim(b.load),
            b.unit
        ),
    }
}

/// For each failed check with runs, what held the latency of its busiest run.
pub fn bottlenecks<'a>(
    checks: &[CheckResult],
    runs: impl IntoIterator<Item = (&'a str, &'a RunResults)>,
) -> Vec<Recommendation> {
    let mut busiest: std::collections::BTreeMap<&str, &Bottleneck> = Default::default();
    for (check, run) in runs {
        if let Some(b) = &run.bottleneck {
            let slot = busiest.entry(check).or_insert(b);
            if b.load > slot.load {
                *slot = b;
            }
        }
    }
    checks
        .iter()
        .filter(|c| !c.passed)
        .filter_map(|c| busiest.get(c.name.as_str()).map(|b| bottleneck(&c.name, b)))
        .collect()
}

/// Rules over all checks.
pub fn general(checks: &[CheckResult]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    for check in checks.iter().filter(|c| !c.passed) {
        let unmeasured = check.criteria.iter().any(|c| c.name == "measurement");
        if !check.ran() {
            out.push(Recommendation {
                rule: "not-run".into(),
                check: check.name.clone(),
                message: "The suite was stopped before this check ran: run the suite again (or this check alone, `--check NAME`) to judge it.".into(),
                figure: check.measured.clone(),
            });
        } else if unmeasured {
            out.push(Recommendation {
                rule: "unmeasured".into(),
                check: check.name.clone(),
                message: "The check had nothing to judge: make sure the target is up and reachable, and that it sends gatebench's x-gatebench-* headers (or run against the embedded stack).".into(),
                figure: check.measured.clone(),
            });
        } else if !check.severity.blocks() {
            out.push(Recommendation {
                rule: "minor-failure".into(),
                check: check.name.clone(),
                message: format!(
                    "{} is below target but does not block the release; track it.",
                    check.title
                ),
                figure: check.measured.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use gatebench_driver::analysis::bottleneck::{Evidence, PartTiming, find};
    use gatebench_driver::results::{RunMeta, build};
    use gatebench_report::{Criterion, Evidence as CheckEvidence, Severity, Source};

    use super::*;

    /// A run whose bottleneck is the queue at `load` rps.
    fn run(load: f64) -> RunResults {
        let meta = RunMeta {
            name: "load".into(),
            scenario_file: None,
            seed: 1,
            started_at: SystemTime::UNIX_EPOCH,
            planned: Duration::from_secs(1),
            aborted: false,
            abort_reason: None,
            executors: Default::default(),
            time_scale: None,
        };
        let mut r = build(meta, &Default::default(), Vec::new(), None, Vec::new());
        let timing = |mean_ms| PartTiming {
            mean_ms,
            p95_ms: mean_ms * 2.0,
        };
        r.bottleneck = Some(find(&Evidence {
            load,
            unit: "rps".into(),
            requests: 100,
            latency_mean_ms: Some(100.0),
            latency_p95_ms: Some(200.0),
            server_timing: [("queue", timing(80.0)), ("total", timing(90.0))]
                .into_iter()
                .map(|(n, t)| (n.to_owned(), t))
                .collect(),
            ..Evidence::default()
        }));
        r
    }

    fn check(name: &str, passed: bool) -> CheckResult {
        let criterion = Criterion {
            name: "p95".into(),
            target: "< 1 s".into(),
            measured: "2 s".into(),
            passed,
            value: Some(2.0),
            unit: "s".into(),
            higher_is_better: false,
            source: Source::Client,
        };
        CheckResult::from_criteria(
            name,
            name,
            Severity::Major,
            vec![criterion],
            CheckEvidence::default(),
            0.0,
        )
    }

    #[test]
    fn a_failed_check_gets_the_bottleneck_of_its_busiest_run() {
        let (low, high, other) = (run(10.0), run(40.0), run(99.0));
        let runs = [("load", &low), ("load", &high), ("fine", &other)];
        let checks = [check("load", false), check("fine", true)];
        let found = bottlenecks(&checks, runs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, "bottleneck");
        assert_eq!(found[0].check, "load");
        assert_eq!(found[0].figure, "queue (80 % of mean latency) at 40 rps");
        assert!(
            found[0]
                .message
                .starts_with("Bottleneck: queue wait is 80 %"),
            "{}",
            found[0].message
        );
    }
}
