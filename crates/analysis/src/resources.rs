//! Resource thresholds and when a sampled resource crosses one.
//!
//! Each watched series (a system figure, a figure of one watched process, a scraped
//! Prometheus series) has a [`Crossing`] that is fed one value per sample. It keeps
//! a level (ok, warn, critical) and says something only when the level rises: a
//! value at or above `warn` (or `critical`) raises it, and it falls back only once
//! the value is [`HYSTERESIS`] below the threshold it crossed, so a value hovering
//! at the threshold fires once, not every sample. A level that fell back may fire
//! again on the next crossing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How far below a threshold (as a share of it) a value must fall before the
/// level drops back and the threshold may fire again.
pub const HYSTERESIS: f64 = 0.05;

/// The warning and critical thresholds of one resource (either may be absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Value from which the resource is in warning.
    pub warn: Option<f64>,
    /// Value from which the resource is critical.
    pub critical: Option<f64>,
}

impl Level {
    /// Why these thresholds cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [("warn", self.warn), ("critical", self.critical)] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(format!("`{name}` must be a number of 0 or more, not {v}"));
            }
        }
        match (self.warn, self.critical) {
            (None, None) => Err("give `warn`, `critical` or both".to_owned()),
            (Some(w), Some(c)) if w > c => {
                Err(format!("`warn` ({w}) must not be above `critical` ({c})"))
            }
            _ => Ok(()),
        }
    }
}

/// Thresholds per resource, as in a scenario's `[resources.thresholds]`. System
/// figures are judged once; process figures on every watched process on its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceThresholds {
    /// CPU of the whole machine, % of all cores.
    pub system_cpu_percent: Option<Level>,
    /// Memory in use, % of the machine's.
    pub system_memory_percent: Option<Level>,
    /// Network bytes received per second (every interface but loopback).
    pub system_net_rx_bytes_per_s: Option<Level>,
    /// Network bytes sent per second (every interface but loopback).
    pub system_net_tx_bytes_per_s: Option<Level>,
    /// Disk bytes read per second.
    pub system_disk_read_bytes_per_s: Option<Level>,
    /// Disk bytes written per second.
    pub system_disk_write_bytes_per_s: Option<Level>,
    /// CPU of a watched process, % of one core (above 100 on several cores).
    pub process_cpu_percent: Option<Level>,
    /// Resident memory of a watched process, bytes.
    pub process_rss_bytes: Option<Level>,
    /// Threads of a watched process.
    pub process_threads: Option<Level>,
    /// Open file descriptors of a watched process (sockets included).
    pub process_open_files: Option<Level>,
    /// Open sockets of a watched process.
    pub process_sockets: Option<Level>,
}

impl ResourceThresholds {
    /// Every threshold given, by the name of the metric it judges (`cpu_percent`,
    /// `rss_bytes`, ...) and the kind of target it applies to (`system` or
    /// `process`).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, Level)> + '_ {
        [
            ("system", "cpu_percent", self.system_cpu_percent),
            ("system", "memory_percent", self.system_memory_percent),
            (
                "system",
                "net_rx_bytes_per_s",
                self.system_net_rx_bytes_per_s,
            ),
            (
                "system",
                "net_tx_bytes_per_s",
                self.system_net_tx_bytes_per_s,
            ),
            (
                "system",
                "disk_read_bytes_per_s",
                self.system_disk_read_bytes_per_s,
            ),
            (
                "system",
                "disk_write_bytes_per_s",
                self.system_disk_write_bytes_per_s,
            ),
            ("process", "cpu_percent", self.process_cpu_percent),
            ("process", "rss_bytes", self.process_rss_bytes),
            ("process", "threads", self.process_threads),
            ("process", "open_files", self.process_open_files),
            ("process", "sockets", self.process_sockets),
        ]
        .into_iter()
        .filter_map(|(kind, metric, level)| level.map(|l| (kind, metric, l)))
    }

    /// The threshold of `metric` on a target of `kind` (`system` or `process`).
    pub fn get(&self, kind: &str, metric: &str) -> Option<Level> {
        self.iter()
            .find(|(k, m, _)| *k == kind && *m == metric)
            .map(|(_, _, l)| l)
    }

    /// The first threshold that cannot work: its key and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (kind, metric, level) in self.iter() {
            level.check().map_err(|e| (format!("{kind}_{metric}"), e))?;
        }
        Ok(())
    }
}

/// Thresholds on scraped Prometheus series, by series name.
pub type SeriesThresholds = BTreeMap<String, Level>;

/// How bad a resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Below every threshold.
    Ok,
    /// At or above `warn`.
    Warn,
    /// At or above `critical`.
    Critical,
}

impl Severity {
    /// Lowercase name (`ok`, `warn`, `critical`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warn => "warn",
            Severity::Critical => "critical",
        }
    }
}

/// A resource crossed one of its thresholds: the `resource_alert` event and an
/// entry of the results' `resources.alerts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "resource_alert")]
pub struct ResourceAlert {
    /// Seconds since the run started.
    pub t: f64,
    /// What was watched: `system`, a process (`gatebench`, `postgres`, ...) or
    /// `prometheus`.
    pub target: String,
    /// The process id, for a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The figure (`cpu_percent`, `rss_bytes`, a Prometheus series, ...).
    pub metric: String,
    /// `warn` or `critical`.
    pub level: Severity,
    /// The value sampled.
    pub value: f64,
    /// The threshold it reached.
    pub threshold: f64,
}

impl ResourceAlert {
    /// One line for people.
    pub fn describe(&self) -> String {
        let target = match self.pid {
            Some(pid) => format!("{} (pid {pid})", self.target),
            None => self.target.clone(),
        };
        format!(
            "{} {} at {:.1}s: {} = {} (threshold {})",
            target,
            self.level.name(),
            self.t,
            self.metric,
            in_unit(self.value, &self.metric),
            in_unit(self.threshold, &self.metric)
        )
    }
}

/// A value in the unit its metric's name ends with.
fn in_unit(v: f64, metric: &str) -> String {
    let (v, unit) = if metric.ends_with("_bytes_per_s") {
        (v / 1e6, " MB/s")
    } else if metric.ends_with("_bytes") {
        (v / 1e6, " MB")
    } else if metric.ends_with("_percent") {
        (v, "%")
    } else {
        (v, "")
    };
    let text = if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    format!("{text}{unit}")
}

/// The level of one series, fed a value per sample.
#[derive(Clone, Debug)]
pub struct Crossing {
    level: Level,
    now: Severity,
}

impl Crossing {
    /// A series judged by `level`, starting ok.
    pub fn new(level: Level) -> Crossing {
        Crossing {
            level,
            now: Severity::Ok,
        }
    }

    /// The level now.
    pub fn severity(&self) -> Severity {
        self.now
    }

    /// Takes one value; returns the level reached and its threshold when the level
    /// rose (ok to warn, ok or warn to critical), and nothing otherwise.
    pub fn push(&mut self, value: f64) -> Option<(Severity, f64)> {
        if !value.is_finite() {
            return None;
        }
        let reached = if self.level.critical.is_some_and(|c| value >= c) {
            Severity::Critical
        } else if self.level.warn.is_some_and(|w| value >= w) {
            Severity::Warn
        } else {
            Severity::Ok
        };
        if reached > self.now {
            self.now = reached;
            let threshold = match reached {
                Severity::Critical => self.level.critical,
                _ => self.level.warn,
            };
            return threshold.map(|t| (reached, t));
        }
        // falling back needs the value clearly below the threshold of the level held
        while self.now > Severity::Ok {
            let held = match self.now {
                Severity::Critical => self.level.critical,
                _ => self.level.warn,
            };
            match held {
                Some(t) if value < t * (1.0 - HYSTERESIS) => {
                    self.now = match self.now {
                        Severity::Critical => Severity::Warn,
                        _ => Severity::Ok,
                    };
                }
                Some(_) => break,
                // warn not given: critical falls straight back to ok
                None => self.now = Severity::Ok,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(warn: Option<f64>, critical: Option<f64>) -> Crossing {
        Crossing::new(Level { warn, critical })
    }

    #[test]
    fn fires_once_per_crossing_not_per_sample() {
        let mut c = levels(Some(80.0), Some(95.0));
        let fired: Vec<_> = [10.0, 81.0, 85.0, 79.0, 90.0, 96.0, 99.0, 96.0]
            .into_iter()
            .filter_map(|v| c.push(v))
            .collect();
        assert_eq!(
            fired,
            vec![(Severity::Warn, 80.0), (Severity::Critical, 95.0)]
        );
    }

    #[test]
    fn hovering_at_the_threshold_does_not_refire() {
        let mut c = levels(Some(100.0), None);
        assert_eq!(c.push(100.0), Some((Severity::Warn, 100.0)));
        for v in [99.0, 100.5, 96.0, 101.0] {
            assert_eq!(c.push(v), None, "{v} is within the hysteresis band");
        }
        // clearly below, then above again: a new crossing
        assert_eq!(c.push(94.0), None);
        assert_eq!(c.severity(), Severity::Ok);
        assert_eq!(c.push(100.0), Some((Severity::Warn, 100.0)));
    }

    #[test]
    fn a_jump_straight_to_critical_fires_critical_only() {
        let mut c = levels(Some(1.0), Some(2.0));
        assert_eq!(c.push(5.0), Some((Severity::Critical, 2.0)));
        // dropping to warn says nothing; dropping below warn and rising refires warn
        assert_eq!(c.push(1.5), None);
        assert_eq!(c.severity(), Severity::Warn);
        assert_eq!(c.push(0.5), None);
        assert_eq!(c.push(1.2), Some((Severity::Warn, 1.0)));
    }

    #[test]
    fn critical_only_falls_back_to_ok() {
        let mut c = levels(None, Some(10.0));
        assert_eq!(c.push(12.0), Some((Severity::Critical, 10.0)));
        assert_eq!(c.push(1.0), None);
        assert_eq!(c.severity(), Severity::Ok);
        assert_eq!(c.push(f64::NAN), None);
    }

    #[test]
    fn levels_that_cannot_work_are_refused() {
        assert!(Level::default().check().is_err());
        let inverted = Level {
            warn: Some(5.0),
            critical: Some(1.0),
        };
        assert!(inverted.check().unwrap_err().contains("above"));
        let negative = Level {
            warn: Some(-1.0),
            critical: None,
        };
        assert!(negative.check().is_err());
        let t = ResourceThresholds {
            process_rss_bytes: Some(inverted),
            ..ResourceThresholds::default()
        };
        assert_eq!(t.check().unwrap_err().0, "process_rss_bytes");
    }

    proptest::proptest! {
        /// Whatever the values, an alert's value reached its threshold, and a level
        /// fires again only after a value fell clearly below its threshold.
        #[test]
        fn a_level_refires_only_after_falling_clearly_below(
            values in proptest::collection::vec(0.0f64..200.0, 0..200)
        ) {
            let (warn, critical) = (80.0, 95.0);
            let mut c = levels(Some(warn), Some(critical));
            let mut last_fire: [Option<usize>; 2] = [None, None];
            for (i, v) in values.iter().enumerate() {
                if let Some((level, threshold)) = c.push(*v) {
                    proptest::prop_assert!(*v >= threshold);
                    let slot = usize::from(level == Severity::Critical);
                    if let Some(prev) = last_fire[slot] {
                        let cleared = values[prev + 1..i]
                            .iter()
                            .any(|x| *x < threshold * (1.0 - HYSTERESIS));
                        proptest::prop_assert!(cleared, "{level:?} refired at {i} without clearing");
                    }
                    last_fire[slot] = Some(i);
                }
            }
        }
    }

    #[test]
    fn the_alert_is_a_tagged_event() {
        let a = ResourceAlert {
            t: 1.5,
            target: "gatebench".into(),
            pid: Some(7),
            metric: "rss_bytes".into(),
            level: Severity::Warn,
            value: 2e6,
            threshold: 1e6,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["type"], "resource_alert");
        assert_eq!(v["level"], "warn");
        let back: ResourceAlert = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
