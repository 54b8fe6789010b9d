//! The gateway's configuration file (TOML): tenants, upstream providers, model
//! routes and fallbacks, cache, retries, queue, pricing and ledger.
//!
//! Every table denies unknown keys; errors name the file, the line and the key.
//! `scenarios/gateway/demo.toml` is the configuration `gatebench up` uses when none
//! is given, and documents every key.

use std::path::Path;
use std::time::Duration;

use gatebench_cost::FallbackPrice;
use gatebench_queue::Priority;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use gatebench_distr::serde_duration;

mod validate;

pub use validate::{EMBEDDING_MODELS, MAX_ATTEMPTS, MAX_FAILURE_THRESHOLD, MIN_DIMENSIONS};

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Tenants and their API keys.
    #[serde(rename = "tenant", default)]
    pub tenants: Vec<TenantConfig>,
    /// Upstream providers.
    #[serde(rename = "provider", default)]
    pub providers: Vec<ProviderConfig>,
    /// Model routes: which provider serves a model, and its fallbacks.
    #[serde(rename = "route", default)]
    pub routes: Vec<RouteConfig>,
    /// Semantic and exact-match caches.
    #[serde(default)]
    pub cache: CacheSettings,
    /// Retries against one provider.
    #[serde(default)]
    pub retry: RetrySettings,
    /// Admission queue in front of each provider.
    #[serde(default)]
    pub queue: QueueSettings,
    /// Upstream health (circuit breaker and readiness).
    #[serde(default)]
    pub health: HealthSettings,
    /// Prices.
    #[serde(default)]
    pub pricing: PricingSettings,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
}

/// A decimal string of USD, exactly as written: more decimal places than a
/// `Decimal` keeps (28) are refused rather than rounded (a budget of 1e-29 would
/// round to a budget of zero, which refuses every call).
fn exact_usd<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    Decimal::from_str_exact(&text).map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an amount of USD such as \"25.00\" (at most 28 decimal places)"
        ))
    })
}

fn default_body_limit() -> usize {
    8 * 1024 * 1024
}

/// One tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id, shown in usage and the ledger.
    pub id: String,
    /// API keys that identify this tenant.
    pub keys: Vec<String>,
    /// Spending limit in USD (decimal string); none means unlimited.
    #[serde(
        default,
        deserialize_with = "exact_usd",
        serialize_with = "rust_decimal::serde::str_option::serialize"
    )]
    pub budget_usd: Option<Decimal>,
    /// Priority class of requests that do not send `x-gatebench-priority`.
    #[serde(default)]
    pub priority: Priority,
}

/// What an upstream speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI-compatible chat and embeddings (OpenAI, DeepSeek, ...).
    Openai,
    /// ElevenLabs-compatible text-to-speech.
    Elevenlabs,
    /// The personality service.
    Personality,
    /// The WebVTT service.
    Webvtt,
}

impl ProviderKind {
    /// The name the configuration file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Elevenlabs => "elevenlabs",
            ProviderKind::Personality => "personality",
            ProviderKind::Webvtt => "webvtt",
        }
    }

    /// What a health probe asks for: a cheap GET that the provider never bills.
    pub fn probe_path(self) -> &'static str {
        match self {
            ProviderKind::Openai | ProviderKind::Elevenlabs => "/v1/models",
            ProviderKind::Personality | ProviderKind::Webvtt => "/health",
        }
    }
}

/// One upstream provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Name used in routes, the ledger and `x-gatebench-provider` (also the pricing
    /// file's `provider` for models priced by provider).
    pub name: String,
    /// Protocol.
    pub kind: ProviderKind,
    /// Base URL without the `/v1` path, e.g. `http://127.0.0.1:8701`.
    pub base_url: String,
    /// API key sent upstream (`Authorization: Bearer`, or `xi-api-key` for ElevenLabs).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Name of an environment variable holding the API key (preferred over `api_key`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Upstream calls in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Requests allowed to wait for a slot; beyond this, a request goes to its
    /// route's fallbacks, and is answered 429 (`queue_full`) when they are full too.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Timeout of one attempt (for streams: the longest silence between chunks);
    /// above zero, or every attempt would time out.
    #[serde(default = "default_timeout", with = "serde_duration")]
    pub timeout: Duration,
    /// Timeout to connect.
    #[serde(default = "default_connect_timeout", with = "serde_duration")]
    pub connect_timeout: Duration,
}

fn default_concurrency() -> usize {
    64
}
fn default_queue_capacity() -> usize {
    2048
}
fn default_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(3)
}

/// Which provider serves a model, and where to go when it fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Model name as clients send it.
    pub model: String,
    /// Provider serving it.
    pub provider: String,
    /// Model name upstream, if different.
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Tried in order when the provider fails after its retries.
    #[serde(default)]
    pub fallbacks: Vec<FallbackConfig>,
}

/// One fallback target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    /// Provider.
    pub provider: String,
    /// Model at that provider.
    pub model: String,
}

/// Where the semantic cache's query embeddings come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedderSource {
    /// The gatebench embedder, in-process (free, microseconds): the only one.
    #[default]
    Local,
}

/// Cache settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Cache at all.
    pub enabled: bool,
    /// Cosine similarity at or above which a cached answer is served.
    pub threshold: f32,
    /// How long an entry lives.
    #[serde(with = "serde_duration")]
    pub ttl: Duration,
    /// Entries kept per cache (chat; embeddings and TTS each have their own).
    pub max_entries: u64,
    /// Where query embeddings come from (`local`, the only one).
    pub embedder: EmbedderSource,
    /// The embedding model the local embedder imitates, one of [`EMBEDDING_MODELS`]:
    /// its name salts the vectors, as the OpenAI mock's for that model, and a suite
    /// sweeps the catalogs with it.
    pub embedding_model: String,
    /// Dimensions of the query embeddings, from [`MIN_DIMENSIONS`] to the model's
    /// own: fewer let unrelated prompts share cached answers.
    pub dimensions: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: true,
            threshold: gatebench_embed::CALIBRATED_THRESHOLD,
            ttl: Duration::from_secs(3600),
            max_entries: 100_000,
            embedder: EmbedderSource::Local,
            embedding_model: "text-embedding-3-small".to_owned(),
            dimensions: 1536,
        }
    }
}

/// Retries against one provider, before fallbacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts per provider, the first included; at most [`MAX_ATTEMPTS`], so
    /// that a provider that keeps failing cannot hold a request without end.
    pub max_attempts: u32,
    /// Backoff base: attempt n waits a random time in [0, base × 2^n] ("full jitter").
    #[serde(with = "serde_duration")]
    pub base: Duration,
    /// Upper bound of one backoff.
    #[serde(with = "serde_duration")]
    pub max_backoff: Duration,
    /// Longest `retry-after` honoured; a longer one moves on to the fallbacks.
    #[serde(with = "serde_duration")]
    pub max_retry_after: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 3,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

/// Queue settings shared by every provider's queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// A waiting request climbs one priority class per `aging` waited; climbs decide
    /// at most one dispatch in four.
    #[serde(with = "serde_duration")]
    pub aging: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            aging: Duration::from_secs(2),
        }
    }
}

/// Circuit breaker per provider; `/readyz` reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// Consecutive failed attempts that open the circuit, from 1 to
    /// [`MAX_FAILURE_THRESHOLD`]: a circuit that never opens protects nothing.
    pub failure_threshold: u32,
    /// How long an open circuit waits before letting a trial request through.
    #[serde(with = "serde_duration")]
    pub open_for: Duration,
    /// Try a half-open provider with a probe (`GET /v1/models`, or `/health` for
    /// the services) rather than waiting for a request to try it: `/readyz` counts
    /// only closed circuits as ready, so an idle gateway would otherwise never turn
    /// ready again.
    pub probe: bool,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            failure_threshold: 5,
            open_for: Duration::from_secs(1),
            probe: true,
        }
    }
}

/// Prices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingSettings {
    /// A folder of price files; default: the `pricing/` files built into the binary.
    pub dir: Option<String>,
    /// Prices of a model no price file knows; such calls are flagged
    /// `priced_by_fallback` in the ledger, never priced at zero.
    pub fallback: FallbackPrice,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read gateway config {path}: {source}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not TOML, or an unknown or mistyped key.
    #[error("{origin}: {message}")]
    Parse {
        /// File.
        origin: String,
        /// toml's message, with line, column and key.
        message: String,
    },
    /// Values that do not fit together.
    #[error("{origin}:{line}: `{key}`: {message}")]
    Invalid {
        /// File.
        origin: String,
        /// 1-based line of the key at fault (or of its table).
        line: usize,
        /// Dotted path of the key, e.g. `provider[1].concurrency`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The demo configuration: two tenants, the four local mocks as upstreams.
pub const DEMO_CONFIG: &str = include_str!("../../../scenarios/gateway/demo.toml");

impl GatewayConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        GatewayConfig::from_toml(&text, &path.display().to_string())
    }

    /// The built-in demo configuration.
    pub fn demo() -> GatewayConfig {
        match GatewayConfig::from_toml(DEMO_CONFIG, "<demo>") {
            Ok(config) => config,
            Err(error) => unreachable!("the built-in demo config is checked by a test: {error}"),
        }
    }

    /// Parses a configuration; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<GatewayConfig, ConfigError> {
        let config: GatewayConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                origin: origin.to_owned(),
                line: gatebench_distr::toml_key::line_of(text, &key).unwrap_or(1),
                key,
                message,
            })?;
        Ok(config)
    }

    /// Points every provider of a kind at another base URL (the embedded stack puts the
    /// mocks on free ports).
    pub fn set_base_url(&mut self, kind: ProviderKind, base_url: &str) {
        for provider in self.providers.iter_mut().filter(|p| p.kind == kind) {
            provider.base_url = base_url.trim_end_matches('/').to_owned();
        }
    }

    /// True if any key is one of the demo keys.
    pub fn uses_demo_keys(&self) -> bool {
        self.tenants
            .iter()
            .flat_map(|t| &t.keys)
            .any(|k| k.ends_with("-dev") && k.starts_with("gb-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid() {
        let config = GatewayConfig::demo();
        assert_eq!(config.tenants.len(), 2);
        assert!(config.uses_demo_keys());
        assert!(
            config
                .providers
                .iter()
                .any(|p| p.kind == ProviderKind::Elevenlabs)
        );
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let text = "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\nbudjet_usd = \"1\"\n";
        let error = GatewayConfig::from_toml(text, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("gw.toml: "), "{error}");
        assert!(
            error.contains("line 4") && error.contains("budjet_usd"),
            "{error}"
        );
    }

    /// A budget is exactly what it says: one past a `Decimal`'s 28 decimal places
    /// would round (1e-29 to a budget of zero, refusing every call).
    #[test]
    fn budgets_are_exact_decimal_strings() {
        let budget = |value: &str| {
            let text = format!(
                "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\nbudget_usd = \"{value}\"\n\
                 [[provider]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\n"
            );
            GatewayConfig::from_toml(&text, "gw.toml").map(|c| c.tenants[0].budget_usd)
        };
        for bad in ["0.00000000000000000000000000001", "ten", "1e3"] {
            let error = budget(bad).unwrap_err().to_string();
            assert!(error.starts_with("gw.toml: "), "{error}");
            assert!(error.contains("line 4") && error.contains(bad), "{error}");
            assert!(error.contains("not an amount of USD"), "{error}");
        }
        let most = "0.0000000000000000000000000001";
        assert_eq!(budget(most).unwrap(), Some(most.parse().unwrap()));
        assert_eq!(budget("25.00").unwrap(), Some(Decimal::new(2500, 2)));
    }

    /// Errors found after parsing name the line and the key at fault too.
    #[test]
    fn semantic_errors_name_line_and_key() {
        let provider = |extra: &str| {
            format!(
                "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n\n[[provider]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\n{extra}"
            )
        };
        let cases = [
            (
                "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n[[tenant]]\nid = \"b\"\nkeys = [\"k\"]\n"
                    .to_owned(),
                "x.toml:6: `tenant[1].keys`",
            ),
            (
                "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n\nbudget_usd = \"-1\"\n".to_owned(),
                "x.toml:5: `tenant[0].budget_usd`",
            ),
            (
                provider("concurrency = 0\n"),
                "x.toml:9: `provider[0].concurrency`",
            ),
            (
                provider("").replace("http://127.0.0.1:1", "127.0.0.1:1"),
                "x.toml:8: `provider[0].base_url`",
            ),
            (
                provider(
                    "\n[[route]]\nmodel = \"m\"\nprovider = \"p\"\nfallbacks = [{ provider = \"nowhere\", model = \"m\" }]\n",
                ),
                "x.toml:13: `route[0].fallbacks[0].provider`",
            ),
            (
                provider("").replace("[[tenant]]", "body_limit = 0\n[[tenant]]"),
                "x.toml:1: `body_limit`",
            ),
        ];
        for (text, expected) in cases {
            let error = GatewayConfig::from_toml(&text, "x.toml")
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(expected), "{expected}: {error}\n{text}");
        }
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        let dup =
            "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n[[tenant]]\nid = \"b\"\nkeys = [\"k\"]\n";
        assert!(
            GatewayConfig::from_toml(dup, "x")
                .unwrap_err()
                .to_string()
                .contains("another tenant")
        );
        let route = "[[route]]\nmodel = \"m\"\nprovider = \"nowhere\"\n";
        assert!(
            GatewayConfig::from_toml(route, "x")
                .unwrap_err()
                .to_string()
                .contains("nowhere")
        );
        let money = "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\nbudget_usd = \"-1\"\n";
        assert!(GatewayConfig::from_toml(money, "x").is_err());
        let money = "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\nbudget_usd = \"lots\"\n";
        assert!(GatewayConfig::from_toml(money, "x").is_err());
        // a gateway that would refuse every request
        let refuse = |text: &str, says: &str| {
            let error = GatewayConfig::from_toml(text, "x").unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        };
        refuse("", "no [[tenant]]");
        refuse(
            "[[tenant]]\nid = \"a\"\nkeys = [\"k\"]\n",
            "no [[provider]]",
        );
        refuse(
            "[[provider]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\n",
            "no [[tenant]]",
        );
    }
}
