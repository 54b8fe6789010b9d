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
        if unmeasured {
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
