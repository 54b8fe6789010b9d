//! Writing a report's files into its folder and reading `report.json` back.

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::{SCHEMA_VERSION, SuiteReport};

/// File name of the JSON report inside a report folder.
pub const REPORT_JSON: &str = "report.json";

/// The files [`write_all`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `report.json`.
    pub json: PathBuf,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
}

/// The report as pretty JSON (what `report.json` holds).
pub fn to_json(report: &SuiteReport) -> Result<String, ReportError> {
    serde_json::to_string_pretty(report).map_err(ReportError::Serialise)
}

/// Writes `report.json`, `report.md`, `report.html` and `junit.xml` into `dir`,
/// creating it.
pub fn write_all(report: &SuiteReport, dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let written = Written {
        json: dir.join(REPORT_JSON),
        markdown: dir.join("report.md"),
        html: dir.join("report.html"),
        junit: dir.join("junit.xml"),
    };
    let mut json = to_json(report)?;
    json.push('\n');
    for (path, text) in [
        (&written.json, json),
        (&written.markdown, crate::markdown::markdown(report)),
        (&written.html, crate::html::html(report)),
        (&written.junit, crate::junit::junit(report)),
    ] {
        std::fs::write(path, text).map_err(ReportError::io(path))?;
    }
    tracing::debug!(dir = %dir.display(), "report written");
    Ok(written)
}

/// Reads a `report.json` file.
pub fn read_report(path: &Path) -> Result<SuiteReport, ReportError> {
    let bytes = std::fs::read(path).map_err(ReportError::io(path))?;
    let json_err = |source| ReportError::Json {
        path: path.to_owned(),
        source,
    };
    // the version first, so an old or newer report gets that message rather than a
    // missing-field one
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json_err)?;
    if let Some(found) = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        && found != u64::from(SCHEMA_VERSION)
    {
        return Err(ReportError::Version {
            path: path.to_owned(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_slice(&bytes).map_err(json_err)
}

/// Reads `dir/report.json`.
pub fn read_report_dir(dir: &Path) -> Result<SuiteReport, ReportError> {
    read_report(&dir.join(REPORT_JSON))
}
