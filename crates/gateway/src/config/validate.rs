//! What parsing cannot check: values that do not fit together, and values that
//! parse but cannot work (a zero timeout, a retry loop without end, a route that
//! would never be used). Each check answers with the key at fault, as the file
//! spells it (`provider[1].concurrency`), so that `from_toml` can name its line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use gatebench_cost::{Kind, PriceBook, PricingError};

use super::{GatewayConfig, ProviderKind};

/// Most attempts `retry.max_attempts` may ask for against one provider.
///
/// Every attempt may take a provider's whole `timeout` plus a backoff, so the
/// request waits for all of them before its fallbacks get a turn; ten attempts at
/// the default 120 s timeout already hold a client for twenty minutes. Clients
/// retry on their own as well (the OpenAI SDKs twice by default; LiteLLM's
/// `num_retries` is usually a few), and a failure that survives ten tries is an
/// outage, which the circuit breaker and the fallbacks are for.
pub const MAX_ATTEMPTS: u32 = 10;

/// Highest `health.failure_threshold`.
///
/// The count is of consecutive failed attempts across all of a provider's
/// requests, so even a busy provider (the demo's 256 calls in flight, three
/// attempts each) reaches a few hundred within one wave of failures. A threshold
/// beyond a thousand never opens the circuit in practice: every request keeps
/// waiting out its timeouts and retries on a provider that is down, and `/readyz`
/// never reports it.
pub const MAX_FAILURE_THRESHOLD: u32 = 1000;

/// Fewest `cache.dimensions` the semantic cache accepts.
///
/// The local embedder gives every feature a pseudo-random direction, so unrelated
/// prompts are only nearly orthogonal, and the fewer the dimensions the more their
/// similarities spread: at one dimension every prompt has similarity 1.0 with every
/// other. Replaying the prompt catalogs at the calibrated threshold (the replay
/// view of `crates/embed/tests/calibration.rs`), false hits are 0.73 % of hits
/// from 256 dimensions up, as at 1536; 0.77 % at 128, 0.99 % at 64 (the edge of the
/// 1 % target), 1.65 % at 32 and 72 % at 8. A cache holds many more entries than
/// the catalogs' 1,680 prompts, so the bound keeps that margin.
pub const MIN_DIMENSIONS: usize = 256;

/// The embedding models the local embedder imitates, with their full dimensions
/// and whether they may be shortened (OpenAI's `dimensions` parameter): the OpenAI
/// mock serves the same vectors for these models, and the model name salts them,
/// so another name would give vectors of no model at all.
pub const EMBEDDING_MODELS: [(&str, usize, bool); 3] = [
    ("text-embedding-3-small", 1536, true),
    ("text-embedding-3-large", 3072, true),
    ("text-embedding-ada-002", 1536, false),
];

/// A key path and what is wrong with it.
type Fault = (String, String);

fn fail(key: impl Into<String>, message: impl Into<String>) -> Result<(), Fault> {
    Err((key.into(), message.into()))
}

impl GatewayConfig {
    /// Checks what parsing cannot: the key at fault (a path like
    /// `provider[1].concurrency`, as the file spells it) and what is wrong with it.
    pub(super) fn validate(&self) -> Result<(), Fault> {
        self.validate_tenants()?;
        self.validate_providers()?;
        self.validate_routes()?;
        self.validate_cache()?;
        self.validate_settings()?;
        // a gateway with either missing would refuse every request it is sent
        if self.tenants.is_empty() {
            return fail("tenant", "no [[tenant]]: the gateway would accept no key");
        }
        if self.providers.is_empty() {
            return fail(
                "provider",
                "no [[provider]]: the gateway would have nowhere to send a request",
            );
        }
        Ok(())
    }

    fn validate_tenants(&self) -> Result<(), Fault> {
        let mut ids = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for (i, tenant) in self.tenants.iter().enumerate() {
            let at = |field: &str| format!("tenant[{i}].{field}");
            if !ids.insert(&tenant.id) {
                return fail(at("id"), format!("tenant `{}` is defined twice", tenant.id));
            }
            if tenant.keys.is_empty() {
                return fail(at("keys"), format!("tenant `{}` has no keys", tenant.id));
            }
            for key in &tenant.keys {
                if key.trim().is_empty() {
                    return fail(
                        at("keys"),
                        format!("tenant `{}` has an empty key", tenant.id),
                    );
                }
                if !keys.insert(key) {
                    return fail(
                        at("keys"),
                        format!(
                            "a key of tenant `{}` is also used by another tenant",
                            tenant.id
                        ),
                    );
                }
            }
            if tenant.budget_usd.is_some_and(|b| b.is_sign_negative()) {
                return fail(at("budget_usd"), "a budget cannot be negative");
            }
        }
        Ok(())
    }

    fn validate_providers(&self) -> Result<(), Fault> {
        let mut names = BTreeSet::new();
        for (i, provider) in self.providers.iter().enumerate() {
            let at = |field: &str| format!("provider[{i}].{field}");
            if !names.insert(provider.name.as_str()) {
                return fail(
                    at("name"),
                    format!("provider `{}` is defined twice", provider.name),
                );
            }
            if !(provider.base_url.starts_with("http://")
                || provider.base_url.starts_with("https://"))
                || http::Uri::try_from(provider.base_url.as_str()).is_err()
            {
                return fail(
                    at("base_url"),
                    format!(
                        "`{}` is not a URL starting with http:// or https://",
                        provider.base_url
                    ),
                );
            }
            if provider.concurrency == 0 {
                return fail(at("concurrency"), "must be at least 1");
            }
            // every attempt (every connection) would fail before it began
            if provider.timeout.is_zero() {
                return fail(at("timeout"), "must be above zero");
            }
            if provider.connect_timeout.is_zero() {
                return fail(at("connect_timeout"), "must be above zero");
            }
        }
        Ok(())
    }

    /// A request finds its route by model and by the kind of provider its endpoint
    /// needs (`Upstreams::plan`); a route it cannot use is skipped without a word,
    /// and the request goes to the first provider of the kind instead. So a route
    /// must be of one kind throughout, of a kind that is routed by model, and of
    /// the kind its models are known to be.
    fn validate_routes(&self) -> Result<(), Fault> {
        let kinds: BTreeMap<&str, ProviderKind> = self
            .providers
            .iter()
            .map(|p| (p.name.as_str(), p.kind))
            .collect();
        let mut models = BTreeMap::new();
        for (i, route) in self.routes.iter().enumerate() {
            let at = |field: &str| format!("route[{i}].{field}");
            if let Some(first) = models.insert(route.model.as_str(), i) {
                return fail(
                    at("model"),
                    format!(
                        "model `{}` already has a route (route[{first}]): one route per model",
                        route.model
                    ),
                );
            }
            let targets =
                std::iter::once((at("provider"), route.provider.as_str())).chain(
                    route.fallbacks.iter().enumerate().map(|(j, f)| {
                        (at(&format!("fallbacks[{j}].provider")), f.provider.as_str())
                    }),
                );
            for (key, name) in targets {
                if !kinds.contains_key(name) {
                    return fail(
                        key,
                        format!(
                            "route `{}` names provider `{name}`, which is not defined",
                            route.model
                        ),
                    );
                }
            }
            let Some(&kind) = kinds.get(route.provider.as_str()) else {
                continue;
            };
            if !matches!(kind, ProviderKind::Openai | ProviderKind::Elevenlabs) {
                return fail(
                    at("provider"),
                    format!(
                        "provider `{}` is of kind {}, whose requests are not routed by model: the route would never be used",
                        route.provider,
                        kind.as_str()
                    ),
                );
            }
            // the model a client names and the one sent upstream are the route
            // provider's to serve, so that is where the fault lies; a fallback
            // names its own model
            let own = [Some(route.model.as_str()), route.upstream_model.as_deref()];
            for model in own.into_iter().flatten() {
                if let Some(known) = shipped_kind(model).filter(|k| serving(*k) != kind) {
                    return fail(
                        at("provider"),
                        format!(
                            "`{model}` is a {known} model, and provider `{}` is of kind {}: the route would never be used, and {known} requests for `{}` would go to the first {} provider instead",
                            route.provider,
                            kind.as_str(),
                            route.model,
                            serving(known).as_str()
                        ),
                    );
                }
            }
            for (j, fallback) in route.fallbacks.iter().enumerate() {
                let other = kinds.get(fallback.provider.as_str()).copied();
                if other.is_some_and(|other| other != kind) {
                    return fail(
                        at(&format!("fallbacks[{j}].provider")),
                        format!(
                            "route `{}` is served by `{}` (kind {}) and falls back to `{}` (kind {}): the providers of a route must be of one kind, or the route is never used",
                            route.model,
                            route.provider,
                            kind.as_str(),
                            fallback.provider,
                            other.map_or("", ProviderKind::as_str)
                        ),
                    );
                }
            }
            for (j, fallback) in route.fallbacks.iter().enumerate() {
                if let Some(known) = shipped_kind(&fallback.model).filter(|k| serving(*k) != kind) {
                    return fail(
                        at(&format!("fallbacks[{j}].model")),
                        format!(
                            "`{}` is a {known} model, and provider `{}` is of kind {}: it cannot stand in for `{}`",
                            fallback.model,
                            fallback.provider,
                            kind.as_str(),
                            route.model
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    fn validate_cache(&self) -> Result<(), Fault> {
        let cache = &self.cache;
        if !(0.0..=1.0).contains(&cache.threshold) {
            return fail(
                "cache.threshold",
                format!("{} is outside [0, 1]", cache.threshold),
            );
        }
        if cache.ttl.is_zero() {
            return fail(
                "cache.ttl",
                "must be above zero: every entry would expire as it is stored (`enabled = false` turns the cache off)",
            );
        }
        if cache.max_entries == 0 {
            return fail(
                "cache.max_entries",
                "must be at least 1 (`enabled = false` turns the cache off)",
            );
        }
        let Some(&(model, full, shortens)) = EMBEDDING_MODELS
            .iter()
            .find(|(name, _, _)| *name == cache.embedding_model)
        else {
            let known: Vec<&str> = EMBEDDING_MODELS.iter().map(|(name, _, _)| *name).collect();
            return fail(
                "cache.embedding_model",
                format!(
                    "`{}` is not a model the local embedder imitates ({})",
                    cache.embedding_model,
                    known.join(", ")
                ),
            );
        };
        let dims = cache.dimensions;
        if !shortens && dims != full {
            return fail(
                "cache.dimensions",
                format!("{model} has {full} dimensions and cannot be shortened; {dims} asked"),
            );
        }
        if !(MIN_DIMENSIONS..=full).contains(&dims) {
            return fail(
                "cache.dimensions",
                format!(
                    "{dims} is outside [{MIN_DIMENSIONS}, {full}]: fewer dimensions let unrelated prompts share cached answers, and {model} has {full}"
                ),
            );
        }
        Ok(())
    }

    fn validate_settings(&self) -> Result<(), Fault> {
        let attempts = self.retry.max_attempts;
        if !(1..=MAX_ATTEMPTS).contains(&attempts) {
            return fail(
                "retry.max_attempts",
                format!(
                    "{attempts} is outside [1, {MAX_ATTEMPTS}]: attempts count the first one, and a failure that survives {MAX_ATTEMPTS} attempts is for the circuit breaker and the fallbacks"
                ),
            );
        }
        let threshold = self.health.failure_threshold;
        if !(1..=MAX_FAILURE_THRESHOLD).contains(&threshold) {
            return fail(
                "health.failure_threshold",
                format!(
                    "{threshold} is outside [1, {MAX_FAILURE_THRESHOLD}]: a circuit that never opens keeps every request waiting on a provider that is down"
                ),
            );
        }
        if self.queue.aging.is_zero() {
            return fail(
                "queue.aging",
                "must be above zero: waiters would climb to the top class at once, which erases the priorities",
            );
        }
        match self.pricing.fallback.check() {
            Ok(()) => {}
            Err(PricingError::BadFallback {
                field,
                value,
                reason,
            }) => {
                return fail(
                    format!("pricing.fallback.{field}"),
                    format!("{value} is not a valid price: {reason}"),
                );
            }
            Err(other) => return fail("pricing.fallback", other.to_string()),
        }
        if self.body_limit == 0 {
            return fail(
                "body_limit",
                "must be at least 1 byte (no request could be read)",
            );
        }
        Ok(())
    }
}

/// The provider kind that serves calls of `kind`.
fn serving(kind: Kind) -> ProviderKind {
    match kind {
        Kind::Chat | Kind::Embeddings => ProviderKind::Openai,
        Kind::Tts => ProviderKind::Elevenlabs,
        Kind::Personality => ProviderKind::Personality,
        Kind::Webvtt => ProviderKind::Webvtt,
    }
}

/// The kind of `model` according to the price files built into the binary: the
/// kind of a well-known model does not change with a run's own prices, and a model
/// they do not know is checked for consistency only.
fn shipped_kind(model: &str) -> Option<Kind> {
    static SHIPPED: OnceLock<Option<PriceBook>> = OnceLock::new();
    SHIPPED
        .get_or_init(|| PriceBook::shipped().ok())
        .as_ref()?
        .lookup(model)
        .map(|price| price.kind)
}

#[cfg(test)]
mod tests;
