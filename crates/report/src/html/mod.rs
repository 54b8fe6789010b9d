//! `report.html`: one self-contained page (inline CSS, inline SVG charts, no
//! scripts, fonts, images or other outside resources) with the verdict banner, the
//! checks with pass/fail badges, collapsible evidence per check, recommendations,
//! charts, each run's figures and the environment.
//!
//! Every string that comes from the report is HTML-escaped: check names and
//! evidence come from users' files.

mod runs;
mod scale;
pub(crate) mod stacked;
pub mod svg;

pub use scale::scale_html;

use std::fmt::Write as _;

use crate::escape::{html as esc, slug};
use crate::model::{CheckResult, SuiteReport, Verdict};
use crate::summary::{self, bytes, num, status_word};

const STYLE: &str = include_str!("style.css");

/// The HTML report.
pub fn html(report: &SuiteReport) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>gatebench · {} · {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n",
        esc(&report.suite),
        report.verdict.as_str()
    );
    banner(&mut s, report);
    checks(&mut s, report);
    baseline(&mut s, report);
    evidence(&mut s, report);
    recommendations(&mut s, report);
    charts(&mut s, report);
    runs::runs(&mut s, report);
    environment(&mut s, report);
    let _ = write!(
        s,
        "<footer>gatebench {} · report schema v{} · generated from report.json</footer>\n</main>\n</body>\n</html>\n",
        esc(report.versions.get("gatebench").map_or("", String::as_str)),
        report.schema_version
    );
    s
}

fn banner(s: &mut String, r: &SuiteReport) {
    let class = match r.verdict {
        Verdict::Ready => "ready",
        Verdict::NotReady => "not-ready",
    };
    let line = summary::verdict_line(r);
    let detail = line.split_once(" — ").map_or(line.as_str(), |(_, d)| d);
    let _ = write!(
        s,
        "<header class=\"banner {class}\">\n<div class=\"product\">gatebench readiness report</div>\n<div class=\"verdict\">{}</div>\n<div class=\"line\">{}</div>\n<dl>",
        r.verdict.as_str(),
        esc(detail)
    );
    for (k, v) in [
        ("Suite", r.suite.clone()),
        ("Target", r.target.describe()),
        ("Truth", r.target.truth()),
        ("Seed", r.seed.to_string()),
        ("Time scale", summary::time_scale_line(r)),
        ("Started", r.started_at.clone()),
        ("Duration", format!("{} s", num(r.duration_s))),
        (
            "Checks",
            format!(
                "{} of {} passed",
                r.checks.iter().filter(|c| c.passed).count(),
                r.checks.len()
            ),
        ),
    ] {
        let _ = write!(s, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
    }
    s.push_str("</dl>\n</header>\n<nav><a href=\"#checks\">Checks</a><a href=\"#evidence\">Evidence</a><a href=\"#recommendations\">Recommendations</a><a href=\"#charts\">Charts</a><a href=\"#runs\">Runs</a><a href=\"#environment\">Environment</a></nav>\n");
}

fn baseline(s: &mut String, r: &SuiteReport) {
    let Some(line) = summary::baseline_line(r) else {
        return;
    };
    let _ = write!(
        s,
        "<section id=\"baseline\">\n<h2>Baseline</h2>\n<p>{}</p>\n",
        esc(&line)
    );
    if !r.regressions().is_empty() {
        s.push_str("<ul class=\"regressions\">\n");
        for x in r.regressions() {
            let _ = writeln!(s, "<li>{}</li>", esc(x));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</section>\n");
}

fn result_badge(c: &CheckResult) -> &'static str {
    match status_word(c) {
        "pass" => "<span class=\"badge pass\">PASS</span>",
        "FAIL" => "<span class=\"badge fail\">FAIL</span>",
        _ => "<span class=\"badge warn\">WARN</span>",
    }
}

fn severity_badge(c: &CheckResult) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", c.severity.as_str())
}

fn check_anchor(c: &CheckResult, i: usize) -> String {
    format!("check-{}-{}", i + 1, slug(&c.name))
}

fn checks(s: &mut String, r: &SuiteReport) {
    s.push_str("<section id=\"checks\">\n<h2>Checks</h2>\n");
    if r.checks.is_empty() {
        s.push_str("<p class=\"muted\">No checks ran.</p>\n</section>\n");
        return;
    }
    s.push_str("<table>\n<thead><tr><th>Severity</th><th>Check</th><th>Target</th><th>Measured</th><th>Result</th></tr></thead>\n<tbody>\n");
    for (i, c) in r.checks.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr{}><td>{}</td><td><a class=\"check-link\" href=\"#{}\">{}</a><div class=\"check-name mono\">{}</div></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.passed { "" } else { " class=\"failed\"" },
            severity_badge(c),
            check_anchor(c, i),
            esc(&c.title),
            esc(&c.name),
            lines(
                c.criteria
                    .iter()
                    .map(|k| (format!("{} {}", k.name, k.target), true)),
                &c.target
            ),
            lines(
                c.criteria
                    .iter()
                    .map(|k| (format!("{} {}", k.name, k.measured), k.passed)),
                &c.measured
            ),
            result_badge(c)
        );
    }
    s.push_str("</tbody>\n</table>\n</section>\n");
}

/// One criterion a line (unmet ones marked), or the joined text when there are none.
fn lines(items: impl Iterator<Item = (String, bool)>, fallback: &str) -> String {
    let v: Vec<String> = items
        .map(|(t, met)| {
            if met {
                esc(&t)
            } else {
                format!("<span class=\"unmet\">{}</span>", esc(&t))
            }
        })
        .collect();
    if v.is_empty() {
        esc(fallback)
    } else {
        v.join("<br>")
    }
}

fn evidence(s: &mut String, r: &SuiteReport) {
    s.push_str("<section id=\"evidence\">\n<h2>Evidence</h2>\n");
    if r.checks.is_empty() {
        s.push_str("<p class=\"muted\">No checks ran.</p>\n");
    }
    for (i, c) in r.checks.iter().enumerate() {
        // failures open, so a reviewer sees why without a click
        let _ = write!(
            s,
            "<details class=\"check\" id=\"{}\"{}>\n<summary>{} {} <span class=\"title\">{}</span><span class=\"measured\">{}</span></summary>\n<div class=\"body\">\n",
            check_anchor(c, i),
            if c.passed { "" } else { " open" },
            result_badge(c),
            severity_badge(c),
            esc(&c.title),
            esc(&c.measured)
        );
        if c.criteria.is_empty() {
            s.push_str("<p>Nothing was measured, so the check fails.</p>\n");
        } else {
            s.push_str("<table>\n<thead><tr><th>Criterion</th><th>Target</th><th>Measured</th><th>Source</th><th>Met</th></tr></thead>\n<tbody>\n");
            for k in &c.criteria {
                let _ = writeln!(
                    s,
                    "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    if k.passed { "" } else { " class=\"failed\"" },
                    esc(&k.name),
                    esc(&k.target),
                    esc(&k.measured),
                    k.source.label(),
                    if k.passed {
                        "<span class=\"badge pass\">yes</span>"
                    } else {
                        "<span class=\"badge fail\">no</span>"
                    }
                );
            }
            s.push_str("</tbody>\n</table>\n");
        }
        if !c.evidence.summary.is_empty() {
            let _ = writeln!(
                s,
                "<p class=\"summary-text\">{}</p>",
                esc(&c.evidence.summary)
            );
        }
        if !c.evidence.details.is_null() {
            let json = serde_json::to_string_pretty(&c.evidence.details).unwrap_or_default();
            let _ = writeln!(
                s,
                "<details class=\"raw\"><summary>Structured details (JSON)</summary>\n<pre>{}</pre>\n</details>",
                esc(&json)
            );
        }
        let _ = writeln!(
            s,
            "<p class=\"muted\"><span class=\"mono\">{}</span> · {} · took {} s</p>\n</div>\n</details>",
            esc(&c.name),
            if c.severity.blocks() {
                "blocks the release when it fails"
            } else {
                "a warning only"
            },
            num(c.duration_s)
        );
    }
    s.push_str("</section>\n");
}

fn recommendations(s: &mut String, r: &SuiteReport) {
    s.push_str("<section id=\"recommendations\">\n<h2>Recommendations</h2>\n");
    if r.recommendations.is_empty() {
        s.push_str("<p class=\"muted\">None: no rule fired.</p>\n</section>\n");
        return;
    }
    s.push_str("<ol class=\"recs\">\n");
    for rec in &r.recommendations {
        let _ = writeln!(
            s,
            "<li><span class=\"tag\">{}</span><span class=\"tag\">{}</span>{}<span class=\"figure\">Figure: {}</span></li>",
            esc(&rec.check),
            esc(&rec.rule),
            esc(&rec.message),
            esc(&rec.figure)
        );
    }
    s.push_str("</ol>\n</section>\n");
}

fn charts(s: &mut String, r: &SuiteReport) {
    s.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if r.charts.is_empty() {
        s.push_str("<p class=\"muted\">The suite recorded no suite-level charts; each run's charts are under Runs.</p>\n</section>\n");
        return;
    }
    s.push_str("<div class=\"charts\">\n");
    for c in &r.charts {
        chart_figure(s, c);
    }
    s.push_str("</div>\n</section>\n");
}

pub(super) fn chart_figure(s: &mut String, c: &crate::model::Chart) {
    figure(s, &c.id, &c.title, &svg::chart_svg(c));
}

/// A drawn chart with its caption, anchored at `chart-<id>`.
pub(crate) fn figure(s: &mut String, id: &str, caption: &str, svg: &str) {
    let _ = writeln!(
        s,
        "<figure id=\"chart-{}\"><figcaption>{}</figcaption>{svg}</figure>",
        slug(id),
        esc(caption)
    );
}

fn environment(s: &mut String, r: &SuiteReport) {
    let e = &r.environment;
    s.push_str("<section id=\"environment\">\n<h2>Environment</h2>\n<div class=\"cols\">\n<table class=\"kv\">\n");
    for (k, v) in [
        ("Operating system", e.os.clone()),
        ("Architecture", e.arch.clone()),
        ("Logical CPUs", e.cpus.to_string()),
        ("Memory", bytes(e.memory_bytes)),
        ("Host", e.hostname.clone()),
        ("Seed", r.seed.to_string()),
        ("Target", r.target.describe()),
        ("Truth", r.target.truth()),
        ("Started", r.started_at.clone()),
    ] {
        let _ = writeln!(s, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    s.push_str("</table>\n<table class=\"kv\">\n<thead><tr><th>Component</th><th>Version</th></tr></thead>\n");
    if r.versions.is_empty() {
        s.push_str("<tr><th>Versions</th><td class=\"muted\">not recorded</td></tr>\n");
    }
    for (k, v) in &r.versions {
        let _ = writeln!(
            s,
            "<tr><th>{}</th><td class=\"mono\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    s.push_str("</table>\n</div>\n</section>\n");
}
