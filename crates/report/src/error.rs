//! Errors of reading and writing reports.

use std::path::PathBuf;

/// A report cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder cannot be created, written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A report file is not valid JSON or not a report.
    #[error("{} is not a gatebench report: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Why, with the line and column.
        source: serde_json::Error,
    },
    /// A report of a layout this version does not read.
    #[error("{} has report schema version {found}; this gatebench reads version {expected}", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// A report cannot be serialised (a number that JSON cannot hold).
    #[error("cannot serialise the report: {0}")]
    Serialise(serde_json::Error),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ReportError {
        let path = path.into();
        move |source| ReportError::Io { path, source }
    }
}
