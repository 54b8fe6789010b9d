//! The step test's report: `scale.json` (the analysis crate's [`ScaleReport`]),
//! `scale.md` and `scale.html` with two charts per step: successful throughput and
//! p95 latency against the load, the end of the linear range (the knee) and the
//! breaking point drawn as vertical lines.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gatebench_analysis::ScaleReport;

use crate::error::ReportError;
use crate::model::{Chart, ChartKind, Series};
use crate::summary::{ms, num};
use crate::table::{Align, cell, render};

/// File name of the step test's JSON inside its folder.
pub const SCALE_JSON: &str = "scale.json";

/// The files [`write_scale`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleWritten {
    /// `scale.json`.
    pub json: PathBuf,
    /// `scale.md`.
    pub markdown: PathBuf,
    /// `scale.html`.
    pub html: PathBuf,
}

/// A vertical line at `x` from 0 to `top`, as a series named for what it marks.
fn marker(name: String, x: f64, top: f64) -> Series {
    Series {
        name,
        points: vec![[x, 0.0], [x, top]],
    }
}

/// The step test's two charts: successful throughput per step, and p95 latency per
/// step, each with the knee and the breaking point marked when there are any.
pub fn scale_charts(report: &ScaleReport) -> Vec<Chart> {
    let unit = &report.unit;
    let throughput: Vec<[f64; 2]> = report
        .steps
        .iter()
        .map(|s| [s.load, s.throughput])
        .collect();
    let p95: Vec<[f64; 2]> = report
        .steps
        .iter()
        .filter_map(|s| s.p95_ms.map(|p| [s.load, p]))
        .collect();
    let offered: Vec<[f64; 2]> = report.steps.iter().map(|s| [s.load, s.load]).collect();
    let marked = |name: &str, main: Vec<[f64; 2]>, extra: Option<Series>| {
        let top = main.iter().map(|p| p[1]).fold(0.0, f64::max);
        let mut series = vec![Series {
            name: name.to_owned(),
            points: main,
        }];
        series.extend(extra);
        if let Some(l) = report.linear_until {
            series.push(marker(
                format!("knee: linear until {} {unit}", num(l)),
                l,
                top,
            ));
        }
        if let Some(b) = report.breaking_point {
            series.push(marker(format!("breaking point: {} {unit}", num(b)), b, top));
        }
        series
    };
    let x_label = format!("load per step ({unit})");
    // in rate mode the ideal is throughput = offered load: draw it for reference
    let ideal = (report.mode == gatebench_analysis::Mode::Rate).then(|| Series {
        name: "offered rate".to_owned(),
        points: offered,
    });
    vec![
        Chart {
            id: "scale-throughput".to_owned(),
            title: "Successful throughput per step".to_owned(),
            kind: ChartKind::Line,
            x_label: x_label.clone(),
            y_unit: "successful requests/s".to_owned(),
            categories: Vec::new(),
            series: marked("throughput", throughput, ideal),
            load: None,
        },
        Chart {
            id: "scale-p95".to_owned(),
            title: "p95 latency per step (from the intended send time)".to_owned(),
            kind: ChartKind::Line,
            x_label,
            y_unit: "ms".to_owned(),
            categories: Vec::new(),
            series: marked("p95", p95, None),
            load: None,
        },
    ]
}

/// What was run, in one line.
fn setup(report: &ScaleReport) -> String {
    let mut line = format!(
        "{} against {}: {} mode, {} s per step",
        report.scenario,
        report.target,
        report.mode,
        num(report.step_duration_s)
    );
    if let Some(t) = report.time_scale {
        let _ = write!(
            line,
            ", mock delays ×{} (latencies as measured; the SLO judges real-time equivalents)",
            num(t)
        );
    }
    line
}

fn opt_ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), ms)
}

/// The steps as a table: headers and rows, plain text (each rendering escapes).
pub(crate) fn steps_table(report: &ScaleReport) -> (Vec<String>, Vec<Vec<String>>) {
    let headers = [
        format!("load ({})", report.unit),
        "throughput (ok/s)".to_owned(),
        "p50".to_owned(),
        "p95".to_owned(),
        "p99".to_owned(),
        "errors".to_owned(),
        "efficiency".to_owned(),
        "dropped".to_owned(),
        "bottleneck".to_owned(),
    ];
    let rows = report
        .steps
        .iter()
        .map(|s| {
            let mut mark = String::new();
            if report.linear_until == Some(s.load) {
                mark.push_str(" (knee)");
            }
            if report.breaking_point == Some(s.load) {
                mark.push_str(" (break)");
            }
            vec![
                format!("{}{mark}", num(s.load)),
                num(s.throughput),
                opt_ms(s.p50_ms),
                opt_ms(s.p95_ms),
                opt_ms(s.p99_ms),
                format!("{}%", num(s.error_rate * 100.0)),
                s.efficiency.map_or_else(|| "-".to_owned(), num),
                s.dropped.to_string(),
                s.bottleneck
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), crate::bottleneck::label),
            ]
        })
        .collect();
    (headers.to_vec(), rows)
}

fn markdown_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!("| {} |\n|", headers.join(" | "));
    s.push_str(&" ---: |".repeat(headers.len()));
    s.push('\n');
    for row in rows {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

fn found(value: Option<f64>, unit: &str, none: &str) -> String {
    value.map_or_else(|| none.to_owned(), |v| format!("{} {unit}", num(v)))
}

/// `scale.md`.
pub fn scale_markdown(report: &ScaleReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Scalability: {}\n", report.scenario);
    let _ = writeln!(s, "{}\n", setup(report));
    let _ = writeln!(
        s,
        "- **Linear until:** {}",
        found(report.linear_until, &report.unit, "none")
    );
    let _ = writeln!(
        s,
        "- **Breaking point:** {}",
        found(report.breaking_point, &report.unit, "not reached")
    );
    let _ = writeln!(s, "- **Why:** {}\n", report.reason);
    let (headers, rows) = steps_table(report);
    s.push_str(&markdown_table(&headers, &rows));
    let c = &report.criteria;
    let _ = writeln!(
        s,
        "\nEfficiency: throughput gained per unit of load added, relative to the first step's throughput per unit. Linear while ≥ {}; broken when errors pass {}%, throughput gains fall below {}{}.",
        num(c.min_efficiency),
        num(c.max_error_rate * 100.0),
        num(c.stall_efficiency),
        c.slo_p95_ms
            .map_or_else(String::new, |v| format!(" or p95 passes {}", ms(v)))
    );
    crate::bottleneck::steps_markdown(&mut s, report);
    s
}

/// Writes `scale.json`, `scale.md` and `scale.html` into `dir`, creating it.
pub fn write_scale(report: &ScaleReport, dir: &Path) -> Result<ScaleWritten, ReportError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let written = ScaleWritten {
        json: dir.join(SCALE_JSON),
        markdown: dir.join("scale.md"),
        html: dir.join("scale.html"),
    };
    let mut json = serde_json::to_string_pretty(report).map_err(ReportError::Serialise)?;
    json.push('\n');
    for (path, text) in [
        (&written.json, json),
        (&written.markdown, scale_markdown(report)),
        (
            &written.html,
            crate::html::scale_html(report, &setup(report)),
        ),
    ] {
        std::fs::write(path, text).map_err(ReportError::io(path))?;
    }
    Ok(written)
}

/// The console lines of a step test: one per step, then the finding.
pub fn scale_console(report: &ScaleReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}\n", setup(report));
    let (headers, rows) = steps_table(report);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows: Vec<Vec<_>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(cell).collect())
        .collect();
    s.push_str(&render(
        &headers,
        &vec![Align::Right; headers.len()],
        &rows,
        // ten columns with the bottleneck's: a little wider than the suite's
        crate::CONSOLE_WIDTH + 12,
    ));
    let _ = writeln!(
        s,
        "\n  linear until:   {}\n  breaking point: {}\n  {}",
        found(report.linear_until, &report.unit, "none"),
        found(report.breaking_point, &report.unit, "not reached"),
        report.reason
    );
    s
}
