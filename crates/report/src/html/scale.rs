//! `scale.html`: the step test on one self-contained page (the readiness report's
//! style, inline SVG charts, no scripts): the finding, the charts (throughput, p95
//! and, where steps found one, the latency by part behind each step's bottleneck),
//! the steps and each step's bottleneck with its recommendation.

use std::fmt::Write as _;

use gatebench_analysis::ScaleReport;

use super::{STYLE, chart_figure};
use crate::escape::html as esc;
use crate::summary::num;

/// The page; `setup` says what was run, in one line.
pub fn scale_html(report: &ScaleReport, setup: &str) -> String {
    let mut s = String::with_capacity(32 * 1024);
    let unit = &report.unit;
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>gatebench · scale · {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&report.scenario)
    );
    let found = |v: Option<f64>, none: &str| {
        v.map_or_else(|| none.to_owned(), |v| format!("{} {unit}", num(v)))
    };
    let _ = write!(
        s,
        "<section id=\"finding\">\n<h2>Scalability: {}</h2>\n<p class=\"muted\">{}</p>\n<table class=\"kv\">\n<tr><th>Linear until</th><td>{}</td></tr>\n<tr><th>Breaking point</th><td>{}</td></tr>\n<tr><th>Why</th><td>{}</td></tr>\n</table>\n</section>\n",
        esc(&report.scenario),
        esc(setup),
        esc(&found(report.linear_until, "none")),
        esc(&found(report.breaking_point, "not reached")),
        esc(&report.reason)
    );
    s.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n");
    for chart in crate::scale::scale_charts(report) {
        chart_figure(&mut s, &chart);
    }
    crate::bottleneck::steps_chart(&mut s, report);
    s.push_str("</div>\n</section>\n");
    let (headers, rows) = crate::scale::steps_table(report);
    s.push_str("<section id=\"steps\">\n<h2>Steps</h2>\n<table>\n<thead><tr>");
    for h in &headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for row in &rows {
        s.push_str("<tr>");
        for c in row {
            let _ = write!(s, "<td>{}</td>", esc(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n<p class=\"muted\">Throughput counts successful requests per second over each step, its drain included; latency is from the intended send time, every outcome. Efficiency is the throughput gained per unit of load added, relative to the first step's throughput per unit.</p>\n</section>\n");
    crate::bottleneck::steps_html(&mut s, report);
    s.push_str(
        "<footer>gatebench · generated from scale.json</footer>\n</main>\n</body>\n</html>\n",
    );
    s
}
