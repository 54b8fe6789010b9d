//! Figures every rendering shares: the verdict line, check tallies, per-run key
//! figures, and number formatting.

use std::collections::BTreeMap;

use gatebench_results::{RunResults, Summary};

use crate::model::{CheckResult, Severity, SuiteReport, Verdict};

/// How the checks came out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Checks.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed critical checks.
    pub critical: usize,
    /// Failed major checks.
    pub major: usize,
    /// Failed minor checks (warnings).
    pub minor: usize,
}

impl Tally {
    /// Counts the checks.
    pub fn of(checks: &[CheckResult]) -> Tally {
        let mut t = Tally {
            total: checks.len(),
            ..Tally::default()
        };
        for c in checks {
            match (c.passed, c.severity) {
                (true, _) => t.passed += 1,
                (false, Severity::Critical) => t.critical += 1,
                (false, Severity::Major) => t.major += 1,
                (false, Severity::Minor) => t.minor += 1,
            }
        }
        t
    }

    /// Failed checks of any severity.
    pub fn failed(&self) -> usize {
        self.critical + self.major + self.minor
    }
}

/// What a check's row shows in the result column.
pub fn status_word(check: &CheckResult) -> &'static str {
    match (check.passed, check.severity.blocks()) {
        (true, _) => "pass",
        (false, true) => "FAIL",
        (false, false) => "warn",
    }
}

/// The verdict in one line: `NOT READY — 2 of 5 checks failed (1 critical, 1 minor)`.
pub fn verdict_line(report: &SuiteReport) -> String {
    let t = Tally::of(&report.checks);
    let mut parts = Vec::new();
    for (n, name) in [
        (t.critical, "critical"),
        (t.major, "major"),
        (t.minor, "minor"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    let breakdown = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let plural = |n: usize| if n == 1 { "check" } else { "checks" };
    let regressions = report.regressions().len();
    if regressions > 0 {
        let name = report.baseline.as_ref().map_or("", |b| b.name.as_str());
        let checks = if t.failed() == 0 {
            format!("{} of {} {} passed", t.passed, t.total, plural(t.total))
        } else {
            format!(
                "{} of {} {} failed{breakdown}",
                t.failed(),
                t.total,
                plural(t.total)
            )
        };
        return format!(
            "NOT READY — {regressions} regression{} against baseline `{name}`; {checks}",
            if regressions == 1 { "" } else { "s" }
        );
    }
    match report.verdict {
        Verdict::Ready if t.minor > 0 => format!(
            "READY — {} of {} {} passed, {} minor {}",
            t.passed,
            t.total,
            plural(t.total),
            t.minor,
            if t.minor == 1 { "warning" } else { "warnings" }
        ),
        Verdict::Ready => format!(
            "READY — {} of {} {} passed",
            t.passed,
            t.total,
            plural(t.total)
        ),
        Verdict::NotReady if t.critical + t.major == 0 => format!(
            "NOT READY — no blocking check failed ({} of {} passed); the suite could not complete or vouch for the target",
            t.passed, t.total
        ),
        Verdict::NotReady => format!(
            "NOT READY — {} of {} {} failed{breakdown}",
            t.failed(),
            t.total,
            plural(t.total)
        ),
    }
}

/// The time scale the checks ran at, in one line: every report states it, since a
/// latency measured against compressed mock delays is not a real-time figure.
pub fn time_scale_line(report: &SuiteReport) -> String {
    let mut scales: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in report.checks.iter().filter(|c| c.ran()) {
        let key = c.time_scale.map_or("external".to_owned(), num);
        scales.entry(key).or_default().push(&c.name);
    }
    // the most common scale first, exceptions by check
    let mut by_count: Vec<(String, Vec<&str>)> = scales.into_iter().collect();
    by_count.sort_by_key(|(_, checks)| std::cmp::Reverse(checks.len()));
    let Some((main, _)) = by_count.first() else {
        return "time scale: no check ran".to_owned();
    };
    if main == "external" && by_count.len() == 1 {
        return "time scale: as the target's mocks run (the suite compresses nothing)".to_owned();
    }
    let exceptions: Vec<String> = by_count[1..]
        .iter()
        .map(|(s, checks)| format!("{s} for {}", checks.join(", ")))
        .collect();
    let rest = if exceptions.is_empty() {
        String::new()
    } else {
        format!(" ({})", exceptions.join("; "))
    };
    if main == "1" && exceptions.is_empty() {
        return "time scale 1: mock delays in real time".to_owned();
    }
    if main == "0" && exceptions.is_empty() {
        return "time scale 0: the embedded mocks do not wait; latencies are the stack's own, and latency targets judge them as measured".to_owned();
    }
    // nothing is divided by 0: at that scale the figures stand as measured
    let zero = if by_count.iter().any(|(s, _)| s == "0") {
        "; as measured at 0"
    } else {
        ""
    };
    format!(
        "time scale {main}{rest}: the embedded mocks' delays are multiplied by it; latency targets are judged on real-time equivalents (measured ÷ time scale{zero})"
    )
}

/// The comparison with a baseline in one line, if there was one: `against baseline
/// `main` (3 runs, tolerance 10%): 2 regressions of 140 figures`.
pub fn baseline_line(report: &SuiteReport) -> Option<String> {
    let b = report.baseline.as_ref()?;
    let runs = if b.runs == 1 {
        String::new()
    } else {
        format!("{} runs, ", b.runs)
    };
    let tol = format!("{}%", num(100.0 * b.tolerance));
    Some(match b.regressions.len() {
        0 => format!(
            "against baseline `{}` ({runs}tolerance {tol}): no regression; {} figures compared, {} moved within tolerance, noise and floors",
            b.name, b.compared, b.moved
        ),
        n => format!(
            "against baseline `{}` ({runs}tolerance {tol}): {n} regression{} among {} figures compared",
            b.name,
            if n == 1 { "" } else { "s" },
            b.compared
        ),
    })
}

/// Key figures of one request name in one run.
#[derive(Clone, Debug, PartialEq)]
pub struct KindFigures {
    /// Request name.
    pub request: String,
    /// Kind (`chat`, `tts`, ...).
    pub kind: String,
    /// Sent.
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed.
    pub failed: u64,
    /// Dropped.
    pub dropped: u64,
    /// Requests per second of run time.
    pub rps: f64,
    /// failed ÷ sent, percent.
    pub error_rate_pct: Option<f64>,
    /// Latency from the intended time, ms.
    pub latency: Option<Summary>,
    /// Time to first token, ms.
    pub ttft: Option<Summary>,
}

/// Key figures of every request name of a run, in name order.
pub fn kind_figures(run: &RunResults) -> Vec<KindFigures> {
    run.kinds
        .iter()
        .map(|(name, k)| KindFigures {
            request: name.clone(),
            kind: k.kind.clone(),
            sent: k.sent,
            ok: k.ok,
            failed: k.failed,
            dropped: k.dropped,
            rps: if run.duration_s > 0.0 {
                k.sent as f64 / run.duration_s
            } else {
                0.0
            },
            error_rate_pct: (k.sent > 0).then(|| 100.0 * k.failed as f64 / k.sent as f64),
            latency: k.latency_ms.clone(),
            ttft: k.ttft_ms.clone(),
        })
        .collect()
}

/// A number in at most four significant figures, without trailing zeros:
/// `1234`, `12.5`, `0.042`.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "n/a".to_owned()
        } else if x > 0.0 {
            "∞".to_owned()
        } else {
            "-∞".to_owned()
        };
    }
    let a = x.abs();
    let text = if a >= 1000.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else if a >= 0.01 {
        format!("{x:.3}")
    } else if a >= 1e-9 {
        // small money and rates: three significant digits, not an exponent
        let decimals = (-a.log10()).ceil() as usize + 2;
        format!("{x:.decimals$}")
    } else {
        return format!("{x:.2e}");
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    if text == "-0" { "0".to_owned() } else { text }
}

/// Milliseconds short: `0.42 ms`, `87.3 ms`, `1.24 s`.
pub fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{} s", num(x / 1000.0))
    } else {
        format!("{} ms", num(x))
    }
}

/// A value with its unit: `12.5 ms`, `42%`, `3 count` becomes `3`.
pub fn with_unit(x: f64, unit: &str) -> String {
    match unit {
        "ms" => ms(x),
        "%" => format!("{}%", num(x)),
        "" | "count" => num(x),
        "USD" => format!("${}", num(x)),
        u => format!("{} {u}", num(x)),
    }
}

/// `p50 / p95 / p99` of a latency summary in ms, without the unit (tables name it once, in the header), or `–`.
pub fn percentiles(s: Option<&Summary>) -> [String; 3] {
    match s {
        Some(s) => [num(s.p50), num(s.p95), num(s.p99)],
        None => ["–".to_owned(), "–".to_owned(), "–".to_owned()],
    }
}

/// Bytes as GiB/MiB.
pub fn bytes(b: u64) -> String {
    let gib = b as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{} GiB", num(gib))
    } else {
        format!("{} MiB", num(b as f64 / (1u64 << 20) as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(1234.56), "1235");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(0.042), "0.042");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0001), "-0.0001");
        assert_eq!(num(0.00412345), "0.00412");
        assert_eq!(num(3e-12), "3.00e-12");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(ms(1500.0), "1.5 s");
        assert_eq!(with_unit(3.0, "count"), "3");
        assert_eq!(with_unit(42.0, "%"), "42%");
    }
}
