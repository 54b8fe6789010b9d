//! Results of a run: the machine-readable `results.json` (schema in
//! `crates/driver/schema/results.schema.json`).
//!
//! Stable fields: `totals`, `kinds.<request name>` (counts, errors by class, latency
//! and stream percentiles, gateway figures), `thresholds`, `timeseries`, and
//! `histograms` (every HDR histogram, V2 encoding in base64) so that results of several
//! runs can be merged exactly ([`crate::merge()`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::hist::Summary;
use crate::merge::{self, MergeError};
use crate::record::RequestRecord;
use crate::store::Store;
use crate::threshold::ThresholdResult;
use crate::timeseries::TimePoint;

/// Version of the results format.
pub const SCHEMA_VERSION: u32 = 1;

/// Totals of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Requests sent (`ok + failed + interrupted`).
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed by the target, any class.
    pub failed: u64,
    /// Still in flight when the run's grace period ran out: cut off by the run, not
    /// failed by the target (not in `failed` nor in error rates).
    #[serde(default)]
    pub interrupted: u64,
    /// Iterations dropped for want of a free VU (never sent).
    pub dropped: u64,
    /// Requests sent per second of run time.
    pub rps: f64,
    /// Failed requests by outcome class.
    pub errors: BTreeMap<String, u64>,
}

/// One scenario's totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResults {
    /// Executor name.
    pub executor: String,
    /// Requests sent.
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed by the target.
    pub failed: u64,
    /// Cut off at the run's end.
    #[serde(default)]
    pub interrupted: u64,
    /// Dropped.
    pub dropped: u64,
}

/// Count and latency of one outcome class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeResults {
    /// Requests with this outcome.
    pub count: u64,
    /// Their latency from the intended time, ms.
    pub latency_ms: Option<Summary>,
}

/// Token usage summed over the responses that carried it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Responses that carried usage.
    pub responses: u64,
}

/// What the gateway's headers said, summed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayResults {
    /// `x-gatebench-cache` values.
    pub cache: BTreeMap<String, u64>,
    /// hits ÷ (hits + misses).
    pub cache_hit_rate: Option<f64>,
    /// Similarity of hits.
    pub similarity: Option<Summary>,
    /// Sum of `x-gatebench-cost-usd`, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_usd: Decimal,
    /// Largest single cost, exact.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_max_usd: Decimal,
    /// Responses that carried a cost.
    pub cost_responses: u64,
    /// Responses by provider.
    pub providers: BTreeMap<String, u64>,
    /// Attempts per request.
    pub attempts: Option<Summary>,
    /// `server-timing` parts, ms.
    pub server_timing_ms: BTreeMap<String, Summary>,
}

/// Everything about one request name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KindResults {
    /// Scenario.
    pub scenario: String,
    /// Kind name.
    pub kind: String,
    /// Requests sent.
    pub sent: u64,
    /// Succeeded.
    pub ok: u64,
    /// Failed by the target.
    pub failed: u64,
    /// Cut off at the run's end (not failed by the target).
    #[serde(default)]
    pub interrupted: u64,
    /// Dropped.
    pub dropped: u64,
    /// Failed by outcome class.
    pub errors: BTreeMap<String, u64>,
    /// What the first error answer of each class said (its message, shortened).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_messages: BTreeMap<String, String>,
    /// Latency from the intended send time (all outcomes), ms.
    pub latency_ms: Option<Summary>,
    /// Latency from the actual send time, ms.
    pub latency_uncorrected_ms: Option<Summary>,
    /// Time to response headers, ms.
    pub ttfb_ms: Option<Summary>,
    /// Time to first token (streams), ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ttft_ms: Option<Summary>,
    /// Inter-token latency (streams), ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub itl_ms: Option<Summary>,
    /// Completion tokens per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tokens_per_s: Option<Summary>,
    /// Response body bytes.
    pub response_bytes: Option<Summary>,
    /// Per outcome class.
    pub outcomes: BTreeMap<String, OutcomeResults>,
    /// Usage the responses carried.
    pub usage: UsageTotals,
    /// TTS characters billed (`character-cost`).
    pub tts_characters: u64,
    /// Gateway figures, when its headers were present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gateway: Option<GatewayResults>,
}

/// One serialised histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramBlob {
    /// Request name.
    pub request: String,
    /// Outcome class; `null` for request-level histograms (gateway figures).
    pub outcome: Option<String>,
    /// `latency`, `latency_uncorrected`, `ttfb`, `ttft`, `itl`, `tokens_per_s`, `bytes`,
    /// `similarity`, `attempts` or `server_timing.<part>`.
    pub metric: String,
    /// Unit of the raw values: `us`, `tokens_per_s_x100`, `bytes`, `similarity_x1000`, `count`.
    pub unit: String,
    /// HDR histogram, V2 encoding, base64.
    pub hdr: String,
}

/// Which execution segment of a load a run was (`gatebench run --segment I/N`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Index, from 0.
    pub index: u32,
    /// Number of segments of the load.
    pub count: u32,
    /// Digest of what the whole load is (scenario file, seed, duration): segments
    /// with different plans are parts of different loads and never merge.
    pub plan: String,
}

/// The results of one run (or of several, merged).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    /// Format version.
    pub schema_version: u32,
    /// Scenario file name.
    pub name: String,
    /// Scenario file path.
    pub scenario_file: Option<String>,
    /// Seed used.
    pub seed: u64,
    /// Start, RFC 3339.
    pub started_at: String,
    /// Run length, seconds.
    pub duration_s: f64,
    /// Planned length, seconds.
    pub planned_duration_s: f64,
    /// The mocks' time scale behind the target (their delays ×this), when known:
    /// the embedded stack's; `null` for a target whose mocks keep their own.
    /// Latency thresholds judge real-time equivalents (measured ÷ time scale).
    #[serde(default)]
    pub time_scale: Option<f64>,
    /// The execution segment this run was; absent for a whole run (or a merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentInfo>,
    /// Stopped early (a threshold with `abort_on_fail`, or cancelled).
    pub aborted: bool,
    /// Why it stopped early.
    pub abort_reason: Option<String>,
    /// Totals.
    pub totals: Totals,
    /// Per scenario.
    pub scenarios: BTreeMap<String, ScenarioResults>,
    /// Per request name.
    pub kinds: BTreeMap<String, KindResults>,
    /// Threshold outcomes.
    pub thresholds: Vec<ThresholdResult>,
    /// One point per second.
    pub timeseries: Vec<TimePoint>,
    /// Every histogram.
    pub histograms: Vec<HistogramBlob>,
    /// What the degradation detector found during the run, in order: latency
    /// rising, throughput falling or errors rising against the early steady window,
    /// anomalies, predictive alerts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<gatebench_analysis::Finding>,
    /// Which component held the run's latency, with the evidence and a
    /// recommendation; absent for a run that answered nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bottleneck: Option<gatebench_analysis::Bottleneck>,
    /// What the resource monitor sampled (system, processes, Prometheus series),
    /// the thresholds crossed and the monitor's own cost (in a merge, every run's
    /// samples, named after the run); absent when no monitor ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::ResourceResults>,
    /// One record per request, when asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub requests: Option<Vec<RequestRecord>>,
}

/// The results file cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl RunResults {
    /// Whether every threshold passed (and there was no abort).
    pub fn passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed) && !self.thresholds.iter().any(|t| t.aborted)
    }

    /// Writes `DIR/results.json` (creating `DIR`) and returns its path.
    pub fn write_json(&self, dir: &Path) -> Result<PathBuf, WriteError> {
        let path = dir.join("results.json");
        let err = |source| WriteError {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        std::fs::write(&path, text).map_err(err)?;
        Ok(path)
    }

    /// Reads a results file.
    pub fn read_json(path: &Path) -> Result<RunResults, WriteError> {
        let err = |source| WriteError {
            path: path.to_owned(),
            source,
        };
        let text = std::fs::read(path).map_err(err)?;
        serde_json::from_slice(&text)
            .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }

    /// Rebuilds the histograms and counters (for merging or re-evaluating thresholds).
    /// A corrupt document (a histogram that does not decode, a length of time no
    /// run has) is an error that names what is wrong in it.
    pub fn store(&self) -> Result<Store, MergeError> {
        merge::store_of(self)
    }

    /// How long the run lasted (`duration_s`), or why the file's figure is no
    /// length of time.
    pub fn elapsed(&self) -> Result<Duration, MergeError> {
        merge::seconds("duration_s", self.duration_s)
    }

    /// How long the run was planned to last (`planned_duration_s`), or why the
    /// file's figure is no length of time.
    pub fn planned(&self) -> Result<Duration, MergeError> {
        merge::seconds("planned_duration_s", self.planned_duration_s)
    }

    /// The `end` event of the events file.
    pub fn end_event(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "end",
            "t": self.duration_s,
            "totals": self.totals,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
            "thresholds_passed": self.passed(),
            "thresholds": self.thresholds,
        })
    }
}
