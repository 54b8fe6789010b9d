//! A run's resources section: per watched target and figure, its mean and peak
//! with a sparkline (Markdown) or the CPU and memory charts (HTML), the alerts
//! raised, and what the monitor itself cost.

use std::fmt::Write as _;

use gatebench_results::{ResourceResults, ResourceSeries, RunResults};

use crate::escape::{html as esc, markdown as md};
use crate::model::Recommendation;
use crate::summary::num;

/// A value in its unit, for people.
pub(crate) fn value(v: f64, unit: &str) -> String {
    match unit {
        "percent" => format!("{}%", num(v)),
        "bytes" => format!("{} MB", num(v / 1e6)),
        "bytes/s" => format!("{} MB/s", num(v / 1e6)),
        _ => num(v),
    }
}

/// The series squeezed into `width` block characters, lowest value to highest.
pub(crate) fn sparkline(points: &[[f64; 2]], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if points.is_empty() || width == 0 {
        return String::new();
    }
    let per = points.len().div_ceil(width);
    let buckets: Vec<f64> = points
        .chunks(per)
        .map(|c| c.iter().map(|p| p[1]).fold(f64::MIN, f64::max))
        .collect();
    let lo = buckets.iter().copied().fold(f64::MAX, f64::min);
    let hi = buckets.iter().copied().fold(f64::MIN, f64::max);
    buckets
        .iter()
        .map(|v| {
            if hi - lo <= f64::EPSILON {
                BARS[0]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn who(s: &ResourceSeries) -> String {
    match s.pid {
        Some(pid) => format!("{} ({pid})", s.target),
        None => s.target.clone(),
    }
}

fn overhead_line(res: &ResourceResults) -> String {
    let o = &res.overhead;
    match o.cpu_percent_of_core {
        Some(pct) => format!(
            "{} samples every {} s; the monitor used {}% of one core ({} CPU s over {} s).",
            o.samples,
            num(res.interval_s),
            num(pct),
            num(o.cpu_s.unwrap_or(0.0)),
            num(o.wall_s)
        ),
        None => format!(
            "{} samples every {} s; this platform does not tell the monitor's CPU time.",
            o.samples,
            num(res.interval_s)
        ),
    }
}

/// One recommendation per target and figure whose threshold was crossed, at the
/// worst level reached, saying what the crossing means for the run.
pub fn resource_recommendations(check: &str, run: &RunResults) -> Vec<Recommendation> {
    let Some(res) = &run.resources else {
        return Vec::new();
    };
    let mut worst: Vec<&gatebench_analysis::ResourceAlert> = Vec::new();
    for a in &res.alerts {
        match worst
            .iter_mut()
            .find(|w| w.target == a.target && w.pid == a.pid && w.metric == a.metric)
        {
            Some(w) if a.level > w.level => *w = a,
            Some(_) => {}
            None => worst.push(a),
        }
    }
    worst
        .into_iter()
        .map(|a| {
            let what = match (a.target.as_str(), a.metric.as_str()) {
                ("system", "cpu_percent") => "The machine ran out of CPU: the load generator and the target competed for cores, so latencies include CPU queueing. Run the driver on another machine, or lower the load.",
                ("gatebench", "cpu_percent") => "gatebench's own process (the driver, and the embedded stack when no --target was given) was busy: its latencies may include its own queueing. Give it more cores or run the target elsewhere.",
                (_, "rss_bytes") | ("system", "memory_percent") => "Memory grew past its limit: look for growth that does not level off over a longer soak (the comprehensive suite's memory check) before raising the limit.",
                (_, "open_files" | "sockets") => "Descriptors piled up: connections that are not pooled or not closed run a process into its open-file limit.",
                ("system", _) => "The machine's traffic passed its limit: figures measured past it say as much about the host as about the target.",
                _ => "A watched figure passed its limit during the run.",
            };
            Recommendation {
                rule: format!("resource-{}", a.metric.replace(['{', '}', '"', '='], "-")),
                check: check.to_owned(),
                message: what.to_owned(),
                figure: a.describe(),
            }
        })
        .collect()
}

/// The section in `report.md`.
pub(crate) fn markdown(s: &mut String, run: &RunResults) {
    let Some(res) = &run.resources else { return };
    let _ = writeln!(s, "\nResources: {}\n", md(&overhead_line(res)));
    let _ = writeln!(s, "| Target | Figure | Mean | Peak | Over time |");
    let _ = writeln!(s, "|---|---|--:|--:|---|");
    for x in &res.series {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            md(&who(x)),
            crate::markdown::code(&x.metric),
            x.mean().map_or("–".to_owned(), |v| value(v, &x.unit)),
            x.max().map_or("–".to_owned(), |v| value(v, &x.unit)),
            sparkline(&x.points, 30)
        );
    }
    if !res.alerts.is_empty() {
        let _ = writeln!(s, "\nResource alerts:\n");
        for a in &res.alerts {
            let _ = writeln!(s, "- {}", md(&a.describe()));
        }
    }
    for p in &res.problems {
        let _ = writeln!(s, "\nMonitor problem ({}×): {}", p.count, md(&p.message));
    }
}

/// The section in `report.html` (the charts are drawn by the caller).
pub(crate) fn html(s: &mut String, run: &RunResults) {
    let Some(res) = &run.resources else { return };
    let _ = writeln!(
        s,
        "<h4>Resources</h4>\n<p class=\"muted\">{}</p>",
        esc(&overhead_line(res))
    );
    if !res.alerts.is_empty() {
        s.push_str("<ul>\n");
        for a in &res.alerts {
            let _ = writeln!(
                s,
                "<li><span class=\"badge {0}\">{0}</span> {1}</li>",
                a.level.name(),
                esc(&a.describe())
            );
        }
        s.push_str("</ul>\n");
    }
    s.push_str("<table>\n<thead><tr><th>Target</th><th>Figure</th><th class=\"num\">Mean</th><th class=\"num\">Peak</th></tr></thead>\n<tbody>\n");
    for x in &res.series {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&who(x)),
            esc(&x.metric),
            x.mean().map_or("–".to_owned(), |v| value(v, &x.unit)),
            x.max().map_or("–".to_owned(), |v| value(v, &x.unit)),
        );
    }
    s.push_str("</tbody>\n</table>\n");
    for p in &res.problems {
        let _ = writeln!(
            s,
            "<p class=\"muted\">Monitor problem ({}×): {}</p>",
            p.count,
            esc(&p.message)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_lowest_to_highest() {
        let pts: Vec<[f64; 2]> = (0..8).map(|i| [f64::from(i), f64::from(i)]).collect();
        assert_eq!(sparkline(&pts, 8), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&pts, 4).chars().count(), 4);
        assert_eq!(sparkline(&[[0.0, 5.0], [1.0, 5.0]], 10), "▁▁");
        assert_eq!(sparkline(&[], 10), "");
    }
}
