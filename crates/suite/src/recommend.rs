//! Recommendations that follow from the checks as a whole; each check adds its own
//! (a cache threshold to move, a concurrency to raise), citing the figure that
//! triggered it.

use gatebench_report::{CheckResult, Recommendation};

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
