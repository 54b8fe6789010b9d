//! Every rendering of a report: files written, console, Markdown, HTML, JUnit.

mod common;

use gatebench_report::{
    ReportError, console, html, junit, markdown, read_report, read_report_dir, write_all,
};

#[test]
fn write_all_writes_four_files_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/focused");
    let report = common::focused_report();
    let written = write_all(&report, &out).unwrap();
    for p in [
        &written.json,
        &written.markdown,
        &written.html,
        &written.junit,
    ] {
        assert!(
            std::fs::metadata(p).unwrap().len() > 200,
            "{} is nearly empty",
            p.display()
        );
    }
    assert_eq!(read_report_dir(&out).unwrap(), report);
}

#[test]
fn console_starts_with_the_verdict_and_fits_100_columns() {
    let report = common::focused_report();
    let text = console(&report);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "NOT READY — 3 of 6 checks failed (1 critical, 1 major, 1 minor)"
    );
    for l in text.lines() {
        assert!(
            l.chars().count() <= 100,
            "line too wide ({}): {l}",
            l.chars().count()
        );
    }
    assert!(text.contains("FAIL") && text.contains("warn") && text.contains("pass"));
    // each recommendation cites its figure
    assert!(text.contains("figure: queue p95 160 ms of 205 ms total (78%)"));
    let ready = console(&common::ready_report());
    assert_eq!(
        ready.lines().next().unwrap(),
        "READY — 6 of 6 checks passed"
    );
}

#[test]
fn minor_failures_leave_the_verdict_ready_with_a_warning() {
    let mut r = common::ready_report();
    let minor = r
        .checks
        .iter_mut()
        .find(|c| c.name == "endpoint_coverage")
        .unwrap();
    minor.passed = false;
    r.verdict = gatebench_report::SuiteReport::verdict_of(&r.checks);
    assert_eq!(
        console(&r).lines().next().unwrap(),
        "READY — 5 of 6 checks passed, 1 minor warning"
    );
}

#[test]
fn markdown_has_the_checks_table_and_sections() {
    let md = markdown(&common::focused_report());
    assert!(md.contains("| Severity | Check | Target | Measured | Result |"));
    let rows = md
        .lines()
        .filter(|l| {
            l.starts_with("| critical |")
                || l.starts_with("| major |")
                || l.starts_with("| minor |")
        })
        .count();
    assert_eq!(rows, 6, "{md}");
    assert!(md.contains("### Queue performance — ❌ **FAIL**"));
    assert!(
        md.contains("## Recommendations")
            && md.contains("## Environment")
            && md.contains("## Runs")
    );
    assert!(md.contains("| chat | chat |"), "per-kind figures missing");
    // user text is inert: no raw tags
    assert!(!md.contains("<b>beta</b>") && md.contains("&lt;b&gt;beta&lt;/b&gt;"));
    assert!(!md.contains("<script>"));
}

#[test]
fn html_is_self_contained_and_escaped() {
    let page = html(&common::focused_report());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(!page.to_lowercase().contains("<script"), "a script element");
    assert!(
        !page.contains("<b>beta</b>") && page.contains("Endpoint coverage &lt;b&gt;beta&lt;/b&gt;")
    );
    for attr in ["src=", "href=", "url(", "@import"] {
        for (i, _) in page.match_indices(attr) {
            let rest = &page[i + attr.len()..];
            let value = rest.trim_start_matches(['"', '\'', ' ']);
            assert!(
                value.starts_with('#'),
                "outside resource: {}",
                &page[i..(i + 60).min(page.len())]
            );
        }
    }
    assert!(!page.contains("<img") && !page.contains("<link") && !page.contains("<iframe"));
    assert!(page.contains("class=\"banner not-ready\""));
    // one row per check, charts as inline SVG: 3 suite charts + 3 per run
    assert_eq!(
        page.matches("<tr class=\"failed\"><td><span class=\"badge")
            .count(),
        3
    );
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3 + 3 * 2);
    assert_eq!(page.matches("<details class=\"check\"").count(), 6);
    let ready = html(&common::ready_report());
    assert!(ready.contains("class=\"banner ready\""));
}

#[test]
fn html_skips_run_charts_the_runner_supplied() {
    let mut r = common::focused_report();
    let (key, run) = r
        .runs
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    r.charts.extend(gatebench_report::run_charts(&key, &run));
    assert_eq!(html(&r).matches("<svg class=\"chart\"").count(), 3 + 3 * 2);
}

#[test]
fn junit_parses_with_one_testcase_per_check() {
    let report = common::focused_report();
    let xml = junit(&report);
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attribute("name"), Some("gatebench.focused"));
    assert_eq!(suites[0].attribute("tests"), Some("6"));
    assert_eq!(suites[0].attribute("failures"), Some("2"));
    let time = |n: &roxmltree::Node<'_, '_>| n.attribute("time").unwrap().parse::<f64>().unwrap();
    assert!((time(&suites[0]) - report.duration_s).abs() < 0.001);
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), report.checks.len());
    for (case, check) in cases.iter().zip(&report.checks) {
        assert_eq!(case.attribute("classname"), Some("gatebench.focused"));
        assert_eq!(case.attribute("name"), Some(check.name.as_str()));
        let failure = case.children().find(|n| n.has_tag_name("failure"));
        assert_eq!(
            failure.is_some(),
            !check.passed && check.severity.blocks(),
            "{}",
            check.name
        );
        if let Some(f) = failure {
            let body = f.text().unwrap();
            assert!(body.contains(&format!("target: {}", check.target)));
            assert!(body.contains(&format!("measured: {}", check.measured)));
            assert!(body.contains(&check.evidence.summary));
            assert!(f.attribute("message").unwrap().contains(&check.measured));
        }
    }
    // the minor failure is a warning, its markup text intact after parsing
    let minor = cases
        .iter()
        .find(|c| c.attribute("name") == Some("endpoint_coverage"))
        .unwrap();
    let out = minor
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .unwrap()
        .text()
        .unwrap();
    assert!(out.starts_with("WARNING:") && out.contains("<script>alert(1)</script>"));
}

#[test]
fn junit_survives_hostile_names() {
    let mut r = common::focused_report();
    r.suite = "a\"b<c>&'d".to_owned();
    r.checks[0].name = "x\u{1}\"y\"\n<z>".to_owned();
    let xml = junit(&r);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let first = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(first.attribute("name"), Some("x\u{FFFD}\"y\"\n<z>"));
}

#[test]
fn bad_report_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = read_report_dir(dir.path()).unwrap_err();
    assert!(matches!(missing, ReportError::Io { .. }));
    assert!(missing.to_string().contains("report.json"), "{missing}");
    let path = dir.path().join("report.json");
    std::fs::write(&path, "{ not json").unwrap();
    let corrupt = read_report(&path).unwrap_err();
    assert!(
        matches!(corrupt, ReportError::Json { .. }) && corrupt.to_string().contains("report.json"),
        "{corrupt}"
    );
    std::fs::write(&path, r#"{"schema_version": 1, "suite": "x"}"#).unwrap();
    let partial = read_report(&path).unwrap_err();
    assert!(partial.to_string().contains("missing field"), "{partial}");
    std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
    let version = read_report(&path).unwrap_err();
    assert!(
        matches!(version, ReportError::Version { found: 99, .. }),
        "{version}"
    );
}

#[test]
fn a_single_run_gets_the_suites_reports_with_one_check_per_threshold() {
    use gatebench_report::{Verdict, run_report};
    use gatebench_results::ThresholdResult;
    let mut results = common::run(
        "story-mix",
        20.0,
        vec![common::KindSpec::new(
            "chat",
            "chat",
            common::latencies(400, 120.0, 0.3, 3),
        )],
    );
    let threshold = |expression: &str, value: f64, passed: bool| ThresholdResult {
        key: "latency".to_owned(),
        expression: expression.to_owned(),
        metric: "latency".to_owned(),
        value: Some(value),
        passed,
        abort_on_fail: false,
        aborted: false,
    };
    results.thresholds = vec![threshold("p95 < 500", 210.0, true)];
    for p in &mut results.timeseries {
        p.total.errors = 0;
    }
    let target = common::external_target();
    let env = common::focused_report().environment;
    let report = run_report(&results, target.clone(), env.clone());
    assert_eq!(report.verdict, Verdict::Ready);
    assert_eq!(report.checks.len(), 2);
    assert_eq!(report.checks[0].criteria[0].target, "p95 < 500");
    assert_eq!(report.checks[0].time_scale, Some(0.1));
    assert!(report.runs.contains_key("story-mix"));
    let page = html(&report);
    // latency over time with the load behind it; no all-zero error chart
    assert!(page.contains("class=\"load\""), "no load shading");
    assert!(page.contains("shaded: active VUs"));
    assert!(!page.contains("errors and drops"));
    // one unit per column: latency columns name `ms` once, in the header
    assert!(page.contains("<th class=\"num\">p95 ms</th>"));
    assert!(!page.contains(" s</td>"), "a latency cell in seconds");
    assert!(markdown(&report).contains("| p50 ms | p95 ms | p99 ms |"));

    results
        .thresholds
        .push(threshold("p99 < 200", 260.0, false));
    let report = run_report(&results, target, env);
    assert_eq!(report.verdict, Verdict::NotReady);
    let xml = junit(&report);
    assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
    // each threshold carries the whole run's time; the suite took it once
    let time = format!("time=\"{:.3}\"", results.duration_s);
    assert_eq!(
        xml.matches(&format!("errors=\"0\" {time}")).count(),
        1,
        "{xml}"
    );
    assert!(
        xml.contains("name=\"threshold latency p99 &lt; 200\""),
        "{xml}"
    );
}

#[test]
fn degradation_findings_show_in_every_rendering_and_on_the_latency_chart() {
    use gatebench_analysis::Finding;
    use gatebench_analysis::degradation::Metric;
    let mut report = common::focused_report();
    let key = report.runs.keys().next().unwrap().clone();
    let run = report.runs.get_mut(&key).unwrap();
    let t = run.timeseries[run.timeseries.len() / 2].t;
    run.findings = vec![Finding::Degradation {
        t,
        metric: Metric::LatencyP95,
        factor: Some(3.5),
        baseline: 100.0,
        value: 350.0,
        window_s: 3,
    }];
    let md = markdown(&report);
    assert!(
        md.contains("- degradation: at ") && md.contains("(×3.5)"),
        "{md}"
    );
    let page = html(&report);
    assert!(page.contains("<h4>Degradation detector</h4>"));
    assert!(page.contains(&format!("p95 degradation found at {t} s")));
    let json = gatebench_report::to_json(&report).unwrap();
    assert!(json.contains("\"type\": \"degradation\""));
}

#[test]
fn resources_show_in_every_rendering_with_cpu_and_memory_charts() {
    use gatebench_analysis::{ResourceAlert, Severity};
    use gatebench_results::{MonitorOverhead, ResourceResults, ResourceSeries, ResourceTarget};
    let mut report = common::focused_report();
    let key = report.runs.keys().next().unwrap().clone();
    let run = report.runs.get_mut(&key).unwrap();
    let points = |f: fn(f64) -> f64| (1..=10).map(|i| [f64::from(i), f(f64::from(i))]).collect();
    let series = |target: &str, pid, metric: &str, unit: &str, points| ResourceSeries {
        target: target.into(),
        pid,
        metric: metric.into(),
        unit: unit.into(),
        points,
    };
    run.resources = Some(ResourceResults {
        cores: Some(2),
        interval_s: 1.0,
        targets: vec![
            ResourceTarget {
                name: "system".into(),
                kind: "system".into(),
                pid: None,
                url: None,
            },
            ResourceTarget {
                name: "gatebench".into(),
                kind: "process".into(),
                pid: Some(42),
                url: None,
            },
        ],
        series: vec![
            series(
                "system",
                None,
                "cpu_percent",
                "percent",
                points(|t| t * 5.0),
            ),
            series(
                "gatebench",
                Some(42),
                "cpu_percent",
                "percent",
                points(|t| t * 9.0),
            ),
            series(
                "gatebench",
                Some(42),
                "rss_bytes",
                "bytes",
                points(|t| t * 1e7),
            ),
        ],
        alerts: vec![ResourceAlert {
            t: 6.0,
            target: "gatebench".into(),
            pid: Some(42),
            metric: "rss_bytes".into(),
            level: Severity::Critical,
            value: 6e7,
            threshold: 5e7,
        }],
        overhead: MonitorOverhead {
            samples: 10,
            wall_s: 10.0,
            cpu_s: Some(0.012),
            cpu_percent_of_core: Some(0.12),
        },
        problems: Vec::new(),
    });
    let recs = gatebench_report::resource_recommendations("load", &report.runs[&key]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].rule, "resource-rss_bytes");
    assert!(recs[0].message.starts_with("Memory grew"));
    assert!(recs[0].figure.contains("critical"));
    let md = markdown(&report);
    assert!(md.contains("Resources: 10 samples every 1 s"), "{md}");
    assert!(
        md.contains("| gatebench (42) | `rss_bytes` | 55 MB | 100 MB | ▁"),
        "{md}"
    );
    assert!(
        md.contains("gatebench (pid 42) critical at 6.0s: rss\\_bytes = 60 MB (threshold 50 MB)"),
        "{md}"
    );
    let page = html(&report);
    assert!(page.contains("<h4>Resources</h4>"));
    assert!(page.contains("0.12% of one core"), "monitor overhead shown");
    assert!(
        page.contains("resident memory"),
        "the memory chart is drawn"
    );
    assert!(page.contains("CPU (system"), "the CPU chart is drawn");
    assert!(
        page.contains("gatebench critical at 6 s"),
        "the alert marks the chart"
    );
    let json = gatebench_report::to_json(&report).unwrap();
    assert!(json.contains("\"type\": \"resource_alert\""));
    assert!(json.contains("\"cpu_percent_of_core\": 0.12"));
}

/// At time scale 0 nothing is divided by the scale: the line says the figures
/// stand as measured.
#[test]
fn the_time_scale_line_divides_by_no_zero() {
    let mut report = common::focused_report();
    for check in &mut report.checks {
        check.time_scale = Some(0.0);
    }
    let line = gatebench_report::summary::time_scale_line(&report);
    assert!(
        line.starts_with("time scale 0: the embedded mocks do not wait"),
        "{line}"
    );
    assert!(!line.contains('÷'), "{line}");
    report.checks[0].time_scale = Some(0.1);
    report.checks[1].time_scale = Some(0.1);
    let mixed = gatebench_report::summary::time_scale_line(&report);
    assert!(mixed.contains("as measured at 0"), "{mixed}");
}
