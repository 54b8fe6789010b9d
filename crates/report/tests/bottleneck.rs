//! A run's and a step test's bottleneck in every rendering: the run report, the
//! suite report and the scale report, Markdown and HTML.

mod common;

use gatebench_analysis::bottleneck::{Evidence, PartTiming, UpstreamTruth, find};
use gatebench_analysis::{Bottleneck, ScaleReport};
use gatebench_report::escape::{html as esc, markdown as md};
use gatebench_report::{SuiteReport, html, markdown, run_report, write_scale};

/// Server-timing says 80 of the 100 ms mean were spent in the queue.
fn queue_bound(load: f64) -> Bottleneck {
    let part =
        |name: &str, mean_ms: f64, p95_ms: f64| (name.to_owned(), PartTiming { mean_ms, p95_ms });
    find(&Evidence {
        load,
        unit: "rps".to_owned(),
        requests: 800,
        latency_mean_ms: Some(100.0),
        latency_p95_ms: Some(180.0),
        server_timing: [
            part("queue", 80.0, 150.0),
            part("upstream", 15.0, 25.0),
            part("total", 97.0, 178.0),
        ]
        .into_iter()
        .collect(),
        upstream_concurrency: Some(4),
        ..Evidence::default()
    })
}

/// The mocks' books say the provider took 45 of the 50 ms clients waited.
fn upstream_bound(load: f64) -> Bottleneck {
    find(&Evidence {
        load,
        unit: "rps".to_owned(),
        requests: 400,
        latency_mean_ms: Some(50.0),
        latency_p95_ms: Some(70.0),
        upstream_truth: Some(UpstreamTruth {
            calls: 400,
            busy_ms: 18_000.0,
            per_request_ms: 45.0,
        }),
        ..Evidence::default()
    })
}

/// The `<figure>` of the chart with this id, up to its end.
fn chart_of<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("<figure id=\"chart-{id}\">"))
        .unwrap_or_else(|| panic!("no chart {id}"));
    &page[at..at + page[at..].find("</figure>").unwrap()]
}

/// The fill of the bar segment whose hover text starts with `title`.
fn fill_of<'a>(svg: &'a str, title: &str) -> &'a str {
    let at = svg
        .find(&format!("<title>{title}"))
        .unwrap_or_else(|| panic!("no segment {title}"));
    let fill = svg[..at].rfind("fill=\"").unwrap() + 6;
    &svg[fill..fill + svg[fill..].find('"').unwrap()]
}

fn report_of(bottleneck: Option<Bottleneck>) -> SuiteReport {
    let mut results = common::run(
        "queue-mix",
        10.0,
        vec![common::KindSpec::new(
            "chat",
            "chat",
            common::latencies(400, 100.0, 0.3, 5),
        )],
    );
    results.bottleneck = bottleneck;
    let target = common::external_target();
    run_report(&results, target, common::focused_report().environment)
}

#[test]
fn the_finder_names_the_queue_as_these_tests_expect() {
    let b = queue_bound(40.0);
    assert_eq!(b.component.name(), "queue");
    assert_eq!(b.share, Some(0.8));
    assert_eq!(b.source, "server-timing");
    assert!(b.recommendation.contains("upstream concurrency 4"));
}

#[test]
fn a_run_reports_markdown_shows_its_bottleneck() {
    let mut b = queue_bound(40.0);
    b.problems
        .push("the mocks' books could not be read: refused".to_owned());
    let text = markdown(&report_of(Some(b.clone())));
    assert!(text.contains("#### Bottleneck"), "{text}");
    assert!(
        text.contains("- not used: the mocks' books could not be read: refused"),
        "{text}"
    );
    assert!(
        text.contains("**queue** — 80 % of mean latency · source: server-timing"),
        "{text}"
    );
    assert!(text.contains(&md(&b.recommendation)), "{text}");
    for e in &b.evidence {
        assert!(text.contains(&format!("- {}", md(e))), "{e} in {text}");
    }
    assert!(text.contains("| Part | Mean (ms as measured) | Share of mean latency |"));
    assert!(text.contains("| queue | 80 | 80 % |"), "{text}");
    assert!(text.contains("| upstream | 15 | 15 % |"), "{text}");
    assert!(text.contains("| network | 3 | 3 % |"), "{text}");
}

#[test]
fn a_run_reports_html_shows_its_bottleneck_with_a_chart() {
    let mut b = queue_bound(40.0);
    b.evidence.push("<script>x</script> & more".to_owned());
    let page = html(&report_of(Some(b.clone())));
    assert!(page.contains("<h4>Bottleneck</h4>"));
    assert!(
        page.contains("<strong>queue</strong> — 80 % of mean latency · source: server-timing"),
        "{page}"
    );
    assert!(page.contains(&esc(&b.recommendation)));
    assert!(page.contains("<li>&lt;script&gt;x&lt;/script&gt; &amp; more</li>"));
    assert!(!page.contains("<script>"), "evidence is escaped");
    assert!(
        page.contains(
            "<tr><td>queue</td><td class=\"num\">80</td><td class=\"num\">80 %</td></tr>"
        )
    );
    assert!(page.contains(
        "<tr><td>upstream</td><td class=\"num\">15</td><td class=\"num\">15 %</td></tr>"
    ));
    let figure = chart_of(&page, "run-queue-mix-bottleneck");
    assert!(figure.contains("<svg class=\"chart\""));
    assert!(figure.contains("<title>queue: 80 ms as measured (80 %)</title>"));
    assert!(
        figure.contains("ms as measured</text>"),
        "the axis names its unit"
    );
    assert!(!figure.contains("http"), "self-contained: {figure}");
}

#[test]
fn a_run_without_a_bottleneck_renders_no_section() {
    let report = report_of(None);
    let text = markdown(&report);
    assert!(!text.contains("Bottleneck"), "{text}");
    let page = html(&report);
    assert!(!page.contains("Bottleneck") && !page.contains("-bottleneck\""));
}

#[test]
fn a_suite_report_shows_the_bottleneck_of_each_run_that_has_one() {
    let mut report = common::focused_report();
    let keys: Vec<String> = report.runs.keys().cloned().collect();
    report.runs.get_mut(&keys[0]).unwrap().bottleneck = Some(upstream_bound(20.0));
    let text = markdown(&report);
    assert_eq!(text.matches("#### Bottleneck").count(), 1, "{text}");
    assert!(text.contains("**upstream** — 90 % of mean latency · source: books (the mocks' books against client time)"), "{text}");
    assert!(text.contains("| upstream | 45 | 90 % |") && text.contains("| target | 5 | 10 % |"));
    let page = html(&report);
    let chart = format!(
        "id=\"chart-run-{}-bottleneck\"",
        gatebench_report::escape::slug(&keys[0])
    );
    assert_eq!(page.matches(&chart).count(), 1, "{page}");
    assert_eq!(page.matches("<h4>Bottleneck</h4>").count(), 1);
}

/// The common step test with these findings for its three steps.
fn scale_report(bottlenecks: [Option<Bottleneck>; 3]) -> ScaleReport {
    let mut report = common::scale_report();
    for (step, b) in report.steps.iter_mut().zip(bottlenecks) {
        step.bottleneck = b;
    }
    report
}

/// `scale.md` and `scale.html` as written.
fn scale_files(report: &ScaleReport) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let written = write_scale(report, dir.path()).unwrap();
    (
        std::fs::read_to_string(written.markdown).unwrap(),
        std::fs::read_to_string(written.html).unwrap(),
    )
}

#[test]
fn a_scale_report_shows_each_steps_bottleneck_in_its_table_list_and_chart() {
    let (upstream, queue) = (upstream_bound(20.0), queue_bound(40.0));
    let (text, page) = scale_files(&scale_report([
        Some(upstream.clone()),
        Some(queue.clone()),
        None,
    ]));
    assert!(text.contains("| dropped | bottleneck |"), "{text}");
    assert!(
        text.contains("| 0 | upstream 90 % |") && text.contains("| 0 | queue 80 % |"),
        "{text}"
    );
    assert!(
        text.contains("| 0 | - |"),
        "a step without a finding: {text}"
    );
    assert!(text.contains("## Bottleneck per step"));
    // the terminal's table keeps each step's finding on its row, unwrapped
    let console = gatebench_report::scale_console(&scale_report([
        Some(upstream.clone()),
        Some(queue.clone()),
        None,
    ]));
    assert!(
        console.contains("upstream 90 %") && console.contains("queue 80 %"),
        "{console}"
    );
    assert!(
        text.contains(&format!(
            "- **40 rps** — queue 80 %: {}",
            md(&queue.recommendation)
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "- **20 rps** — upstream 90 %: {}",
        md(&upstream.recommendation)
    )));

    assert!(page.contains("<th>bottleneck</th>") && page.contains("<td>queue 80 %</td>"));
    assert!(page.contains(&format!(
        "<li><strong>40 rps</strong> — <strong>queue 80 %</strong>: {}</li>",
        esc(&queue.recommendation)
    )));
    assert!(
        page.contains("id=\"chart-scale-throughput\""),
        "beside the existing charts"
    );
    let figure = chart_of(&page, "scale-bottleneck");
    let parts = |b: &Bottleneck| b.breakdown.iter().filter(|p| p.mean_ms > 0.0).count();
    assert_eq!(
        figure.matches("class=\"bar\"").count(),
        parts(&upstream) + parts(&queue),
        "one segment per part of each step: {figure}"
    );
    assert!(
        figure.contains("<title>40 · queue: 80 ms as measured</title>"),
        "{figure}"
    );
    // one colour per component, the same as in a run's chart
    let run_page = html(&report_of(Some(queue_bound(40.0))));
    let run_figure = chart_of(&run_page, "run-queue-mix-bottleneck");
    assert_eq!(fill_of(figure, "40 · queue"), fill_of(run_figure, "queue"));
    assert_eq!(
        fill_of(figure, "40 · upstream"),
        fill_of(run_figure, "upstream")
    );
    assert_eq!(
        fill_of(figure, "20 · upstream"),
        fill_of(figure, "40 · upstream")
    );
    assert_ne!(
        fill_of(figure, "40 · queue"),
        fill_of(figure, "40 · upstream")
    );
    assert!(
        figure.contains("<title>20 · upstream: 45 ms as measured</title>"),
        "{figure}"
    );
}

#[test]
fn a_scale_report_without_bottlenecks_has_no_list_or_chart() {
    let (text, page) = scale_files(&scale_report([None, None, None]));
    assert!(!text.contains("Bottleneck per step"));
    assert!(!page.contains("Bottleneck per step") && !page.contains("chart-scale-bottleneck"));
    assert!(page.contains("id=\"chart-scale-p95\""));
}
