//! What the resource monitor sampled during a run: a series per watched figure,
//! the thresholds crossed, and what the monitor itself cost.

use gatebench_analysis::ResourceAlert;
use serde::{Deserialize, Serialize};

/// The `resources` section of `results.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceResults {
    /// Seconds between samples.
    pub interval_s: f64,
    /// The machine's cores (a process's `cpu_percent` is of one core, the
    /// system's of all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<usize>,
    /// What was watched.
    pub targets: Vec<ResourceTarget>,
    /// One series per watched figure, in target order.
    pub series: Vec<ResourceSeries>,
    /// Thresholds crossed, in order (the `resource_alert` events).
    #[serde(default)]
    pub alerts: Vec<ResourceAlert>,
    /// What sampling cost.
    pub overhead: MonitorOverhead,
    /// Problems met while sampling (a process gone, a scrape that failed), each
    /// once with how many times it happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One watched target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceTarget {
    /// `system`, a process name (gatebench's own is `gatebench`) or `prometheus`.
    pub name: String,
    /// `system`, `process` or `prometheus`.
    pub kind: String,
    /// The process id, for a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The scrape URL, for Prometheus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The samples of one figure of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceSeries {
    /// The target's name (as in [`ResourceTarget::name`]).
    pub target: String,
    /// The process id, for a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The figure: `cpu_percent`, `memory_percent`, `memory_used_bytes`,
    /// `net_rx_bytes_per_s`, `net_tx_bytes_per_s`, `disk_read_bytes_per_s`,
    /// `disk_write_bytes_per_s` (system); `cpu_percent`, `rss_bytes`, `threads`,
    /// `open_files`, `sockets` (process); a series name with its labels
    /// (Prometheus).
    pub metric: String,
    /// `percent`, `bytes`, `bytes/s`, `count` or (Prometheus) `value`.
    pub unit: String,
    /// `[t, value]` pairs: seconds since the run started, the value sampled then.
    pub points: Vec<[f64; 2]>,
}

impl ResourceSeries {
    /// The largest value sampled.
    pub fn max(&self) -> Option<f64> {
        self.points.iter().map(|p| p[1]).reduce(f64::max)
    }

    /// The mean of the values sampled.
    pub fn mean(&self) -> Option<f64> {
        (!self.points.is_empty())
            .then(|| self.points.iter().map(|p| p[1]).sum::<f64>() / self.points.len() as f64)
    }
}

/// The monitor's own cost, measured on its thread.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorOverhead {
    /// Samples taken.
    pub samples: u64,
    /// Seconds the monitor ran.
    pub wall_s: f64,
    /// CPU seconds the monitor's thread used (null where the platform does not
    /// tell a thread's CPU time).
    pub cpu_s: Option<f64>,
    /// `cpu_s ÷ wall_s`, as % of one core.
    pub cpu_percent_of_core: Option<f64>,
}

/// A problem met while sampling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// What went wrong (the first time).
    pub message: String,
    /// How many samples met it.
    pub count: u64,
}

impl ResourceResults {
    /// The series of `metric` of the target named `target`.
    pub fn series_of(&self, target: &str, metric: &str) -> Option<&ResourceSeries> {
        self.series
            .iter()
            .find(|s| s.target == target && s.metric == metric)
    }
}
