//! The gatebench load driver.
//!
//! It reads a scenario file ([`ScenarioFile::load`]), generates load against a target
//! it knows only through HTTP ([`Targets`]), and measures what happened with HDR
//! histograms per request name × outcome ([`run`] → [`RunResults`]):
//!
//! - open-loop executors send on a schedule of intended times and measure latency from
//!   those times (no coordinated omission), keeping the latency from the actual send
//!   time beside it; closed-loop executors run VUs with think times;
//! - every request sent ends in exactly one outcome class (`ok`, `http_<code>`,
//!   `timeout`, `connect_error`, `tls_error`, `reset`, `malformed_body`, `stream_cut`,
//!   `stream_error`, `validation_failure`, `interrupted`), so `sent = ok + failed + interrupted`;
//!   `interrupted` (cut off when the grace period after the load ran out) is the
//!   run's doing, never counted as the target's error;
//! - streams yield time to first token, inter-token latency and tokens per second from
//!   the server's own usage; a gateway's headers yield cache outcomes, cost and
//!   `server-timing` parts;
//! - thresholds in k6's syntax pass or fail the run and may abort it early;
//! - at the end, the bottleneck finder names what held the latency, from the
//!   `server-timing` parts, the mocks' books ([`books`], when the run is given
//!   them) and the resource samples.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gatebench_driver::{RunOptions, ScenarioFile, Targets};
//! let file = ScenarioFile::load("scenarios/light.toml")?;
//! let results = gatebench_driver::run(&file, &Targets::new("http://127.0.0.1:8700"), RunOptions::default()).await?;
//! results.write_json("reports/light".as_ref())?;
//! gatebench_driver::print_summary(&results);
//! # Ok(()) }
//! ```

pub mod books;
mod client;
mod engine;
pub mod fixtures;
pub mod metrics;
pub mod payload;
mod progress;
pub mod results;
pub mod scale;
pub mod scenario;
mod segment;
mod summary;
pub mod targets;
pub mod threshold;

pub use client::tls::Trust;
pub use client::{TOOL_OUTPUT, parse_server_timing, response_digest};
pub use engine::{RunError, RunOptions, Schedule, mix_of, run};
pub use gatebench_analysis as analysis;
pub use gatebench_distr::{format_duration, parse_duration};
pub use gatebench_monitor as monitor;
pub use gatebench_results::{Outcome, fmt_ms, threshold_value};
pub use metrics::{RequestRecord, Usage};
pub use results::{RunResults, merge};
pub use scenario::{Kind, Scenario, ScenarioError, ScenarioFile};
pub use segment::{Segment, SegmentError};
pub use summary::{print_summary, summary_text};
pub use targets::{TargetError, Targets};
pub use threshold::{Threshold, ThresholdResult};

/// The JSON schema of `results.json`.
pub const RESULTS_SCHEMA: &str = include_str!("../schema/results.schema.json");
