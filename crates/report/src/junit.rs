//! `junit.xml`: one test suite, one test case per check.
//!
//! A failed critical or major check is a `<failure>` whose body carries the
//! evidence (target, measured, each criterion, the evidence summary). A failed minor
//! check is not a failure: JUnit has no warning state, and a CI job must stay green
//! exactly when the verdict is READY, so a minor failure passes with a `WARNING`
//! line in its `<system-out>`.

use std::fmt::Write as _;

use crate::escape::xml;
use crate::model::{CheckResult, SuiteReport};
use crate::summary::{self, Tally};

/// The JUnit XML report.
pub fn junit(report: &SuiteReport) -> String {
    let suite = format!("gatebench.{}", report.suite);
    let t = Tally::of(&report.checks);
    let compared = report.baseline.is_some();
    let tests = t.total + usize::from(compared);
    let failures = t.critical + t.major + usize::from(!report.regressions().is_empty());
    // the report's own time: a run's thresholds each carry the whole run's
    let time = report.duration_s;
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"gatebench\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">",
        secs(time)
    );
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{}\" timestamp=\"{}\">",
        xml(&suite, true),
        secs(time),
        xml(&report.started_at, true)
    );
    let _ = writeln!(s, "    <properties>");
    for (name, value) in [
        ("verdict", report.verdict.as_str().to_owned()),
        ("verdict_line", summary::verdict_line(report)),
        ("seed", report.seed.to_string()),
        ("time_scale", summary::time_scale_line(report)),
        ("target", report.target.url.clone()),
        ("target_mode", report.target.mode.clone()),
        ("target_profile", report.target.profile.clone()),
        ("truth", report.target.mocks.clone().unwrap_or_default()),
    ] {
        let _ = writeln!(
            s,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml(&value, true)
        );
    }
    let _ = writeln!(s, "    </properties>");
    for c in &report.checks {
        testcase(&mut s, &suite, c);
    }
    if let Some(line) = summary::baseline_line(report) {
        baseline_case(&mut s, &suite, report, &line);
    }
    let _ = writeln!(s, "  </testsuite>\n</testsuites>");
    s
}

fn secs(x: f64) -> String {
    format!("{:.3}", if x.is_finite() { x.max(0.0) } else { 0.0 })
}

fn testcase(s: &mut String, suite: &str, c: &CheckResult) {
    let _ = write!(
        s,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
        xml(suite, true),
        xml(&c.name, true),
        secs(c.duration_s)
    );
    let body = evidence(c);
    if c.passed {
        let _ = writeln!(
            s,
            "\n      <system-out>{}</system-out>\n    </testcase>",
            xml(&body, false)
        );
    } else if c.severity.blocks() {
        let message = format!(
            "{} check failed: measured {} (target {})",
            c.severity.as_str(),
            c.measured,
            c.target
        );
        let _ = writeln!(
            s,
            "\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
            xml(&message, true),
            c.severity.as_str(),
            xml(&body, false)
        );
    } else {
        let _ = writeln!(
            s,
            "\n      <system-out>WARNING: minor check failed (does not block the release)\n{}</system-out>\n    </testcase>",
            xml(&body, false)
        );
    }
}

/// The comparison with the baseline as one test case: failed when anything regressed.
fn baseline_case(s: &mut String, suite: &str, report: &SuiteReport, line: &str) {
    let name = report.baseline.as_ref().map_or("", |b| b.name.as_str());
    let _ = write!(
        s,
        "    <testcase classname=\"{}\" name=\"baseline {}\" time=\"0.000\">",
        xml(suite, true),
        xml(name, true)
    );
    let mut body = format!("{line}\n");
    for r in report.regressions() {
        let _ = writeln!(body, "- {r}");
    }
    if report.regressions().is_empty() {
        let _ = writeln!(
            s,
            "\n      <system-out>{}</system-out>\n    </testcase>",
            xml(&body, false)
        );
    } else {
        let _ = writeln!(
            s,
            "\n      <failure message=\"{}\" type=\"regression\">{}</failure>\n    </testcase>",
            xml(line, true),
            xml(&body, false)
        );
    }
}

/// The evidence as text: title, target, measured, each criterion, the summary.
fn evidence(c: &CheckResult) -> String {
    let mut b = String::new();
    let _ = writeln!(b, "{} ({}, {})", c.title, c.name, c.severity.as_str());
    let _ = writeln!(b, "target: {}", c.target);
    let _ = writeln!(b, "measured: {}", c.measured);
    if c.criteria.is_empty() {
        let _ = writeln!(b, "nothing was measured");
    }
    for k in &c.criteria {
        let mark = if k.passed { "met" } else { "NOT MET" };
        let _ = writeln!(
            b,
            "- {}: target {}, measured {} [{mark}]",
            k.name, k.target, k.measured
        );
    }
    if !c.evidence.summary.is_empty() {
        let _ = writeln!(b, "evidence: {}", c.evidence.summary);
    }
    b
}
