//! Run results: the data a load run produces and what reads it.
//!
//! [`RunResults`] is `results.json`: totals, per-kind figures ([`KindResults`]:
//! counts, errors by outcome class, latency and stream percentiles, gateway
//! figures), threshold outcomes ([`ThresholdResult`]), a per-second time series
//! ([`TimePoint`]), every HDR histogram ([`Hist`], V2 in base64) and, when a run
//! keeps them, one [`RequestRecord`] per request; what the resource monitor
//! sampled ([`ResourceResults`]). A [`Store`] holds a run's
//! counters and histograms; [`build()`] turns one into results, and [`merge()`] adds
//! the results of several runs (segments of one load) exactly, through their
//! stores.
//!
//! This crate is data only: the load engine that fills a store, and the thresholds
//! that judge one, are `gatebench-driver`'s, so that whatever reads results (the
//! reports, baselines) does not depend on the engine.

mod bottleneck;
mod build;
mod format;
mod hist;
mod merge;
mod outcome;
mod record;
mod resources;
mod run;
mod segments;
mod store;
mod threshold;
mod timeseries;

pub use build::{RunMeta, build};
pub use format::{fmt_ms, threshold_value, threshold_value_at};
pub use hist::{Hist, HistDecodeError, SIGFIG, Summary, round3};
pub use merge::{MergeError, merge};
pub use outcome::Outcome;
pub use record::{RequestRecord, Usage};
pub use resources::{MonitorOverhead, Problem, ResourceResults, ResourceSeries, ResourceTarget};
pub use run::{
    GatewayResults, HistogramBlob, KindResults, OutcomeResults, RunResults, SCHEMA_VERSION,
    ScenarioResults, SegmentInfo, Totals, UsageTotals, WriteError,
};
pub use segments::{SegmentsError, check_segments};
pub use store::{
    CacheCounts, OutcomeStats, RequestStats, SIMILARITY_SCALE, Store, TOKENS_SCALE, US_TO_MS,
};
pub use threshold::ThresholdResult;
pub use timeseries::{Point, TimePoint};
