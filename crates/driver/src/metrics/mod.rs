//! Metrics: HDR histograms per request name × outcome, gateway figures, a per-second
//! time series, and optional per-request records.
//!
//! VUs never share a lock: each finished request's sample goes on its VU thread's
//! queue, which a single aggregator task ([`aggregator`]) that owns every histogram
//! swaps out every few milliseconds, so the hot path costs one uncontended lock per
//! request. The figures themselves (histograms, the
//! store, records, time points) are data in `gatebench-results`, re-exported here.

pub(crate) mod aggregator;
mod record;
mod sample;
mod store;
mod timeseries;

pub use gatebench_results::{
    CacheCounts, Hist, HistDecodeError, OutcomeStats, Point, RequestRecord, RequestStats, SIGFIG,
    SIMILARITY_SCALE, Store, Summary, TOKENS_SCALE, TimePoint, US_TO_MS, Usage, round3,
};
pub use sample::{GatewayInfo, Trace};
pub(crate) use sample::{Said, Sample};
pub use store::status_matches;
