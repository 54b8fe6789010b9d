//! The openai mock (placeholder until its routes land).

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::capacity::CapacityConfig;
use crate::control::assemble;
use crate::core::{KeyHeader, MockCore, ServiceSettings};
use crate::error::ErrorStyle;
use crate::faults::FaultSpec;
use crate::ratelimit::RateLimitConfig;

/// Profile of the openai mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiProfile {
    /// See [`ServiceSettings::require_key`].
    pub require_key: bool,
    /// See [`ServiceSettings::api_keys`].
    pub api_keys: Vec<String>,
    /// See [`ServiceSettings::body_limit`].
    pub body_limit: usize,
    /// See [`ServiceSettings::capacity`].
    pub capacity: CapacityConfig,
    /// See [`ServiceSettings::rate_limits`].
    pub rate_limits: RateLimitConfig,
    /// See [`ServiceSettings::faults`].
    pub faults: FaultSpec,
}

impl Default for OpenAiProfile {
    fn default() -> Self {
        let s = ServiceSettings::default();
        OpenAiProfile {
            require_key: s.require_key,
            api_keys: s.api_keys,
            body_limit: s.body_limit,
            capacity: s.capacity,
            rate_limits: s.rate_limits,
            faults: s.faults,
        }
    }
}

impl OpenAiProfile {
    /// The settings every mock shares.
    pub fn settings(&self) -> ServiceSettings {
        ServiceSettings {
            require_key: self.require_key,
            api_keys: self.api_keys.clone(),
            body_limit: self.body_limit,
            capacity: self.capacity.clone(),
            rate_limits: self.rate_limits.clone(),
            faults: self.faults.clone(),
        }
    }
}

/// The openai mock's router.
pub fn router(profile: &OpenAiProfile, seed: u64, time_scale: f64) -> Router {
    let core = MockCore::new(
        "openai",
        ErrorStyle::OpenAi,
        KeyHeader::Bearer,
        profile.settings(),
        seed,
        time_scale,
    );
    assemble(core, Router::new())
}
