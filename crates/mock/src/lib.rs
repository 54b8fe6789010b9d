//! Mock AI providers that answer like the real ones.
//!
//! Four servers, each on its own listener: an OpenAI-compatible API ([`openai`]), an
//! ElevenLabs-compatible text-to-speech API ([`elevenlabs`]), a personality service
//! ([`personality`]) and a WebVTT service ([`webvtt`]). Each has a latency model, a
//! capacity model, per-key rate limits and fault injection, all repeatable from one
//! seed, and a control API ([`control`]) to change faults at run time.
//!
//! Every provider route goes through the same middleware ([`layer`]): request id,
//! body limit, auth, faults, stats. Handlers then only parse, validate, wait the
//! latency model and answer.

pub mod books;
pub mod capacity;
pub mod config;
pub mod control;
pub mod core;
mod delay;
pub mod elevenlabs;
pub mod error;
pub mod faults;
mod json;
pub mod layer;
pub mod openai;
pub mod personality;
pub mod ratelimit;
pub mod rng;
pub use gatebench_serve::server;
mod set;
pub mod stats;
mod tracked;
pub mod webvtt;

pub use config::{Profile, ProfileError, ServiceProfile};
pub use core::{MockCore, RequestCtx, Served, ServiceSettings};
pub use error::{ApiError, ErrorStyle};
pub use set::{
    MAX_TIME_SCALE, MIN_TIME_SCALE, MockOptions, MockPorts, RunningMocks, StartError,
    check_time_scale, serving,
};
