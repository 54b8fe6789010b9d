//! The runs section of the HTML page: per run, its totals as tiles, a table of key
//! figures per request name, what the resource monitor saw, what held its latency
//! (the bottleneck, with its breakdown drawn), and its latency, throughput, CPU and
//! memory charts.

use std::fmt::Write as _;

use gatebench_results::RunResults;

use super::chart_figure;
use crate::charts::{resource_charts, run_charts};
use crate::escape::{html as esc, slug};
use crate::model::SuiteReport;
use crate::summary::{kind_figures, num, percentiles};

pub(super) fn runs(s: &mut String, r: &SuiteReport) {
    s.push_str("<section id=\"runs\">\n<h2>Runs</h2>\n");
    if r.runs.is_empty() {
        s.push_str("<p class=\"muted\">No scenario ran.</p>\n");
    }
    for (key, run) in &r.runs {
        one_run(s, r, key, run);
    }
    s.push_str("</section>\n");
}

fn one_run(s: &mut String, r: &SuiteReport, key: &str, run: &RunResults) {
    let t = &run.totals;
    let _ = write!(
        s,
        "<details class=\"run\" id=\"run-{}\" open>\n<summary>{}<span class=\"stats\">scenario {} · {} s · {} req/s{}</span></summary>\n<div class=\"body\">\n<div class=\"tiles\">",
        slug(key),
        esc(key),
        esc(&run.name),
        num(run.duration_s),
        num(t.rps),
        if run.aborted {
            format!(
                " · stopped early: {}",
                esc(run.abort_reason.as_deref().unwrap_or("aborted"))
            )
        } else {
            String::new()
        }
    );
    for (k, v, bad) in [
        ("Sent", t.sent.to_string(), false),
        ("OK", t.ok.to_string(), false),
        ("Failed", t.failed.to_string(), t.failed > 0),
        ("Dropped", t.dropped.to_string(), t.dropped > 0),
        ("Requests/s", num(t.rps), false),
    ] {
        let _ = write!(
            s,
            "<div class=\"tile{}\"><div class=\"k\">{k}</div><div class=\"v\">{v}</div></div>",
            if bad { " bad" } else { "" }
        );
    }
    s.push_str("</div>\n");
    let kinds = kind_figures(run);
    if !kinds.is_empty() {
        s.push_str("<table>\n<thead><tr><th>Request</th><th>Kind</th><th class=\"num\">Sent</th><th class=\"num\">Failed</th><th class=\"num\">Error rate</th><th class=\"num\">req/s</th><th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">TTFT p95 ms</th></tr></thead>\n<tbody>\n");
        for k in kinds {
            let [p50, p95, p99] = percentiles(k.latency.as_ref());
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{p50}</td><td class=\"num\">{p95}</td><td class=\"num\">{p99}</td><td class=\"num\">{}</td></tr>",
                esc(&k.request),
                esc(&k.kind),
                k.sent,
                k.failed,
                k.error_rate_pct
                    .map_or("–".to_owned(), |x| format!("{}%", num(x))),
                num(k.rps),
                k.ttft.as_ref().map_or("–".to_owned(), |t| num(t.p95)),
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    if !run.findings.is_empty() {
        s.push_str("<h4>Degradation detector</h4>\n<p class=\"muted\">Found live, each second, against the run's early steady window.</p>\n<ul>\n");
        for f in &run.findings {
            let _ = writeln!(
                s,
                "<li><strong>{}</strong>: {}</li>",
                crate::markdown::finding_kind(f),
                esc(&f.describe())
            );
        }
        s.push_str("</ul>\n");
    }
    crate::resources::html(s, run);
    if let Some(b) = &run.bottleneck {
        crate::bottleneck::html(s, key, b);
    }
    if !t.errors.is_empty() {
        s.push_str("<table>\n<thead><tr><th>Error class</th><th class=\"num\">Count</th><th>What the first answer of the class said</th></tr></thead>\n<tbody>\n");
        for (class, n) in &t.errors {
            let said = run
                .kinds
                .values()
                .find_map(|k| k.error_messages.get(class))
                .map_or("–", String::as_str);
            let _ = writeln!(
                s,
                "<tr><td><span class=\"tag\">{}</span></td><td class=\"num\">{n}</td><td>{}</td></tr>",
                esc(class),
                esc(said)
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    // the runner's own chart of the same id wins (it is drawn under Charts)
    let own: Vec<_> = run_charts(key, run)
        .into_iter()
        .chain(resource_charts(key, run))
        .filter(|c| !r.charts.iter().any(|rc| rc.id == c.id))
        .collect();
    if !own.is_empty() {
        s.push_str("<div class=\"charts\">\n");
        for c in &own {
            chart_figure(s, c);
        }
        s.push_str("</div>\n");
    }
    s.push_str("</div>\n</details>\n");
}
