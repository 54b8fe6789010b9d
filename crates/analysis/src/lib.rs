//! Findings from measurements, apart from the code that measures.
//!
//! - [`scale`]: a step test's figures per load level become a linear range, a
//!   breaking point and the reason for each (`scale.json`).
//!
//! Nothing here generates load or reads a target: the driver measures, this crate
//! judges what was measured, and reports render the findings. It depends on no
//! other gatebench crate, so both the driver and the reports may use it.

pub mod scale;

pub use scale::{
    Criteria, Mode, ScaleReport, ScaleStep, StepsError, analyse, efficiencies, parse_steps,
};
