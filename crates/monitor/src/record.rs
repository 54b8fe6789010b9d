//! What the monitor keeps while it samples: a series per figure with its
//! threshold crossing, the alerts raised, problems met.

use std::collections::HashMap;

use gatebench_analysis::{Crossing, Level, ResourceAlert};
use gatebench_results::{Problem, ResourceSeries};

/// One figure of one target, as sampled.
pub(crate) struct Value<'a> {
    pub target: &'a str,
    pub pid: Option<u32>,
    pub metric: &'a str,
    pub unit: &'static str,
    pub value: f64,
    pub level: Option<Level>,
}

#[derive(Default)]
pub(crate) struct Recorder {
    pub series: Vec<ResourceSeries>,
    crossings: Vec<Option<Crossing>>,
    index: HashMap<(String, Option<u32>, String), usize>,
    pub alerts: Vec<ResourceAlert>,
    pub problems: Vec<Problem>,
}

impl Recorder {
    /// Keeps one value taken `t` seconds into the run; the alert it raises, if any.
    pub fn push(&mut self, t: f64, v: Value<'_>) -> Option<ResourceAlert> {
        let key = (v.target.to_owned(), v.pid, v.metric.to_owned());
        let i = match self.index.get(&key) {
            Some(i) => *i,
            None => {
                self.series.push(ResourceSeries {
                    target: v.target.to_owned(),
                    pid: v.pid,
                    metric: v.metric.to_owned(),
                    unit: v.unit.to_owned(),
                    points: Vec::new(),
                });
                self.crossings.push(v.level.map(Crossing::new));
                self.index.insert(key, self.series.len() - 1);
                self.series.len() - 1
            }
        };
        let value = if v.value.is_finite() {
            round(v.value)
        } else {
            v.value
        };
        // JSON has no NaN or infinity: such a value is judged but not kept
        if value.is_finite() {
            self.series[i].points.push([t, value]);
        }
        let (level, threshold) = self.crossings[i].as_mut()?.push(value)?;
        let alert = ResourceAlert {
            t,
            target: v.target.to_owned(),
            pid: v.pid,
            metric: v.metric.to_owned(),
            level,
            value,
            threshold,
        };
        self.alerts.push(alert.clone());
        Some(alert)
    }

    /// Notes a problem; the first of its kind is logged.
    pub fn problem(&mut self, message: String) {
        match self.problems.iter_mut().find(|p| p.message == message) {
            Some(p) => p.count += 1,
            None => {
                tracing::warn!(problem = %message, "resource monitor");
                self.problems.push(Problem { message, count: 1 });
            }
        }
    }
}

/// Three decimals are plenty for percentages, and bytes are whole.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_per_figure_and_an_alert_per_crossing() {
        let mut r = Recorder::default();
        let level = Some(Level {
            warn: Some(10.0),
            critical: None,
        });
        let v = |value| Value {
            target: "gatebench",
            pid: Some(1),
            metric: "threads",
            unit: "count",
            value,
            level,
        };
        assert!(r.push(1.0, v(5.0)).is_none());
        let alert = r.push(2.0, v(12.0)).unwrap();
        assert_eq!(alert.threshold, 10.0);
        assert!(r.push(3.0, v(13.0)).is_none());
        assert!(r.push(3.0, v(f64::NAN)).is_none());
        assert_eq!(r.series.len(), 1);
        assert_eq!(r.series[0].points.len(), 3);
        assert_eq!(r.alerts.len(), 1);
        r.problem("gone".into());
        r.problem("gone".into());
        assert_eq!(r.problems[0].count, 2);
    }
}
