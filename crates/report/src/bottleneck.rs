//! A bottleneck finding (`gatebench_analysis::bottleneck`) in every rendering that
//! shows one: a run's section (Markdown and HTML: the component, its share of the
//! mean latency, the source, the recommendation, the evidence and the breakdown as
//! a table, with a stacked bar in HTML), and a step test's column, list of
//! recommendations and chart of the breakdown per step. The wording, the rows and
//! the colours are made here once, so the run, suite and scale reports agree.
//!
//! Times are shown as measured; the report states the time scale they ran at.

use std::fmt::Write as _;

use gatebench_analysis::{Bottleneck, Component, ScaleReport};

use crate::escape::{html as esc, markdown as md, slug};
use crate::html::stacked::{self, Bar, Segment};
use crate::html::svg::PALETTE;
use crate::summary::num;

/// The unit of every time shown here.
const UNIT: &str = "ms as measured";

/// What a step test's list of bottlenecks says.
const STEPS_INTRO: &str = "What held the largest share of each step's mean latency (the steps table's bottleneck column), and what to do about it.";

/// The breakdown table's headers.
const HEADERS: [&str; 3] = ["Part", "Mean (ms as measured)", "Share of mean latency"];

/// The order parts are stacked in, so the same part sits at the same height in
/// every bar of a chart.
const STACK_ORDER: [Component; 8] = [
    Component::Upstream,
    Component::Queue,
    Component::Cache,
    Component::Gateway,
    Component::Target,
    Component::Network,
    Component::Cpu,
    Component::Unknown,
];

/// One colour per component in every chart.
fn colour(c: Component) -> &'static str {
    PALETTE[match c {
        Component::Upstream => 0,
        Component::Queue => 1,
        Component::Cache => 2,
        Component::Cpu => 3,
        Component::Gateway => 4,
        Component::Target => 5,
        Component::Unknown => 6,
        Component::Network => 7,
    }]
}

fn pct(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// `queue 80 %`, or the component alone when its share is unknown.
pub(crate) fn label(b: &Bottleneck) -> String {
    match b.share {
        Some(share) => format!("{} {}", b.component.name(), pct(share)),
        None => b.component.name().to_owned(),
    }
}

/// `80 % of mean latency · source: server-timing`: what follows the component.
fn headline(b: &Bottleneck) -> String {
    let share = b.share.map_or_else(
        || "share of mean latency unknown".to_owned(),
        |s| format!("{} of mean latency", pct(s)),
    );
    let source = match b.source.as_str() {
        "server-timing" => "server-timing (the target's own timing headers)",
        "server-timing and books" => {
            "server-timing (the target's own timing headers), the provider's time from the mocks' books"
        }
        "books" => "books (the mocks' books against client time)",
        "none" => "none (no breakdown)",
        other => other,
    };
    format!("{share} · source: {source}")
}

/// The breakdown's rows: part, mean, share.
fn rows(b: &Bottleneck) -> Vec<[String; 3]> {
    b.breakdown
        .iter()
        .map(|p| [p.component.name().to_owned(), num(p.mean_ms), pct(p.share)])
        .collect()
}

/// The evidence, then what could not be gathered.
fn lines(b: &Bottleneck) -> impl Iterator<Item = String> + '_ {
    b.evidence
        .iter()
        .cloned()
        .chain(b.problems.iter().map(|p| format!("not used: {p}")))
}

/// A run's section in `report.md`.
pub(crate) fn markdown(s: &mut String, b: &Bottleneck) {
    let _ = writeln!(
        s,
        "\n#### Bottleneck\n\n**{}** — {}\n\n{}\n",
        b.component.name(),
        md(&headline(b)),
        md(&b.recommendation)
    );
    for e in lines(b) {
        let _ = writeln!(s, "- {}", md(&e));
    }
    let rows = rows(b);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n| {} |\n|---|--:|--:|", HEADERS.join(" | "));
    for row in rows {
        let _ = writeln!(s, "| {} |", row.map(|c| md(&c)).join(" | "));
    }
}

/// A run's section in `report.html`, with its stacked bar; `run_key` names the
/// chart's anchor.
pub(crate) fn html(s: &mut String, run_key: &str, b: &Bottleneck) {
    let _ = writeln!(
        s,
        "<h4>Bottleneck</h4>\n<p><strong>{}</strong> — {}</p>\n<p class=\"summary-text\">{}</p>",
        b.component.name(),
        esc(&headline(b)),
        esc(&b.recommendation)
    );
    if !b.evidence.is_empty() || !b.problems.is_empty() {
        s.push_str("<ul>\n");
        for e in lines(b) {
            let _ = writeln!(s, "<li>{}</li>", esc(&e));
        }
        s.push_str("</ul>\n");
    }
    let rows = rows(b);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<table>\n<thead><tr><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th></tr></thead>\n<tbody>",
        HEADERS[0], HEADERS[1], HEADERS[2]
    );
    for [part, mean, share] in rows {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&part),
            esc(&mean),
            esc(&share)
        );
    }
    s.push_str("</tbody>\n</table>\n");
    let segments: Vec<Segment> = b.breakdown.iter().map(segment).collect();
    let title = format!("{run_key}: mean latency by part");
    crate::html::figure(
        s,
        &format!("run-{}-bottleneck", slug(run_key)),
        &title,
        &stacked::horizontal(&title, UNIT, &segments),
    );
}

fn segment(p: &gatebench_analysis::Part) -> Segment {
    Segment {
        name: p.component.name().to_owned(),
        colour: colour(p.component),
        value: p.mean_ms,
    }
}

/// The steps of a step test that have a finding, with their load in words.
fn step_findings(report: &ScaleReport) -> impl Iterator<Item = (String, &Bottleneck)> {
    report.steps.iter().filter_map(|step| {
        step.bottleneck
            .as_ref()
            .map(|b| (format!("{} {}", num(step.load), report.unit), b))
    })
}

/// A step test's list of each step's bottleneck and recommendation in `scale.md`;
/// nothing when no step has one.
pub(crate) fn steps_markdown(s: &mut String, report: &ScaleReport) {
    let mut found = step_findings(report).peekable();
    if found.peek().is_none() {
        return;
    }
    let _ = writeln!(s, "\n## Bottleneck per step\n\n{STEPS_INTRO}\n");
    for (load, b) in found {
        let _ = writeln!(
            s,
            "- **{}** — {}: {}",
            md(&load),
            md(&label(b)),
            md(&b.recommendation)
        );
    }
}

/// The same list in `scale.html`.
pub(crate) fn steps_html(s: &mut String, report: &ScaleReport) {
    let mut found = step_findings(report).peekable();
    if found.peek().is_none() {
        return;
    }
    let _ = writeln!(
        s,
        "<section id=\"bottlenecks\">\n<h2>Bottleneck per step</h2>\n<p class=\"muted\">{STEPS_INTRO}</p>\n<ul>"
    );
    for (load, b) in found {
        let _ = writeln!(
            s,
            "<li><strong>{}</strong> — <strong>{}</strong>: {}</li>",
            esc(&load),
            esc(&label(b)),
            esc(&b.recommendation)
        );
    }
    s.push_str("</ul>\n</section>\n");
}

/// The step test's chart of each step's mean latency by part, one stacked bar per
/// step; nothing when no step has a breakdown.
pub(crate) fn steps_chart(s: &mut String, report: &ScaleReport) {
    if !report.steps.iter().any(|st| {
        st.bottleneck
            .as_ref()
            .is_some_and(|b| !b.breakdown.is_empty())
    }) {
        return;
    }
    let bars: Vec<Bar> = report
        .steps
        .iter()
        .map(|step| {
            let mut parts: Vec<&gatebench_analysis::Part> =
                step.bottleneck.iter().flat_map(|b| &b.breakdown).collect();
            parts.sort_by_key(|p| STACK_ORDER.iter().position(|c| *c == p.component));
            Bar {
                label: num(step.load),
                segments: parts.into_iter().map(segment).collect(),
            }
        })
        .collect();
    let title = "Mean latency by part per step";
    crate::html::figure(
        s,
        "scale-bottleneck",
        title,
        &stacked::vertical(
            title,
            &format!("load per step ({})", report.unit),
            UNIT,
            &bars,
        ),
    );
}
