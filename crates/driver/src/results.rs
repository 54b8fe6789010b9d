//! Results of a run: the machine-readable `results.json` (schema in
//! `crates/driver/schema/results.schema.json`), defined in `gatebench-results` and
//! re-exported here.

use std::time::Duration;

use serde::Serializer;

pub use gatebench_results::{
    GatewayResults, HistogramBlob, KindResults, MergeError, OutcomeResults, RunMeta, RunResults,
    SCHEMA_VERSION, ScenarioResults, SegmentInfo, SegmentsError, Totals, UsageTotals, WriteError,
    build, check_segments, merge,
};

/// Serialises a duration as its text form (`1.5s`).
pub(crate) fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&gatebench_distr::format_duration(*d))
}
