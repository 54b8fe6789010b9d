//! The mock profile: latency, capacity, rate limits and faults of every mock, read
//! from TOML. Unknown keys are errors that name the file, line and key.
//!
//! `scenarios/profiles/default.toml` documents every key with its default value; a
//! test keeps it equal to [`Profile::default`].

use std::path::Path;

use gatebench_distr::Delay;
use serde::{Deserialize, Serialize};

use crate::capacity::{CapacityConfig, MAX_SLOPE};
use crate::core::ServiceSettings;
use crate::elevenlabs::ElevenLabsProfile;
use crate::faults::FaultSpec;
use crate::openai::{MAX_CHUNK_JITTER, MAX_EMBEDDING_DIMENSIONS, MAX_OUTPUT_TOKENS, OpenAiProfile};
use crate::ratelimit::RateLimitConfig;

/// Settings of all four mocks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// The OpenAI-compatible mock.
    pub openai: OpenAiProfile,
    /// The ElevenLabs-compatible mock.
    pub elevenlabs: ElevenLabsProfile,
    /// The personality service.
    pub personality: ServiceProfile,
    /// The WebVTT service.
    pub webvtt: ServiceProfile,
}

/// A profile file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read mock profile {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("{origin}: {message}")]
    Parse {
        /// File (or `<default>`).
        origin: String,
        /// toml's message: line, column, the offending key.
        message: String,
    },
    /// A value is out of range.
    #[error("{origin}:{line}: `{key}`: {message}")]
    Invalid {
        /// File.
        origin: String,
        /// 1-based line of the key (or of its table when the file leaves it out).
        line: usize,
        /// Dotted path of the key, e.g. `openai.capacity.soft_limit`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl Profile {
    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Profile::from_toml(&text, &path.display().to_string())
    }

    /// Parses a profile; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        profile
            .validate()
            .map_err(|(key, message)| ProfileError::Invalid {
                origin: origin.to_owned(),
                line: gatebench_distr::toml_key::line_of(text, &key).unwrap_or(1),
                key,
                message,
            })?;
        Ok(profile)
    }

    /// Checks what parsing cannot: the key at fault and what is wrong with it.
    fn validate(&self) -> Result<(), (String, String)> {
        let sections = [
            ("openai", self.openai.settings()),
            ("elevenlabs", self.elevenlabs.settings()),
            ("personality", self.personality.settings()),
            ("webvtt", self.webvtt.settings()),
        ];
        for (key, share) in [
            ("tool_call_share", self.openai.tool_call_share),
            (
                "parallel_tool_call_share",
                self.openai.parallel_tool_call_share,
            ),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err((
                    format!("openai.{key}"),
                    format!("{share} is not between 0 and 1"),
                ));
            }
        }
        for (id, model) in &self.openai.chat_models {
            let cap = model.max_output_tokens;
            if cap > MAX_OUTPUT_TOKENS {
                return Err((
                    format!(
                        "openai.chat_models.{}.max_output_tokens",
                        toml_key_segment(id)
                    ),
                    format!(
                        "{cap} is above {MAX_OUTPUT_TOKENS} (the mock writes every token asked for)"
                    ),
                ));
            }
            let jitter = model.chunk_jitter;
            if !(0.0..=MAX_CHUNK_JITTER).contains(&jitter) {
                return Err((
                    format!("openai.chat_models.{}.chunk_jitter", toml_key_segment(id)),
                    format!(
                        "{jitter} is not a coefficient of variation from 0 to {MAX_CHUNK_JITTER}"
                    ),
                ));
            }
        }
        for (id, model) in &self.openai.embedding_models {
            let dims = model.dimensions;
            if !(1..=MAX_EMBEDDING_DIMENSIONS).contains(&dims) {
                return Err((
                    format!(
                        "openai.embedding_models.{}.dimensions",
                        toml_key_segment(id)
                    ),
                    format!("{dims} is not a vector length from 1 to {MAX_EMBEDDING_DIMENSIONS}"),
                ));
            }
        }
        for (name, settings) in sections {
            if let Err(e) = settings.faults.validate() {
                return Err((format!("{name}.faults"), e.to_string()));
            }
            let c = &settings.capacity;
            if c.hard_limit > 0 && c.soft_limit > c.hard_limit {
                return Err((
                    format!("{name}.capacity.soft_limit"),
                    format!("{} is above hard_limit {}", c.soft_limit, c.hard_limit),
                ));
            }
            if !(0.0..=MAX_SLOPE).contains(&c.slope) {
                return Err((
                    format!("{name}.capacity.slope"),
                    // `{:?}` writes 1e300 as such, not as 301 digits
                    format!(
                        "{:?} is not a number from 0 to {MAX_SLOPE} (how fast latency grows past soft_limit)",
                        c.slope
                    ),
                ));
            }
            if settings.body_limit == 0 {
                return Err((
                    format!("{name}.body_limit"),
                    "must be at least 1 byte (no request could be read)".to_owned(),
                ));
            }
        }
        Ok(())
    }
}

/// A table key as a path segment: quoted when it is not a bare TOML key
/// (`"gpt-3.5-turbo"`), so the path finds its line.
fn toml_key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare {
        key.to_owned()
    } else {
        format!("\"{key}\"")
    }
}

/// Profile of a simple service (personality, WebVTT): the shared settings and one
/// latency model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceProfile {
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
    /// See [`ServiceSettings::call_log_capacity`].
    pub call_log_capacity: usize,
    /// Time before the response starts, counted from when the request was read
    /// (the mock's own work on it is inside this time, not added to it).
    pub first_byte: Delay,
    /// Extra time per unit of work (a cue, an interest).
    pub per_item: Delay,
}

impl Default for ServiceProfile {
    fn default() -> Self {
        let s = ServiceSettings::default();
        ServiceProfile {
            require_key: s.require_key,
            api_keys: s.api_keys,
            body_limit: 1024 * 1024,
            capacity: CapacityConfig {
                soft_limit: 64,
                hard_limit: 512,
                slope: 1.0,
            },
            rate_limits: s.rate_limits,
            faults: s.faults,
            call_log_capacity: s.call_log_capacity,
            first_byte: Delay::LogNormal {
                median: std::time::Duration::from_millis(25),
                p99: std::time::Duration::from_millis(120),
            },
            per_item: Delay::Fixed(std::time::Duration::from_micros(200)),
        }
    }
}

impl ServiceProfile {
    /// The settings every mock shares.
    pub fn settings(&self) -> ServiceSettings {
        ServiceSettings {
            require_key: self.require_key,
            api_keys: self.api_keys.clone(),
            body_limit: self.body_limit,
            capacity: self.capacity.clone(),
            rate_limits: self.rate_limits.clone(),
            faults: self.faults.clone(),
            call_log_capacity: self.call_log_capacity,
        }
    }
}

/// A simple service's profile with the [`crate::capacity::STEEP`] capacity, and
/// its core at the steep tests' time scale.
#[cfg(test)]
pub(crate) fn steep_service(
    name: &'static str,
) -> (ServiceProfile, std::sync::Arc<crate::core::MockCore>) {
    let profile = ServiceProfile {
        capacity: crate::capacity::STEEP,
        ..ServiceProfile::default()
    };
    let core = crate::core::MockCore::new(
        name,
        crate::error::ErrorStyle::Detail,
        crate::core::KeyHeader::Bearer,
        profile.settings(),
        1,
        crate::capacity::STEEP_TIME_SCALE,
    );
    (profile, core)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_profile_is_the_default() {
        let shipped = include_str!("../../../scenarios/profiles/default.toml");
        let parsed = Profile::from_toml(shipped, "default.toml").unwrap();
        assert_eq!(parsed, Profile::default());
    }

    #[test]
    fn unknown_keys_name_the_file_line_and_key() {
        let text = "[openai]\nrequire_key = true\n\n[webvtt.faults]\nserver_eror = 0.1\n";
        let error = Profile::from_toml(text, "my-profile.toml")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("my-profile.toml: "), "{error}");
        assert!(error.contains("line 5"), "{error}");
        assert!(error.contains("server_eror"), "{error}");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let text = "[personality.faults]\nreset = 2.0\n";
        let error = Profile::from_toml(text, "p.toml").unwrap_err().to_string();
        assert!(
            error.contains("personality.faults") && error.contains("reset"),
            "{error}"
        );
        // each names the line of the key at fault
        for (text, expected) in [
            (
                "[webvtt.capacity]\nsoft_limit = 10\nhard_limit = 5\n",
                "p.toml:2: `webvtt.capacity.soft_limit`",
            ),
            (
                "[personality.capacity]\nsoft_limit = 4\nslope = -1e308\n",
                "p.toml:3: `personality.capacity.slope`",
            ),
            ("[openai]\nseed_note = 1\n", "p.toml: "),
            (
                "[openai]\nrequire_key = false\ntool_call_share = 1.5\n",
                "p.toml:3: `openai.tool_call_share`",
            ),
            (
                "[openai]\nparallel_tool_call_share = -0.5\n",
                "p.toml:2: `openai.parallel_tool_call_share`: -0.5 is not between 0 and 1",
            ),
            (
                "[elevenlabs]\nbody_limit = 0\n",
                "p.toml:2: `elevenlabs.body_limit`",
            ),
            (
                "[openai.chat_models.\"gpt-3.5-turbo\"]\nper_token = \"20ms\"\nchunk_jitter = -0.1\n",
                "p.toml:3: `openai.chat_models.\"gpt-3.5-turbo\".chunk_jitter`: -0.1 is not",
            ),
            (
                "[openai.chat_models.mine]\nchunk_jitter = nan\n",
                "p.toml:2: `openai.chat_models.mine.chunk_jitter`",
            ),
            (
                "[openai.chat_models.mine]\nchunk_jitter = 9.0\n",
                "p.toml:2: `openai.chat_models.mine.chunk_jitter`: 9 is not",
            ),
        ] {
            let error = Profile::from_toml(text, "p.toml").unwrap_err().to_string();
            assert!(error.starts_with(expected), "{expected}: {error}");
        }
    }

    /// Numbers that reach a delay or an allocation are bounded: a slope of `1e300`
    /// stretches waits past what a `Duration` holds, 4294967295 dimensions would
    /// have one embeddings request allocate without end.
    #[test]
    fn sizes_and_slopes_past_their_bounds_are_refused() {
        let embedding = |dims: &str| {
            format!(
                "[openai.embedding_models.e1]\ndimensions = {dims}\nbase = \"1ms\"\nper_token = \"0\"\n"
            )
        };
        for (text, expected) in [
            (
                "[webvtt.capacity]\nsoft_limit = 1\nslope = 1e300\n".to_owned(),
                "p.toml:3: `webvtt.capacity.slope`: 1e300 is not a number from 0 to 1000",
            ),
            (
                "[openai.capacity]\nsoft_limit = 1\nslope = 1e300\n".to_owned(),
                "p.toml:3: `openai.capacity.slope`",
            ),
            (
                "[personality.capacity]\nslope = inf\n".to_owned(),
                "p.toml:2: `personality.capacity.slope`",
            ),
            (
                embedding("4294967295"),
                "p.toml:2: `openai.embedding_models.e1.dimensions`: 4294967295 is not a vector length from 1 to 16384",
            ),
            (
                embedding("0"),
                "p.toml:2: `openai.embedding_models.e1.dimensions`",
            ),
            (
                embedding("16385"),
                "p.toml:2: `openai.embedding_models.e1.dimensions`",
            ),
            (
                "[openai.chat_models.\"big-1.0\"]\ncontext_window = 8192\nmax_output_tokens = 4294967295\n"
                    .to_owned(),
                "p.toml:3: `openai.chat_models.\"big-1.0\".max_output_tokens`: 4294967295 is above 131072",
            ),
        ] {
            let error = Profile::from_toml(&text, "p.toml").unwrap_err().to_string();
            assert!(error.starts_with(expected), "{expected}: {error}");
        }
        // the bounds themselves are accepted
        let text = format!(
            "[elevenlabs.capacity]\nslope = 1000\n\n{}\n[openai.chat_models.big]\nmax_output_tokens = 131072\n",
            embedding("16384")
        );
        let profile = Profile::from_toml(&text, "p.toml").unwrap();
        assert_eq!(profile.openai.embedding_models["e1"].dimensions, 16_384);
    }

    #[test]
    fn wrong_types_are_refused() {
        let error = Profile::from_toml("[openai]\nrequire_key = \"yes\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}
