//! Findings from measurements, apart from the code that measures.
//!
//! - [`degradation`]: latency rising, throughput falling or errors rising against
//!   a run's early steady window, second by second, with anomalies and trend
//!   predictions (`{"type":"degradation",...}` events, findings in results);
//! - [`resources`]: warning and critical thresholds of sampled resources and when
//!   a series crosses one (`{"type":"resource_alert",...}` events, alerts in results);
//! - [`bottleneck`]: which component holds a load level's latency (queue,
//!   provider, the target's own time, a saturated CPU), from `server-timing`, the
//!   mocks' books and the resource samples, with a recommendation;
//! - [`scale`]: a step test's figures per load level become a linear range, a
//!   breaking point and the reason for each (`scale.json`).
//!
//! Nothing here generates load or reads a target: the driver measures, this crate
//! judges what was measured, and reports render the findings. It depends on no
//! other gatebench crate, so both the driver and the reports may use it.

pub mod bottleneck;
pub mod degradation;
pub mod resources;
pub mod scale;

pub use bottleneck::{Bottleneck, Component, CpuUse, Evidence, Part, PartTiming, UpstreamTruth};
pub use degradation::{DegradationConfig, Detector, Finding, Second};
pub use resources::{
    Crossing, Level, ResourceAlert, ResourceThresholds, SeriesThresholds, Severity,
};
pub use scale::{
    Criteria, Mode, ScaleReport, ScaleStep, StepsError, analyse, check_steps, efficiencies,
    parse_steps,
};
