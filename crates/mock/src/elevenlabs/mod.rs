//! The elevenlabs mock (placeholder until its routes land).

use axum::Router;
use serde::{Deserialize, Serialize};

use crate::capacity::CapacityConfig;
use crate::control::assemble;
use crate::core::{KeyHeader, MockCore, ServiceSettings};
use crate::error::ErrorStyle;
use crate::faults::FaultSpec;
use crate::ratelimit::RateLimitConfig;

/// Profile of the elevenlabs mock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElevenLabsProfile {
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

impl Default for ElevenLabsProfile {
    fn default() -> Self {
        let s = ServiceSettings::default();
        ElevenLabsProfile {
            require_key: s.require_key,
            api_keys: s.api_keys,
            body_limit: s.body_limit,
            capacity: s.capacity,
            rate_limits: s.rate_limits,
            faults: s.faults,
        }
    }
}

impl ElevenLabsProfile {
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

/// The elevenlabs mock's router.
pub fn router(profile: &ElevenLabsProfile, seed: u64, time_scale: f64) -> Router {
    let core = MockCore::new(
        "elevenlabs",
        ErrorStyle::Detail,
        KeyHeader::XiApiKey,
        profile.settings(),
        seed,
        time_scale,
    );
    assemble(core, Router::new())
}
