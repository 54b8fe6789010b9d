//! Readiness reports and baselines.
//!
//! A suite run produces one [`SuiteReport`]; this crate renders it and keeps
//! baselines of it. It knows nothing about how checks are measured.
//!
//! - [`write_all`] writes `report.json`, `report.md`, `report.html` (one
//!   self-contained page with inline SVG charts) and `junit.xml` into a folder;
//!   [`run_report`] makes the same report of one `gatebench run`;
//!   [`console`] renders the verdict, the checks and the recommendations for a
//!   terminal; [`REPORT_SCHEMA`] is the JSON schema of `report.json`.
//! - [`BaselineStore`] keeps named reports in an SQLite database
//!   ([`DEFAULT_BASELINE_DB`]); [`compare`] sets a report against a baseline and
//!   flags regressions beyond a tolerance and beyond run-to-run noise.
//!
//! ```no_run
//! # fn demo(report: &gatebench_report::SuiteReport) -> Result<(), Box<dyn std::error::Error>> {
//! use gatebench_report::{BaselineStore, compare, console, write_all};
//! write_all(report, "reports/focused-1".as_ref())?;
//! print!("{}", console(report));
//! let store = BaselineStore::open(gatebench_report::DEFAULT_BASELINE_DB.as_ref())?;
//! let baseline = store.load("main")?;
//! let diff = compare(report, &baseline, 0.10);
//! print!("{}", diff.console());
//! assert!(!diff.has_regressions());
//! # Ok(()) }
//! ```

pub mod baseline;
mod bottleneck;
pub mod charts;
pub mod compare;
mod console;
mod error;
pub mod escape;
mod html;
mod io;
mod junit;
mod markdown;
pub mod model;
mod resources;
pub use resources::resource_recommendations;
mod run_report;
pub mod scale;
pub mod summary;
pub mod table;

pub use baseline::{BaselineError, BaselineInfo, BaselineStore, DEFAULT_BASELINE_DB, list_text};
pub use charts::{resource_charts, run_charts};
pub use compare::{
    CheckChange, CheckStatus, Comparison, FigureChange, Mismatch, NoiseModel, Scope, compare,
    compare_runs, floor, parse_tolerance,
};
pub use console::{CONSOLE_WIDTH, console};
pub use error::ReportError;
pub use html::html;
pub use io::{REPORT_JSON, Written, read_report, read_report_dir, to_json, write_all};
pub use junit::junit;
pub use markdown::markdown;
pub use model::{
    BaselineResult, Chart, ChartKind, CheckResult, Criterion, Environment, Evidence, Load, NOT_RUN,
    Recommendation, SCHEMA_VERSION, Series, Severity, Source, SuiteReport, TargetInfo, Verdict,
};
pub use run_report::run_report;
pub use scale::{
    SCALE_JSON, ScaleWritten, scale_charts, scale_console, scale_markdown, write_scale,
};
pub use summary::verdict_line;

/// The JSON schema (draft 2020-12) of `report.json`.
pub const REPORT_SCHEMA: &str = include_str!("../schema/report.schema.json");
