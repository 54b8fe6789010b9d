//! Readiness suites: one command that says whether an AI integration is ready for
//! release, with evidence a reviewer can check.
//!
//! A suite file ([`SuiteFile`]) lists checks. [`run_suite`] runs each against the
//! embedded stack (started afresh per check, with the check's adjustments and
//! faults) or an external gateway, judges the measurements against the targets, and
//! returns a [`gatebench_report::SuiteReport`]: READY when every critical and major
//! check passed.

pub mod checks;
mod env;
pub mod file;
pub mod pricing;
pub mod profile;
mod recommend;
mod runner;
pub mod segment;
mod stats;
pub mod subject;
pub mod sweep;
pub mod truth;

pub use env::environment;
pub use file::{CheckKind, CheckSpec, SuiteFile, SuiteFileError};
pub use profile::{ProfileError, TargetProfile};
pub use runner::{SuiteOptions, run_suite, run_suite_until};
