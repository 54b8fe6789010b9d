//! The `[resources]` table of a scenario file: what to watch, how often, and the
//! thresholds that raise alerts.
//!
//! ```toml
//! [resources]
//! interval = "1s"
//! watch_pids = [4242]
//! watch_processes = ["postgres"]
//! prometheus = { url = "http://127.0.0.1:8080/metrics", series = ["gateway_in_flight"] }
//!
//! [resources.thresholds]
//! system_cpu_percent = { warn = 80, critical = 95 }
//! process_rss_bytes = { warn = 1_000_000_000 }
//! ```

use std::time::Duration;

use gatebench_analysis::{ResourceThresholds, SeriesThresholds};
use serde::{Deserialize, Deserializer};

use crate::prometheus::Selector;

/// The default time between samples.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest time between samples a file may ask for.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// The longest time between samples a file may ask for.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// What the monitor watches and judges.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesConfig {
    /// Whether to sample at all.
    pub enabled: bool,
    /// Time between samples.
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// Local processes to watch by id, besides gatebench's own.
    pub watch_pids: Vec<u32>,
    /// Local processes to watch by name (every process of that name).
    pub watch_processes: Vec<String>,
    /// A Prometheus endpoint to scrape named series from.
    pub prometheus: Option<PrometheusConfig>,
    /// Warning and critical thresholds of system and process figures.
    pub thresholds: ResourceThresholds,
}

impl Default for ResourcesConfig {
    fn default() -> Self {
        ResourcesConfig {
            enabled: true,
            interval: DEFAULT_INTERVAL,
            watch_pids: Vec::new(),
            watch_processes: Vec::new(),
            prometheus: None,
            thresholds: ResourceThresholds::default(),
        }
    }
}

/// A Prometheus endpoint and the series read from it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// The metrics URL (`http://host:port/metrics`); a path alone (`/metrics`) is
    /// taken on the run's target.
    pub url: String,
    /// Series to keep: a metric name, optionally with labels that must match
    /// (`http_requests_total{route="chat"}`). Each label set of a match is its own
    /// series.
    pub series: Vec<String>,
    /// Thresholds by series, keyed as written in `series`.
    #[serde(default)]
    pub thresholds: SeriesThresholds,
}

impl ResourcesConfig {
    /// The first setting that cannot work: its key (under `resources.`) and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.interval > MAX_INTERVAL {
            return Err((
                "interval".into(),
                format!("must be at most 1h, not {}s", self.interval.as_secs()),
            ));
        }
        if self.interval < MIN_INTERVAL {
            return Err((
                "interval".into(),
                format!(
                    "must be at least {}ms, not {}ms",
                    MIN_INTERVAL.as_millis(),
                    self.interval.as_millis()
                ),
            ));
        }
        if let Some(i) = self.watch_pids.iter().position(|p| *p == 0) {
            return Err((format!("watch_pids[{i}]"), "0 is not a process id".into()));
        }
        if let Some(i) = self
            .watch_processes
            .iter()
            .position(|n| n.trim().is_empty())
        {
            return Err((
                format!("watch_processes[{i}]"),
                "a process name cannot be empty".into(),
            ));
        }
        self.thresholds
            .check()
            .map_err(|(key, message)| (format!("thresholds.{key}"), message))?;
        if let Some(p) = &self.prometheus {
            p.check()
                .map_err(|(key, message)| (format!("prometheus.{key}"), message))?;
        }
        Ok(())
    }
}

impl PrometheusConfig {
    /// The first setting that cannot work: its key (under `prometheus.`) and why.
    pub fn check(&self) -> Result<(), (String, String)> {
        let url = self.url.trim();
        if !(url.starts_with('/') || url.starts_with("http://") || url.starts_with("https://")) {
            return Err((
                "url".into(),
                format!("`{url}` is neither an http(s) URL nor a path on the target"),
            ));
        }
        // a full URL is parsed here, as the scraper will, so that `http://` is named
        // at its key rather than when the monitor starts
        if !url.starts_with('/')
            && let Err(e) = reqwest::Url::parse(url)
        {
            return Err(("url".into(), format!("`{url}` is not a URL: {e}")));
        }
        if self.series.is_empty() {
            return Err(("series".into(), "name at least one series".into()));
        }
        for (i, s) in self.series.iter().enumerate() {
            Selector::parse(s).map_err(|e| (format!("series[{i}]"), e))?;
        }
        for (name, level) in &self.thresholds {
            if !self.series.contains(name) {
                return Err((
                    format!("thresholds.\"{name}\""),
                    "is not one of `series`".into(),
                ));
            }
            level
                .check()
                .map_err(|e| (format!("thresholds.\"{name}\""), e))?;
        }
        Ok(())
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    gatebench_distr::parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ResourcesConfig, String> {
        toml::from_str::<ResourcesConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_table_parses_and_checks() {
        let c = parse(
            r#"
            interval = "500ms"
            watch_pids = [1]
            watch_processes = ["postgres"]
            prometheus = { url = "/metrics", series = ["up", "x{a=\"b\"}"], thresholds = { up = { warn = 1 } } }
            [thresholds]
            system_cpu_percent = { warn = 80, critical = 95 }
            process_rss_bytes = { warn = 1_000_000 }
            "#,
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_millis(500));
        assert!(c.check().is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        assert!(
            parse("intervall = \"1s\"")
                .unwrap_err()
                .contains("intervall")
        );
        assert!(
            parse("[thresholds]\nsystem_cpu = { warn = 1 }")
                .unwrap_err()
                .contains("system_cpu")
        );
        assert!(
            parse("[thresholds]\nprocess_threads = { warm = 1 }")
                .unwrap_err()
                .contains("warm")
        );
        let c = parse("interval = \"10ms\"").unwrap();
        assert_eq!(c.check().unwrap_err().0, "interval");
        let c = parse("interval = \"2h\"").unwrap();
        assert_eq!(c.check().unwrap_err().0, "interval");
        let c = parse("prometheus = { url = \"/m\", series = [\"up\"], thresholds = { down = { warn = 1 } } }").unwrap();
        assert_eq!(c.check().unwrap_err().0, "prometheus.thresholds.\"down\"");
        let c = parse("prometheus = { url = \"ftp://x\", series = [\"up\"] }").unwrap();
        assert_eq!(c.check().unwrap_err().0, "prometheus.url");
        // a URL with no host is named at its key, not when the monitor starts
        let c = parse("prometheus = { url = \"http://\", series = [\"up\"] }").unwrap();
        let (key, message) = c.check().unwrap_err();
        assert_eq!(key, "prometheus.url");
        assert!(message.contains("is not a URL"), "{message}");
    }
}
