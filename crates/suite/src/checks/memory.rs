//! Memory monitoring: resident memory sampled every second (from the gateway's
//! `/metrics`, `gatebench_process_resident_memory_bytes`) over a soak; after a
//! warm-up (the first third), the least-squares slope must stay under target: a leak
//! shows as steady growth, a cache filling up levels off.
//!
//! On the embedded stack the process holds the driver and the mocks too, so the
//! figure is an upper bound for the gateway alone.

use std::time::{Duration, Instant};

use gatebench_report::{Chart, ChartKind, Evidence, Series};
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion, number};

/// The metric read.
pub const RSS_METRIC: &str = "gatebench_process_resident_memory_bytes";

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let epoch = Instant::now();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let subject = ctx.subject;
    let sample = async {
        let mut samples: Vec<(f64, f64)> = Vec::new();
        loop {
            if let Ok(text) = subject.metrics().await
                && let Some(bytes) = read_metric(&text, RSS_METRIC)
            {
                samples.push((epoch.elapsed().as_secs_f64(), bytes / 1_048_576.0));
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stopped.changed() => break,
            }
        }
        samples
    };
    let drive = async {
        let result = ctx
            .drive(ctx.spec.scenario.as_deref().unwrap_or_default())
            .await;
        let _ = stop.send(true);
        result
    };
    let (samples, results) = tokio::join!(sample, drive);
    let results = results?;
    if samples.len() < 6 {
        return Err(format!(
            "only {} memory samples (does the target serve {RSS_METRIC} on /metrics?)",
            samples.len()
        ));
    }
    let steady = &samples[samples.len() / 3..];
    let slope_per_s = slope(steady);
    let growth = slope_per_s.map(|s| s * 60.0);
    let (start, peak, end) = (
        samples[0].1,
        samples.iter().map(|s| s.1).fold(0.0, f64::max),
        samples.last().map_or(0.0, |s| s.1),
    );
    let criteria = vec![criterion(
        "growth after warm-up",
        growth,
        "MB/min",
        ctx.spec.targets.growth_mb_per_min_max.unwrap_or(10.0),
        false,
        format!(
            "{} over {} samples (start {}, peak {}, end {})",
            growth.map_or("-".into(), |g| number(g, "MB/min")),
            steady.len(),
            number(start, "MB"),
            number(peak, "MB"),
            number(end, "MB")
        ),
    )];
    let chart = Chart {
        id: format!("{}-rss", ctx.spec.name),
        title: "Resident memory over the soak".into(),
        kind: ChartKind::Line,
        x_label: "s".into(),
        y_unit: "MB".into(),
        categories: Vec::new(),
        series: vec![Series {
            name: "RSS".into(),
            points: samples.iter().map(|(t, mb)| [*t, *mb]).collect(),
        }],
        load: None,
    };
    let evidence = Evidence {
        summary: format!(
            "{} requests over {:.0} s; resident memory {} → {} (peak {}), slope after warm-up {}.",
            results.totals.sent,
            results.duration_s,
            number(start, "MB"),
            number(end, "MB"),
            number(peak, "MB"),
            growth.map_or("-".into(), |g| number(g, "MB/min"))
        ),
        details: json!({ "samples_mb": samples, "embedded": ctx.subject.is_embedded() }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(results.name.clone(), results)],
        charts: vec![chart],
        recommendations: Vec::new(),
    })
}

/// A metric's value (the first sample without labels) from Prometheus text.
pub fn read_metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_exact() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| (f64::from(i), 3.0 + 0.5 * f64::from(i)))
            .collect();
        assert!((slope(&points).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(slope(&points[..1]), None);
    }

    #[test]
    fn metrics_are_read_from_prometheus_text() {
        let text = "# HELP x\n# TYPE gatebench_process_resident_memory_bytes gauge\ngatebench_process_resident_memory_bytes 1048576\n";
        assert_eq!(read_metric(text, RSS_METRIC), Some(1_048_576.0));
        assert_eq!(read_metric("other 1\n", RSS_METRIC), None);
    }
}
