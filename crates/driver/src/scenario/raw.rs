//! The scenario file exactly as written: serde structs that reject unknown keys.
//!
//! Validation that needs more than one field (which executor takes which option, a
//! catalog that must exist) happens in [`super::load`] and [`super::request`], which
//! turn these into the checked types the engine runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gatebench_distr::{Delay, parse_duration};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

/// A whole scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub name: Option<String>,
    #[allow(dead_code)]
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub load: Option<Spanned<RawLoad>>,
    #[serde(default)]
    pub requests: Vec<Spanned<RawRequest>>,
    #[serde(default)]
    pub scenarios: BTreeMap<String, Spanned<RawScenario>>,
    #[serde(default)]
    pub thresholds: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    pub degradation: Option<Spanned<gatebench_analysis::DegradationConfig>>,
    pub resources: Option<Spanned<gatebench_monitor::ResourcesConfig>>,
}

/// One entry of `[scenarios.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub load: Spanned<RawLoad>,
    #[serde(default)]
    pub requests: Vec<Spanned<RawRequest>>,
}

/// `[load]`: every option of every executor; [`super::load`] checks which apply.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    pub executor: String,
    pub rate: Option<f64>,
    pub start_rate: Option<f64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub time_unit: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub duration: Option<Duration>,
    pub stages: Option<Vec<RawStage>>,
    pub vus: Option<u32>,
    pub start_vus: Option<u32>,
    pub max_vus: Option<u32>,
    pub iterations: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_duration: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub max_lateness: Option<Duration>,
    pub think_time: Option<Delay>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub graceful_stop: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub start_time: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

/// One stage of a ramping executor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    #[serde(deserialize_with = "duration")]
    pub duration: Duration,
    pub target: f64,
}

/// One `[[requests]]` entry: options of every kind; [`super::request`] checks which apply.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    pub name: String,
    pub kind: String,
    pub weight: Option<f64>,
    pub model: Option<String>,
    pub prompts: Option<PathBuf>,
    pub texts: Option<PathBuf>,
    pub profiles: Option<PathBuf>,
    pub zipf: Option<f64>,
    pub stream: Option<bool>,
    pub include_usage: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub system: Option<String>,
    pub dimensions: Option<u32>,
    pub encoding_format: Option<String>,
    pub voice_id: Option<String>,
    pub output_format: Option<String>,
    pub chunk_words: Option<usize>,
    pub turns: Option<u32>,
    pub tools: Option<PathBuf>,
    pub tool_outputs: Option<PathBuf>,
    pub duration_seconds: Option<f64>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub priority: Option<String>,
    pub api_key: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}
