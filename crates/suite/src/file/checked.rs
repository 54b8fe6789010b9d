//! Values of a suite file that are checked as they are read rather than after:
//! toml then reports the refusal at the value's line, in the same message as a typo,
//! and nothing downstream (a stack started for the check, a report) sees a value it
//! would choke on.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// The suite's `time_scale`, under the rule `--time-scale` follows: the mocks hang
/// far above it, and real-time equivalents stop meaning anything far below it.
pub(super) fn time_scale<'de, D: Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    let scale = f64::deserialize(de)?;
    gatebench_mock::check_time_scale(scale)
        .map_err(|e| D::Error::custom(format!("time_scale: {e}")))
}

/// A check's own `[check.stack]` `time_scale`, under the same rule.
pub(super) fn optional_time_scale<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<f64>, D::Error> {
    let scale = f64::deserialize(de)?;
    gatebench_mock::check_time_scale(scale)
        .map(Some)
        .map_err(|e| D::Error::custom(format!("stack.time_scale: {e}")))
}

/// The cache threshold is a cosine similarity at or above which a cached answer is
/// served: the gateway takes it from 0 to 1, and NaN would never match.
pub(super) fn cache_threshold<'de, D: Deserializer<'de>>(de: D) -> Result<Option<f32>, D::Error> {
    let threshold = f32::deserialize(de)?;
    if (0.0..=1.0).contains(&threshold) {
        Ok(Some(threshold))
    } else {
        Err(D::Error::custom(format!(
            "stack.cache_threshold: {threshold} is not a similarity: a number from 0 to 1 (a cached answer is served at or above it)"
        )))
    }
}

/// Upstream concurrency by provider: a provider with no slot never answers, which
/// the gateway finds out only when the check's stack starts.
pub(super) fn concurrency<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<BTreeMap<String, usize>, D::Error> {
    let map = by_provider(de, "concurrency")?;
    match map.iter().find(|(_, n)| **n == 0) {
        Some((provider, _)) => Err(D::Error::custom(format!(
            "stack.concurrency.{provider}: must be at least 1 (upstream calls in flight at once)"
        ))),
        None => Ok(map),
    }
}

/// Queue capacity by provider (0 is allowed: every request overflows at once).
pub(super) fn queue_capacity<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<BTreeMap<String, usize>, D::Error> {
    by_provider(de, "queue_capacity")
}

/// A table keyed by the embedded stack's providers: a name it does not have would
/// be silently ignored, so it is refused like any other typo.
fn by_provider<'de, D: Deserializer<'de>>(
    de: D,
    key: &str,
) -> Result<BTreeMap<String, usize>, D::Error> {
    let map = BTreeMap::<String, usize>::deserialize(de)?;
    let known = provider_names();
    match map.keys().find(|name| !known.contains(name)) {
        Some(name) => Err(D::Error::custom(format!(
            "stack.{key}.{name}: the embedded stack has no provider `{name}` (it has {})",
            known.join(", ")
        ))),
        None => Ok(map),
    }
}

/// The providers of the embedded stack each check starts.
fn provider_names() -> Vec<String> {
    gatebench_stack::StackOptions::ephemeral(0, 0.0)
        .gateway
        .providers
        .into_iter()
        .map(|p| p.name)
        .collect()
}
