//! The terminal rendering: the verdict in one line, a table of checks, then the
//! recommendations, each citing the figure behind it.

use crate::model::SuiteReport;
use crate::summary::{self, status_word};
use crate::table::{self, Align, Cell, cell};

/// Width the console rendering keeps to.
pub const CONSOLE_WIDTH: usize = 100;

/// The report for a terminal, at most [`CONSOLE_WIDTH`] columns wide.
pub fn console(report: &SuiteReport) -> String {
    let mut out = String::new();
    out.push_str(&summary::verdict_line(report));
    out.push('\n');
    out.push_str(&format!(
        "suite {} · seed {} · {:.1} s\ntarget {}\ntruth  {}\n",
        report.suite,
        report.seed,
        report.duration_s,
        report.target.describe(),
        report.target.truth()
    ));
    for l in table::wrap(&summary::time_scale_line(report), CONSOLE_WIDTH) {
        out.push_str(&l);
        out.push('\n');
    }
    out.push('\n');
    // a check's line, then one line per criterion, so each target sits beside its
    // measurement without repeating the criterion's name
    let rows: Vec<Vec<Cell>> = report
        .checks
        .iter()
        .map(|c| {
            let mut check = cell(c.title.clone());
            let mut target = cell("");
            let mut measured = cell("");
            let mut result = cell(status_word(c));
            if c.criteria.is_empty() {
                target = cell(c.target.clone());
                measured = cell("nothing measured");
            }
            for k in &c.criteria {
                check.push(format!("· {}", k.name));
                target.push(k.target.clone());
                measured.push(k.measured.clone());
                result.push(if k.passed { "" } else { "✗" }.to_owned());
            }
            vec![cell(c.severity.as_str()), check, target, measured, result]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no checks ran\n");
    } else {
        out.push_str(&table::render(
            &["severity", "check", "target", "measured", "result"],
            &[Align::Left; 5],
            &rows,
            CONSOLE_WIDTH,
        ));
    }
    if let Some(line) = summary::baseline_line(report) {
        out.push('\n');
        for l in table::wrap(&line, CONSOLE_WIDTH) {
            out.push_str(&l);
            out.push('\n');
        }
        for r in report.regressions() {
            for (j, l) in table::wrap(r, CONSOLE_WIDTH - 4).iter().enumerate() {
                out.push_str(if j == 0 { "  ✗ " } else { "    " });
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    if !report.recommendations.is_empty() {
        out.push_str("\nrecommendations\n");
        for (i, r) in report.recommendations.iter().enumerate() {
            let lead = format!("{:>3}. ", i + 1);
            let text = format!("[{}] {} (figure: {})", r.check, r.message, r.figure);
            let indent = " ".repeat(lead.chars().count());
            for (j, l) in table::wrap(&text, CONSOLE_WIDTH - lead.chars().count())
                .iter()
                .enumerate()
            {
                out.push_str(if j == 0 { &lead } else { &indent });
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}
