//! Errors in scenario and fixture files, always naming the file, the line and the key.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A scenario (or a fixture it names) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is read but something in it is wrong.
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or table.
        line: usize,
        /// Dotted path of the key, e.g. `requests[1].stream` or `load.executor`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ScenarioError {
    /// The line the error points at (0 when the file could not be read).
    pub fn line(&self) -> usize {
        match self {
            ScenarioError::Read { .. } => 0,
            ScenarioError::Invalid { line, .. } => *line,
        }
    }

    /// The key the error points at (empty when the file could not be read).
    pub fn key(&self) -> &str {
        match self {
            ScenarioError::Read { .. } => "",
            ScenarioError::Invalid { key, .. } => key,
        }
    }
}

/// Turns byte offsets into lines and builds errors for one file.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    pub path: PathBuf,
    line_starts: Vec<usize>,
}

impl Locator {
    pub fn new(path: &Path, text: &str) -> Locator {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            path: path.to_owned(),
            line_starts,
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// An error at `span` (or line 1 when there is none).
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.clone(),
            line: span.map_or(1, |s| self.line(s.start)),
            key: key.into(),
            message: message.into(),
        }
    }

    /// Parses TOML text into `T`, mapping the first error to file, line and key.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, ScenarioError> {
        let de = toml::Deserializer::parse(text).map_err(|e| self.toml_error(&e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            // `Spanned` wrappers show up as a segment of their own: not a key
            let key = e
                .path()
                .to_string()
                .split('.')
                .filter(|seg| !seg.starts_with("$__serde_spanned"))
                .collect::<Vec<_>>()
                .join(".")
                .replace(".[", "[");
            self.toml_error(e.inner(), key)
        })
    }

    fn toml_error(&self, error: &toml::de::Error, path: String) -> ScenarioError {
        let key = if path == "." { String::new() } else { path };
        self.error(error.span(), key, error.message().trim())
    }
}
