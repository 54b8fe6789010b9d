//! Comparing reports: regressions need to be worse beyond the tolerance and beyond
//! the run-to-run noise the histograms show.

mod common;

use common::{KindSpec, latencies, run};
use gatebench_report::{
    CheckStatus, Comparison, FigureChange, Mismatch, NoiseModel, Scope, SuiteReport, Verdict,
    compare, compare_runs, console, html, junit, markdown, parse_tolerance,
};

const KEY: &str = "load/latency";

fn with_run(latency_ms: Vec<f64>) -> SuiteReport {
    let mut r = common::ready_report();
    r.runs.clear();
    r.runs.insert(
        KEY.to_owned(),
        run(
            "latency",
            10.0,
            vec![KindSpec::new("chat", "chat", latency_ms)],
        ),
    );
    r
}

fn figure<'a>(c: &'a Comparison, metric: &str) -> &'a FigureChange {
    c.figures
        .iter()
        .find(|f| f.metric == metric && matches!(&f.scope, Scope::Request { run, request } if run == KEY && request == "chat"))
        .unwrap_or_else(|| panic!("no `{metric}` figure in {:#?}", c.figures))
}

#[test]
fn latency_up_half_with_many_samples_is_a_regression() {
    let base = latencies(5000, 100.0, 0.3, 11);
    let slow: Vec<f64> = latencies(5000, 100.0, 0.3, 12)
        .iter()
        .map(|v| v * 1.5)
        .collect();
    let c = compare(&with_run(slow), &with_run(base), 0.10);
    for metric in ["latency p50", "latency p95", "latency p99"] {
        let f = figure(&c, metric);
        assert_eq!(f.noise, NoiseModel::Histogram);
        assert!(f.regression, "{f:#?}");
        let pct = f.change_pct.unwrap();
        assert!((40.0..60.0).contains(&pct), "{metric}: {pct}%");
        let (b, n) = (f.baseline_interval.unwrap(), f.current_interval.unwrap());
        assert!(b.hi < n.lo, "{f:#?}");
    }
    assert!(c.has_regressions());
    let text = c.console();
    assert!(text.starts_with("REGRESSION — "), "{text}");
    assert!(
        text.contains("· chat · latency p95")
            && text.contains("+50.7%")
            && text.contains("REGRESSION"),
        "{text}"
    );
    for l in text.lines() {
        assert!(l.chars().count() <= 100, "{l}");
    }
    let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    assert_eq!(json["regressions"], serde_json::json!(c.regressions));
    assert_eq!(json["figures"][0]["scope"], "check");
}

#[test]
fn a_large_move_within_the_noise_of_few_samples_is_not_flagged() {
    // eight samples: the p95 interval runs from the 80th percentile to beyond the
    // largest sample, which does not bound it
    let base = vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 400.0];
    let cur = vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 600.0];
    let c = compare(&with_run(cur.clone()), &with_run(base.clone()), 0.10);
    let f = figure(&c, "latency p95");
    assert!(f.worse && f.beyond_tolerance, "{f:#?}");
    assert!(!f.beyond_noise && !f.regression, "{f:#?}");
    assert!(!c.has_regressions(), "{}", c.console());
    assert!(f.current_interval.unwrap().hi.is_infinite());
    assert!(c.console().contains("within noise"));
    // JSON has no infinity: an open end is null
    let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    assert!(
        json["figures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["current_interval"]["hi"].is_null())
    );

    // the same shift with many samples is beyond the noise
    let many = |v: &[f64]| v.iter().cycle().take(8 * 500).copied().collect::<Vec<_>>();
    let c = compare(&with_run(many(&cur)), &with_run(many(&base)), 0.10);
    assert!(figure(&c, "latency p99").regression);
}

#[test]
fn a_change_within_tolerance_is_not_flagged() {
    let base = latencies(20_000, 100.0, 0.3, 21);
    let cur: Vec<f64> = base.iter().map(|v| v * 1.05).collect();
    let c = compare(&with_run(cur), &with_run(base), 0.10);
    let f = figure(&c, "latency p50");
    assert!(f.worse && !f.beyond_tolerance && !f.regression, "{f:#?}");
    // beyond the noise, yet within tolerance
    assert!(f.beyond_noise, "{f:#?}");
    assert!(!c.has_regressions());
}

#[test]
fn an_improvement_is_not_flagged() {
    let base = latencies(5000, 100.0, 0.3, 31);
    let cur: Vec<f64> = base.iter().map(|v| v * 0.5).collect();
    let c = compare(&with_run(cur), &with_run(base), 0.10);
    let f = figure(&c, "latency p95");
    assert!(
        !f.worse && f.beyond_tolerance && f.beyond_noise && !f.regression,
        "{f:#?}"
    );
    let rps = figure(&c, "requests/s");
    assert_eq!(rps.change, 0.0);
    assert!(!c.has_regressions());
    assert!(c.console().starts_with("NO REGRESSION"));
}

#[test]
fn a_newly_failing_check_is_a_regression_whatever_its_numbers() {
    let base = common::ready_report();
    let mut cur = base.clone();
    let check = cur
        .checks
        .iter_mut()
        .find(|c| c.name == "cost_tracking")
        .unwrap();
    check.passed = false; // same criteria values, now judged a failure
    let c = compare(&cur, &base, 0.10);
    let change = c.checks.iter().find(|k| k.name == "cost_tracking").unwrap();
    assert_eq!(change.status, CheckStatus::NewlyFailing);
    assert!(change.regression && c.has_regressions());
    assert_eq!(c.regressions, 1);
    assert!(c.figures.iter().all(|f| !f.regression));
    assert!(c.console().contains("REGRESSION (newly failing)"));
}

#[test]
fn checks_in_only_one_report_are_reported_not_flagged() {
    let base = common::ready_report();
    let mut cur = base.clone();
    let removed = cur.checks.remove(1);
    let mut added = cur.checks[0].clone();
    added.name = "memory_monitoring".to_owned();
    added.passed = false;
    cur.checks.push(added);
    cur.runs.remove("concurrent_handling/burst");
    let c = compare(&cur, &base, 0.10);
    let status = |n: &str| c.checks.iter().find(|k| k.name == n).unwrap().status;
    assert_eq!(status(&removed.name), CheckStatus::OnlyInBaseline);
    assert_eq!(status("memory_monitoring"), CheckStatus::OnlyInCurrent);
    assert!(!c.has_regressions(), "{}", c.console());
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("concurrent_handling/burst"))
    );
}

#[test]
fn criteria_are_judged_by_tolerance_and_direction() {
    let base = common::ready_report();
    let mut cur = base.clone();
    let hit = cur
        .checks
        .iter_mut()
        .find(|c| c.name == "cache_efficiency")
        .unwrap();
    hit.criteria[0].value = Some(30.5); // hit rate 41.2% → 30.5%: higher is better, −26%
    hit.criteria[1].value = Some(0.52); // false hits 0.5% → 0.52%: worse by 4%, within 10%
    let c = compare(&cur, &base, 0.10);
    let crit = |m: &str| {
        c.figures
            .iter()
            .find(|f| {
                f.metric == m
                    && matches!(&f.scope, Scope::Check { check } if check == "cache_efficiency")
            })
            .unwrap()
    };
    assert!(crit("hit rate").regression && crit("hit rate").noise == NoiseModel::None);
    assert!(!crit("false-hit rate").regression && crit("false-hit rate").worse);
}

/// A figure of the clock without an interval (a check's p95) moves from run to run
/// on the same build: against a one-run baseline it is shown, not judged, and the
/// console says how to judge it; a baseline of several runs judges it by their
/// range. A count or a share still goes by the tolerance.
#[test]
fn clock_figures_without_noise_need_a_baseline_of_several_runs() {
    let set = |report: &mut SuiteReport, check: &str, criterion: &str, value: f64| {
        let c = report.checks.iter_mut().find(|c| c.name == check).unwrap();
        let k = c.criteria.iter_mut().find(|k| k.name == criterion).unwrap();
        k.value = Some(value);
    };
    let mut base = common::focused_report();
    set(&mut base, "queue_performance", "queue overhead p99", 0.001);
    let mut cur = base.clone();
    set(&mut cur, "concurrent_handling", "p95", 1440.0); // 1210 → 1440 ms: +19%
    set(&mut cur, "queue_performance", "requests lost", 7.0);
    // doubled, but within the floor of 0.5 ms: said as such, not as unjudged
    set(&mut cur, "queue_performance", "queue overhead p99", 0.002);
    let c = compare(&cur, &base, 0.10);
    let crit = |c: &Comparison, check: &str, m: &str| {
        c.figures
            .iter()
            .find(|f| f.metric == m && matches!(&f.scope, Scope::Check { check: k } if k == check))
            .unwrap()
            .clone()
    };
    let p95 = crit(&c, "concurrent_handling", "p95");
    assert_eq!(p95.noise, NoiseModel::Unknown);
    assert!(
        p95.worse && p95.beyond_tolerance && !p95.beyond_noise && !p95.regression,
        "{p95:#?}"
    );
    let lost = crit(&c, "queue_performance", "requests lost");
    assert!(
        lost.regression && lost.noise == NoiseModel::None,
        "{lost:#?}"
    );
    assert_eq!(c.regressions, 1);
    let text = c.console();
    assert!(text.contains("not judged"), "{text}");
    assert!(
        text.contains("1 figure of the clock moved the wrong way"),
        "{text}"
    );
    assert!(text.contains("within floor"), "{text}");
    assert!(text.contains("baseline save A B C"), "{text}");

    // two baseline runs 1210 and 1250 ms: 1440 is beyond their range, and judged
    let mut second = base.clone();
    set(&mut second, "concurrent_handling", "p95", 1250.0);
    let c = compare_runs(&cur, &[base.clone(), second], 0.10).unwrap();
    let p95 = crit(&c, "concurrent_handling", "p95");
    assert!(p95.noise == NoiseModel::Runs && p95.regression, "{p95:#?}");
    assert!(!c.console().contains("not judged"), "{}", c.console());
}

#[test]
fn error_rates_use_binomial_noise() {
    let mk = |failed: usize, n: usize| {
        let mut r = common::ready_report();
        r.runs.clear();
        let mut k = KindSpec::new("chat", "chat", latencies(n - failed, 100.0, 0.3, 41));
        if failed > 0 {
            k.failed = vec![("http_503", latencies(failed, 20.0, 0.1, 42))];
        }
        r.runs.insert(KEY.to_owned(), run("latency", 10.0, vec![k]));
        r
    };
    // 0.5% → 5% over 2000 requests each: far beyond the binomial interval
    let c = compare(&mk(100, 2000), &mk(10, 2000), 0.10);
    let f = figure(&c, "error rate");
    assert_eq!(f.noise, NoiseModel::Binomial);
    assert!(f.regression, "{f:#?}");
    // 1 of 20 → 2 of 20: doubled, but within the noise of 20 requests
    let c = compare(&mk(2, 20), &mk(1, 20), 0.10);
    let f = figure(&c, "error rate");
    assert!(
        f.worse && f.beyond_tolerance && !f.beyond_noise && !f.regression,
        "{f:#?}"
    );
}

/// Without their histograms, percentiles have no interval: against one baseline
/// run their noise is unknown, so they are not judged.
#[test]
fn unreadable_histograms_leave_percentiles_unjudged_with_a_note() {
    let base = with_run(latencies(3000, 100.0, 0.3, 51));
    let mut cur = with_run(latencies(3000, 100.0, 0.3, 52));
    for h in &mut cur.runs.get_mut(KEY).unwrap().histograms {
        h.hdr = "not base64 at all!".to_owned();
    }
    let c = compare(&cur, &base, 0.10);
    assert_eq!(figure(&c, "latency p95").noise, NoiseModel::Unknown);
    assert!(
        c.notes.iter().any(|n| n.contains("does not decode")),
        "{:?}",
        c.notes
    );
}

#[test]
fn tolerances_parse() {
    assert_eq!(parse_tolerance("10%").unwrap(), 0.1);
    assert_eq!(parse_tolerance(" 5 % ").unwrap(), 0.05);
    assert_eq!(parse_tolerance("0.2").unwrap(), 0.2);
    assert!(parse_tolerance("ten").is_err());
    // a bare 10 is no 1000 %
    let ambiguous = parse_tolerance("10").unwrap_err();
    assert!(ambiguous.contains("10%"), "{ambiguous}");
    assert_eq!(parse_tolerance("150%").unwrap(), 1.5);
    assert!(parse_tolerance("-1%").is_err());
}

#[test]
fn reports_of_different_suites_are_refused() {
    let base = common::ready_report();
    let mut cur = base.clone();
    cur.suite = "comprehensive".to_owned();
    let err = compare_runs(&cur, std::slice::from_ref(&base), 0.10).unwrap_err();
    assert!(matches!(err, Mismatch::Suite { .. }));
    let text = err.to_string();
    assert!(
        text.contains("`focused`") && text.contains("`comprehensive`"),
        "{text}"
    );
    assert!(matches!(
        compare_runs(&cur, &[], 0.10),
        Err(Mismatch::Empty)
    ));
}

#[test]
fn a_baseline_of_several_runs_judges_against_their_range() {
    // three baseline runs whose p95 spread over ±15 %: a current run inside that
    // range is no regression even 12 % above the median; one beyond it is
    let spread = [1.0, 1.15, 0.85];
    let runs: Vec<SuiteReport> = spread
        .iter()
        .enumerate()
        .map(|(i, f)| {
            with_run(
                latencies(3000, 100.0, 0.3, 60 + i as u64)
                    .iter()
                    .map(|v| v * f)
                    .collect(),
            )
        })
        .collect();
    let inside = with_run(
        latencies(3000, 100.0, 0.3, 70)
            .iter()
            .map(|v| v * 1.12)
            .collect(),
    );
    let single = compare(&inside, &runs[0], 0.10);
    assert!(
        figure(&single, "latency p50").regression,
        "one run cannot see the spread"
    );
    let c = compare_runs(&inside, &runs, 0.10).unwrap();
    assert_eq!(c.baseline_runs, 3);
    let f = figure(&c, "latency p50");
    assert!(!f.regression && !f.beyond_noise, "{f:#?}");
    let b = f.baseline_interval.unwrap();
    assert!(b.lo <= 0.85 * 100.0 && b.hi >= 1.15 * 100.0, "{b:?}");
    assert!(c.console().contains("the baseline holds 3 runs"));

    let beyond = with_run(
        latencies(3000, 100.0, 0.3, 71)
            .iter()
            .map(|v| v * 1.6)
            .collect(),
    );
    let c = compare_runs(&beyond, &runs, 0.10).unwrap();
    assert!(figure(&c, "latency p50").regression);
    // requests/s had no noise model: with several runs it gets their spread
    assert_eq!(figure(&c, "requests/s").noise, NoiseModel::Runs);
}

#[test]
fn a_check_failing_in_one_baseline_run_is_not_newly_failing() {
    let base = common::ready_report();
    let mut flaky = base.clone();
    flaky
        .checks
        .iter_mut()
        .find(|c| c.name == "cost_tracking")
        .unwrap()
        .passed = false;
    let cur = flaky.clone();
    let c = compare_runs(&cur, &[base.clone(), flaky], 0.10).unwrap();
    let k = c.checks.iter().find(|k| k.name == "cost_tracking").unwrap();
    assert_eq!(k.status, CheckStatus::StillFailing);
    assert!(!k.regression);
    let c = compare_runs(&cur, &[base.clone(), base], 0.10).unwrap();
    let k = c.checks.iter().find(|k| k.name == "cost_tracking").unwrap();
    assert_eq!(k.status, CheckStatus::NewlyFailing);
}

#[test]
fn the_console_fits_a_screen_however_much_moved() {
    let base = common::focused_report();
    let mut cur = base.clone();
    for c in &mut cur.checks {
        for k in &mut c.criteria {
            if let Some(v) = &mut k.value {
                *v = *v * 3.0 + 100.0;
            }
        }
    }
    for run in cur.runs.values_mut() {
        run.duration_s *= 3.0;
    }
    let c = compare(&cur, &base, 0.10);
    let moved = c.figures.iter().filter(|f| f.change != 0.0).count();
    assert!(moved > 12, "{moved}");
    let text = c.console();
    let figure_rows = text
        .lines()
        .skip_while(|l| !l.starts_with("figures that moved most"))
        .take_while(|l| !l.contains("more figure"))
        .count();
    assert!(figure_rows <= 14, "{text}");
    assert!(text.contains("more figures moved less"), "{text}");
    assert!(text.lines().count() <= 40, "{text}");
}

#[test]
fn a_regression_makes_every_rendering_not_ready() {
    let base = common::ready_report();
    let mut cur = base.clone();
    cur.checks
        .iter_mut()
        .find(|c| c.name == "cost_tracking")
        .unwrap()
        .passed = false;
    let comparison = compare_runs(&cur, std::slice::from_ref(&base), 0.10).unwrap();
    assert!(comparison.has_regressions());
    let mut report = base.clone();
    report.apply_baseline("main", &comparison);
    assert_eq!(report.verdict, Verdict::NotReady);
    let line = gatebench_report::verdict_line(&report);
    assert!(
        line.starts_with("NOT READY — 1 regression against baseline `main`"),
        "{line}"
    );
    assert!(console(&report).starts_with("NOT READY"));
    assert!(console(&report).contains("cost_tracking"));
    assert!(markdown(&report).contains("## Baseline"));
    assert!(html(&report).contains("<h2>Baseline</h2>"));
    let xml = junit(&report);
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("name=\"baseline main\""), "{xml}");
    let json: serde_json::Value =
        serde_json::from_str(&gatebench_report::to_json(&report).unwrap()).unwrap();
    assert_eq!(json["verdict"], "NOT READY");
    assert_eq!(json["baseline"]["regressions"].as_array().unwrap().len(), 1);

    // no regression: READY stays, and the reports say what was compared
    let same = compare_runs(&base, std::slice::from_ref(&base), 0.10).unwrap();
    let mut report = base.clone();
    report.apply_baseline("main", &same);
    assert_eq!(report.verdict, Verdict::Ready);
    assert!(junit(&report).contains("failures=\"0\""));
    assert!(console(&report).contains("against baseline `main`"));
}

/// A run's error-rate threshold is a share: a rise of 8.7 percentage points
/// against its baseline is a regression, not a change "within the floor" of a
/// count.
#[test]
fn a_run_s_rising_error_rate_is_a_regression() {
    use gatebench_report::run_report;
    use gatebench_results::ThresholdResult;
    let report = |errors: f64| {
        let mut results = run(
            "story-mix",
            20.0,
            vec![KindSpec::new("chat", "chat", latencies(400, 120.0, 0.3, 3))],
        );
        results.thresholds = vec![ThresholdResult {
            key: "errors".to_owned(),
            expression: "rate < 20%".to_owned(),
            metric: "errors".to_owned(),
            value: Some(errors),
            passed: true,
            abort_on_fail: false,
            aborted: false,
        }];
        let target = common::external_target();
        run_report(&results, target, common::focused_report().environment)
    };
    let c = compare(&report(0.0866), &report(0.0), 0.10);
    let errors = c
        .figures
        .iter()
        .find(|f| f.metric == "errors" && matches!(&f.scope, Scope::Check { .. }))
        .unwrap_or_else(|| panic!("no errors figure in {:#?}", c.figures));
    assert_eq!(errors.unit, "%");
    assert!((errors.current - 8.66).abs() < 1e-9, "{}", errors.current);
    assert!(errors.regression, "{errors:#?}");
    assert!(c.has_regressions());
}
