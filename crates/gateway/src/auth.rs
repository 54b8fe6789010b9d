//! API keys → tenants.
//!
//! Keys are compared in constant time against every configured key, so the time a
//! refusal takes says nothing about how much of a key was right.

use std::sync::Arc;

use gatebench_queue::Priority;
use http::HeaderMap;
use rust_decimal::Decimal;
use subtle::ConstantTimeEq;

use crate::config::TenantConfig;

/// A tenant, as requests see it.
#[derive(Debug)]
pub struct Tenant {
    /// Tenant id.
    pub id: Arc<str>,
    /// Spending limit.
    pub budget_usd: Option<Decimal>,
    /// Default priority class.
    pub priority: Priority,
}

/// The key table.
#[derive(Debug)]
pub struct Auth {
    keys: Vec<(Vec<u8>, Arc<Tenant>)>,
    tenants: Vec<Arc<Tenant>>,
}

impl Auth {
    /// Builds the table from the configuration.
    pub fn new(tenants: &[TenantConfig]) -> Self {
        let mut keys = Vec::new();
        let mut all = Vec::new();
        for config in tenants {
            let tenant = Arc::new(Tenant {
                id: Arc::from(config.id.as_str()),
                budget_usd: config.budget_usd,
                priority: config.priority,
            });
            for key in &config.keys {
                keys.push((key.as_bytes().to_vec(), Arc::clone(&tenant)));
            }
            all.push(tenant);
        }
        Auth { keys, tenants: all }
    }

    /// Every tenant.
    pub fn tenants(&self) -> &[Arc<Tenant>] {
        &self.tenants
    }

    /// The tenant of the request's key: `Authorization: Bearer KEY`, or `xi-api-key`
    /// when `allow_xi` (text-to-speech routes, as the ElevenLabs SDK sends it).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        allow_xi: bool,
    ) -> Result<Arc<Tenant>, AuthError> {
        let presented = bearer(headers).or_else(|| if allow_xi { xi_key(headers) } else { None });
        let Some(presented) = presented else {
            return Err(AuthError::Missing);
        };
        let mut found: Option<&Arc<Tenant>> = None;
        // Compare against every key, even after a match, so timing does not depend
        // on where in the table (or whether) the key is.
        for (key, tenant) in &self.keys {
            let equal = bool::from(key.as_slice().ct_eq(presented.as_bytes()));
            if equal && found.is_none() {
                found = Some(tenant);
            }
        }
        found.cloned().ok_or(AuthError::Invalid)
    }
}

/// Why a request was not authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key at all.
    #[error("missing API key")]
    Missing,
    /// A key that no tenant has.
    #[error("invalid API key")]
    Invalid,
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| key.to_owned())
}

fn xi_key(headers: &HeaderMap) -> Option<String> {
    let key = headers.get("xi-api-key")?.to_str().ok()?.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(&[
            TenantConfig {
                id: "alpha".into(),
                keys: vec!["ka".into(), "ka2".into()],
                budget_usd: None,
                priority: Priority::High,
            },
            TenantConfig {
                id: "beta".into(),
                keys: vec!["kb".into()],
                budget_usd: None,
                priority: Priority::Low,
            },
        ])
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn keys_map_to_their_tenant() {
        let auth = auth();
        assert_eq!(
            &*auth
                .authenticate(&headers(&[("authorization", "Bearer ka2")]), false)
                .unwrap()
                .id,
            "alpha"
        );
        assert_eq!(
            &*auth
                .authenticate(&headers(&[("authorization", "bearer kb")]), false)
                .unwrap()
                .id,
            "beta"
        );
        assert_eq!(
            &*auth
                .authenticate(&headers(&[("xi-api-key", "kb")]), true)
                .unwrap()
                .id,
            "beta"
        );
    }

    #[test]
    fn missing_wrong_and_partial_keys_are_refused() {
        let auth = auth();
        assert_eq!(
            auth.authenticate(&HeaderMap::new(), false).unwrap_err(),
            AuthError::Missing
        );
        assert_eq!(
            auth.authenticate(&headers(&[("authorization", "Bearer k")]), false)
                .unwrap_err(),
            AuthError::Invalid
        );
        assert_eq!(
            auth.authenticate(&headers(&[("authorization", "Bearer ka3")]), false)
                .unwrap_err(),
            AuthError::Invalid
        );
        assert_eq!(
            auth.authenticate(&headers(&[("authorization", "Basic ka")]), false)
                .unwrap_err(),
            AuthError::Missing
        );
        assert_eq!(
            auth.authenticate(&headers(&[("xi-api-key", "ka")]), false)
                .unwrap_err(),
            AuthError::Missing
        );
    }
}
