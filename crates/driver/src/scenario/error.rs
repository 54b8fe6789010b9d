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
    #[error("{}:{line}: {}{message}", path.display(), key_label(key))]
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

/// Reads a TOML file as text; bytes that are not UTF-8 are an error at their
/// line and column, as TOML requires UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&bytes[line_start..at])
            .chars()
            .count()
            + 1;
        ScenarioError::Invalid {
            path: path.to_owned(),
            line: 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count(),
            key: String::new(),
            message: format!(
                "byte 0x{:02x} at column {column} is not UTF-8: a TOML file is UTF-8 text",
                bytes[at]
            ),
        }
    })
}

/// `` `key`: `` before a message, or nothing for an error no key is at fault for (a
/// syntax error).
fn key_label(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("`{key}`: ")
    }
}

/// Turns byte offsets into lines and builds errors for one file.
#[derive(Debug, Clone)]
pub(crate) struct Locator {
    pub path: PathBuf,
    line_starts: Vec<usize>,
    text: String,
}

impl Locator {
    pub fn new(path: &Path, text: &str) -> Locator {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            path: path.to_owned(),
            line_starts,
            text: text.to_owned(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// An error about `key`, at the key's own line when the file spells it out,
    /// else at `span` (the table it belongs to), else line 1.
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let key = key.into();
        let written = gatebench_distr::toml_key::line_of(&self.text, &key)
            .filter(|line| span.as_ref().is_none_or(|s| *line >= self.line(s.start)));
        ScenarioError::Invalid {
            path: self.path.clone(),
            line: written.unwrap_or_else(|| span.map_or(1, |s| self.line(s.start))),
            key,
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
        let mut key = if path == "." { String::new() } else { path };
        let message = error.message().trim();
        // the parser names no key it finds twice: its span is the key as written
        if key.is_empty()
            && message.starts_with("duplicate key")
            && let Some(written) = error.span().and_then(|s| self.text.get(s))
        {
            key = written.trim().trim_matches(['"', '\'']).to_owned();
        }
        self.error(error.span(), key, message)
    }
}
