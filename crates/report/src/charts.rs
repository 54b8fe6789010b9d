//! Charts drawn from each run's per-second time series.
//!
//! The suite runner puts suite-level charts into [`SuiteReport::charts`] (queue wait
//! by priority, cache hit rate over time, cost by provider and model, ...). Latency
//! percentiles, throughput and errors over time exist for every run, so this crate
//! derives them from `timeseries` itself; the HTML page shows them under each run
//! unless `charts` already holds a chart with the same id (a runner that wants
//! different ones can supply them).
//!
//! [`SuiteReport::charts`]: crate::model::SuiteReport::charts

use gatebench_results::RunResults;

use crate::escape::slug;
use crate::model::{Chart, ChartKind, Load, Series};

/// Id of a run's latency-over-time chart.
pub fn latency_chart_id(run_key: &str) -> String {
    format!("run-{}-latency", slug(run_key))
}

/// Id of a run's throughput-and-errors chart.
pub fn throughput_chart_id(run_key: &str) -> String {
    format!("run-{}-throughput", slug(run_key))
}

/// Id of a run's errors-and-drops chart.
pub fn errors_chart_id(run_key: &str) -> String {
    format!("run-{}-errors", slug(run_key))
}

/// Id of a run's resource CPU chart.
pub fn resource_cpu_chart_id(run_key: &str) -> String {
    format!("run-{}-resources-cpu", slug(run_key))
}

/// Id of a run's resident-memory chart.
pub fn resource_memory_chart_id(run_key: &str) -> String {
    format!("run-{}-resources-memory", slug(run_key))
}

/// Charts of what the resource monitor sampled: CPU % of the machine and of each
/// watched process, and the resident memory of each watched process (MB), with a
/// line where each alert was raised. Empty when no monitor ran.
pub fn resource_charts(run_key: &str, run: &RunResults) -> Vec<Chart> {
    let Some(res) = &run.resources else {
        return Vec::new();
    };
    let label = |s: &gatebench_results::ResourceSeries| match s.pid {
        Some(pid) => format!("{} ({pid})", s.target),
        None => s.target.clone(),
    };
    let of = |metric: &str, scale: f64| -> Vec<Series> {
        res.series
            .iter()
            .filter(|s| s.metric == metric && s.target != "prometheus" && !s.points.is_empty())
            .map(|s| Series {
                name: label(s),
                points: s.points.iter().map(|p| [p[0], p[1] / scale]).collect(),
            })
            .collect()
    };
    let markers = |metric: &str, top: f64, scale: f64| -> Vec<Series> {
        res.alerts
            .iter()
            .filter(|a| a.metric == metric)
            .take(3)
            .map(|a| Series {
                name: format!("{} {} at {} s", a.target, a.level.name(), a.t),
                points: vec![[a.t, 0.0], [a.t, top.max(a.value / scale)]],
            })
            .collect()
    };
    let top = |series: &[Series]| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p[1]))
            .fold(0.0, f64::max)
    };
    let chart = |id: String, title: String, unit: &str, series: Vec<Series>| Chart {
        id,
        title,
        kind: ChartKind::Line,
        x_label: "s".to_owned(),
        y_unit: unit.to_owned(),
        categories: Vec::new(),
        series,
        load: None,
    };
    let mut out = Vec::new();
    let mut cpu = of("cpu_percent", 1.0);
    if !cpu.is_empty() {
        let t = top(&cpu);
        cpu.extend(markers("cpu_percent", t, 1.0));
        out.push(chart(
            resource_cpu_chart_id(run_key),
            format!("{run_key}: CPU (system: % of all cores; processes: % of one core)"),
            "%",
            cpu,
        ));
    }
    let mut rss = of("rss_bytes", 1e6);
    if !rss.is_empty() {
        let t = top(&rss);
        rss.extend(markers("rss_bytes", t, 1e6));
        out.push(chart(
            resource_memory_chart_id(run_key),
            format!("{run_key}: resident memory"),
            "MB",
            rss,
        ));
    }
    out
}

/// Vertical lines where the degradation detector found latency rising (the first
/// three), to the top of the run's p99.
fn degradation_markers(run: &RunResults) -> Vec<Series> {
    let top = run
        .timeseries
        .iter()
        .filter_map(|p| p.total.p99_ms)
        .fold(0.0, f64::max);
    run.findings
        .iter()
        .filter_map(|f| match f {
            gatebench_analysis::Finding::Degradation {
                t,
                metric: gatebench_analysis::degradation::Metric::LatencyP95,
                ..
            } => Some(Series {
                name: format!("p95 degradation found at {t} s"),
                points: vec![[*t, 0.0], [*t, top]],
            }),
            _ => None,
        })
        .take(3)
        .collect()
}

/// A run's charts from its time series: latency p50/p95/p99 over time with the
/// active VUs shaded behind, requests per second, and errors and dropped iterations
/// per second when there were any. Empty when the run has no time series.
pub fn run_charts(run_key: &str, run: &RunResults) -> Vec<Chart> {
    if run.timeseries.is_empty() {
        return Vec::new();
    }
    let pick = |f: fn(&gatebench_results::Point) -> Option<f64>| -> Vec<[f64; 2]> {
        run.timeseries
            .iter()
            .filter_map(|p| f(&p.total).map(|y| [p.t, y]))
            .collect()
    };
    let latency = Chart {
        id: latency_chart_id(run_key),
        title: format!("{run_key}: latency over time"),
        kind: ChartKind::Line,
        x_label: "s".to_owned(),
        y_unit: "ms".to_owned(),
        categories: Vec::new(),
        series: [
            ("p50", pick(|p| p.p50_ms)),
            ("p95", pick(|p| p.p95_ms)),
            ("p99", pick(|p| p.p99_ms)),
        ]
        .into_iter()
        .map(|(name, points)| Series {
            name: name.to_owned(),
            points,
        })
        .chain(degradation_markers(run))
        .collect(),
        load: Some(Load {
            name: "active VUs".to_owned(),
            points: pick(|p| Some(p.vus as f64)),
        }),
    };
    let line = |id: String, title: String, unit: &str, series: Vec<(&str, Vec<[f64; 2]>)>| Chart {
        id,
        title,
        kind: ChartKind::Line,
        x_label: "s".to_owned(),
        y_unit: unit.to_owned(),
        categories: Vec::new(),
        series: series
            .into_iter()
            .map(|(name, points)| Series {
                name: name.to_owned(),
                points,
            })
            .collect(),
        load: None,
    };
    // errors get their own axis: next to hundreds of requests a second, a few
    // failures would draw as a flat line at zero
    let throughput = line(
        throughput_chart_id(run_key),
        format!("{run_key}: throughput"),
        "req/s",
        vec![("requests/s", pick(|p| Some(p.rps)))],
    );
    let errors = line(
        errors_chart_id(run_key),
        format!("{run_key}: errors and drops"),
        "per s",
        vec![
            ("errors", pick(|p| Some(p.errors as f64))),
            ("dropped", pick(|p| Some(p.dropped as f64))),
        ],
    );
    let quiet = run
        .timeseries
        .iter()
        .all(|p| p.total.errors == 0 && p.total.dropped == 0);
    if quiet {
        // an all-zero chart says less than the tiles above it
        return vec![latency, throughput];
    }
    vec![latency, throughput, errors]
}
