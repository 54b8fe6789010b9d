//! Metrics: HDR histograms per request name × outcome, gateway figures, a per-second
//! time series, and optional per-request records.
//!
//! VUs never share a lock: each finished request is one message on a channel to a
//! single aggregator task ([`aggregator`]) that owns every histogram, so the hot path
//! costs one channel send per request.

pub(crate) mod aggregator;
mod hist;
mod record;
mod sample;
mod store;
mod timeseries;

pub use hist::{Hist, HistDecodeError, SIGFIG, Summary, round3};
pub use record::RequestRecord;
pub use sample::{GatewayInfo, Trace, Usage};
pub(crate) use sample::{Said, Sample};
pub use store::{
    CacheCounts, OutcomeStats, RequestStats, SIMILARITY_SCALE, Store, TOKENS_SCALE, US_TO_MS,
    status_matches,
};
pub use timeseries::{Point, TimePoint};
