//! Live output of a run: progress bars on a terminal and JSON-lines events.
//!
//! Bars (indicatif) show, per scenario, elapsed of planned time, VUs, requests per
//! second, p95 latency of the last second and errors so far. Events go to a file, one
//! JSON object per line: `start`, `stage` (a scenario enters a phase), `snapshot`
//! (each second), `threshold_breach` (a threshold starts failing), what the
//! degradation detector finds as it happens (`degradation`, `anomaly`,
//! `predictive_alert`), resource thresholds the monitor saw crossed
//! (`resource_alert`) and `end`.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::metrics::TimePoint;
use crate::threshold::ThresholdResult;

/// One scenario's line of a snapshot.
#[derive(Clone, Debug)]
pub(crate) struct ScenarioLine {
    pub vus: u64,
    pub rps: f64,
    pub p95_ms: Option<f64>,
    pub sent: u64,
    pub errors: u64,
    pub dropped: u64,
    pub start: Duration,
    pub duration: Duration,
}

/// What the aggregator shows each second.
pub(crate) struct Snapshot<'a> {
    pub elapsed: Duration,
    pub point: &'a TimePoint,
    pub scenarios: &'a [ScenarioLine],
}

/// Progress bars and an events file, each optional.
#[derive(Default)]
pub(crate) struct Reporter {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    events: Option<BufWriter<File>>,
}

impl Reporter {
    /// `bars`: draw progress on stderr; `events`: write JSON lines there.
    pub fn new(
        bars: Option<&[(String, Duration)]>,
        events: Option<&Path>,
    ) -> std::io::Result<Reporter> {
        let events = match events {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                Some(BufWriter::new(File::create(path)?))
            }
            None => None,
        };
        let bars = bars.map(|scenarios| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{prefix:>14.bold} [{bar:28.cyan/blue}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
            let width = scenarios
                .iter()
                .map(|(n, _)| n.len())
                .max()
                .unwrap_or(0)
                .min(24);
            let list = scenarios
                .iter()
                .map(|(name, duration)| {
                    let bar = multi.add(ProgressBar::new(duration.as_millis().max(1) as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(format!("{name:>width$}"));
                    bar
                })
                .collect();
            (multi, list)
        });
        Ok(Reporter { bars, events })
    }

    fn event(&mut self, value: serde_json::Value) {
        if let Some(w) = &mut self.events {
            let ok = serde_json::to_writer(&mut *w, &value).is_ok() && w.write_all(b"\n").is_ok();
            if !ok {
                tracing::warn!("cannot write to the events file; no more events");
                self.events = None;
            }
        }
    }

    fn flush(&mut self) {
        if let Some(w) = &mut self.events {
            let _ = w.flush();
        }
    }

    /// The run starts.
    pub fn start(
        &mut self,
        name: &str,
        seed: u64,
        planned: Duration,
        scenarios: &[(String, String)],
    ) {
        let list: Vec<_> = scenarios
            .iter()
            .map(|(n, e)| json!({"name": n, "executor": e}))
            .collect();
        self.event(json!({"type": "start", "t": 0.0, "name": name, "seed": seed, "planned_s": planned.as_secs_f64(), "scenarios": list}));
        self.flush();
    }

    /// A scenario enters a phase (`waiting`, `running`, `stage N`, `ending`).
    pub fn stage(&mut self, scenario: &str, phase: &str, target: Option<f64>, at: Duration) {
        self.event(json!({"type": "stage", "t": secs(at), "scenario": scenario, "phase": phase, "target": target}));
    }

    /// A threshold starts failing.
    pub fn breach(&mut self, result: &ThresholdResult, at: Duration) {
        self.event(json!({"type": "threshold_breach", "t": secs(at), "key": result.key, "expression": result.expression, "value": result.value, "abort_on_fail": result.abort_on_fail}));
        if let Some((multi, _)) = &self.bars {
            let _ = multi.println(format!(
                "threshold failing: {} {} (value {})",
                result.key,
                result.expression,
                crate::threshold_value(result)
            ));
        }
    }

    /// The degradation detector found something: its own event (`degradation`,
    /// `anomaly` or `predictive_alert`), and a line above the bars for the first two
    /// kinds a person acts on.
    pub fn finding(&mut self, finding: &gatebench_analysis::Finding) {
        if let Ok(value) = serde_json::to_value(finding) {
            self.event(value);
        }
        if let Some((multi, _)) = &self.bars {
            let line = match finding {
                gatebench_analysis::Finding::Anomaly { .. } => None,
                other => Some(format!("degradation detector: {}", other.describe())),
            };
            if let Some(line) = line {
                let _ = multi.println(line);
            }
        }
    }

    /// The resource monitor saw a threshold crossed: a `resource_alert` event and a
    /// line above the bars.
    pub fn resource_alert(&mut self, alert: &gatebench_analysis::ResourceAlert) {
        if let Ok(value) = serde_json::to_value(alert) {
            self.event(value);
            self.flush();
        }
        if let Some((multi, _)) = &self.bars {
            let _ = multi.println(format!("resource alert: {}", alert.describe()));
        }
    }

    /// The run's bottleneck, found when the load ended: a `bottleneck` event (the
    /// finding without the figures it was found from, which are in the results).
    pub fn bottleneck(&mut self, b: &gatebench_analysis::Bottleneck, t: f64) {
        self.event(json!({
            "type": "bottleneck",
            "t": t,
            "load": b.load,
            "unit": b.unit,
            "component": b.component,
            "share": b.share,
            "source": b.source,
            "recommendation": b.recommendation,
        }));
    }

    /// The per-second snapshot.
    pub fn snapshot(&mut self, s: &Snapshot<'_>) {
        self.event(json!({"type": "snapshot", "point": s.point}));
        self.flush();
        if let Some((_, bars)) = &self.bars {
            for (bar, line) in bars.iter().zip(s.scenarios) {
                let own = s.elapsed.saturating_sub(line.start).min(line.duration);
                bar.set_position(own.as_millis() as u64);
                let p95 = line
                    .p95_ms
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}ms"));
                bar.set_message(format!(
                    "{}/{} VUs {} rps {:.1} p95 {} sent {} errors {} dropped {}",
                    fmt_secs(own),
                    fmt_secs(line.duration),
                    line.vus,
                    line.rps,
                    p95,
                    line.sent,
                    line.errors,
                    line.dropped
                ));
            }
        }
    }

    /// The run ended.
    pub fn end(&mut self, summary: serde_json::Value) {
        if let Some((_, bars)) = self.bars.take() {
            for bar in bars {
                bar.finish();
            }
        }
        self.event(summary);
        self.flush();
    }
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn fmt_secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}
