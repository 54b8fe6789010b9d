//! The webvtt service (placeholder until its routes land).

use axum::Router;

use crate::config::ServiceProfile;
use crate::control::assemble;
use crate::core::{KeyHeader, MockCore};
use crate::error::ErrorStyle;

/// The webvtt mock's router.
pub fn router(profile: &ServiceProfile, seed: u64, time_scale: f64) -> Router {
    let core = MockCore::new(
        "webvtt",
        ErrorStyle::Detail,
        KeyHeader::Bearer,
        profile.settings(),
        seed,
        time_scale,
    );
    assemble(core, Router::new())
}
