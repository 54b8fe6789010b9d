//! Serde for `Duration` fields written as text (`"250ms"`, `"30s"`): use
//! `#[serde(with = "gatebench_distr::serde_duration")]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `"250ms"`.
pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::format_duration(*d))
}

/// Reads `"250ms"`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::parse_duration(&text).map_err(serde::de::Error::custom)
}
