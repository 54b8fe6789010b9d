//! Stored responses (the Responses API's `store`, true unless the request says
//! false): which tenant made each, at which provider, and the routes that reach
//! them there: `GET` and `DELETE /v1/responses/{id}`, `GET
//! /v1/responses/{id}/input_items` (its query passed on).
//!
//! A provider keeps every tenant's responses under the gateway's one key, so the
//! gateway is what keeps them apart: it notes the id of each response it relays
//! (from a whole answer's body, or a stream's `response.created` event, before
//! the client reads it), and serves an id only to the tenant that made it, from
//! the provider that holds it. Any other id is answered as OpenAI answers an
//! unknown one, without a call. A continuation (`previous_response_id`) is held
//! to the same rule and goes to that provider only, not to a fallback, which
//! would not hold it, and reserves its budget for the conversation it resends (the
//! earlier response's input and output tokens, noted when its answer ends). What
//! the gateway notes is kept in the ledger's database, written with its next
//! batch, and in memory ([`KEPT_BYTES`] of it, the least used going first): an id
//! not in memory is looked up in the database, so that after a restart (or once
//! evicted) a response is still served to its tenant, and only to it, for as long
//! as OpenAI keeps one ([`gatebench_cost::RESPONSE_RETENTION`]).
//!
//! These calls are free at the provider: they are not billed, queued or cached,
//! and the ledger holds no entry for them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatebench_cost::{StoredResponse, now_ms, retained_since};
use gatebench_wire::gateway::PROVIDER;
use http::{HeaderMap, HeaderValue, Method, header};
use moka::sync::Cache;

use crate::error::GatewayError;
use crate::state::Gateway;
use crate::upstream::{AttemptError, Provider, by, read};

/// Most bytes of response ids and owners kept.
const KEPT_BYTES: u64 = 32 << 20;

/// Most ids of deleted responses remembered, and for how long: far longer than a
/// look-up of the database or a stream's end takes, which is all that could note a
/// deleted response again.
const FORGOTTEN_IDS: u64 = 16_384;
const FORGOTTEN_FOR: Duration = Duration::from_secs(600);

/// Who made a stored response, where it is, how long its conversation is, and
/// when it was made (unix milliseconds).
#[derive(Clone, Debug)]
struct Owner {
    tenant: Arc<str>,
    provider: Arc<Provider>,
    tokens: u64,
    made_ms: i64,
}

/// A stored response as the gateway knows it.
#[derive(Clone, Debug)]
pub struct Held {
    /// The provider holding it.
    pub provider: Arc<Provider>,
    /// Its input and output tokens (0 until known): what a continuation's prompt
    /// holds besides its own input.
    pub tokens: u64,
}

/// The responses the gateway relayed, by id.
pub struct Stored {
    owners: Cache<String, Owner>,
    /// Responses deleted lately. A look-up of the database that read a response
    /// just before its deletion, or a stream that ends just after it, would
    /// otherwise note it again once the deletion has forgotten it.
    forgotten: Cache<String, ()>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("responses", &self.owners.entry_count())
            .finish()
    }
}

impl Default for Stored {
    fn default() -> Stored {
        Stored {
            owners: Cache::builder()
                .weigher(|id: &String, owner: &Owner| {
                    u32::try_from(id.len() + owner.tenant.len() + 64).unwrap_or(u32::MAX)
                })
                .max_capacity(KEPT_BYTES)
                .build(),
            forgotten: Cache::builder()
                .max_capacity(FORGOTTEN_IDS)
                .time_to_live(FORGOTTEN_FOR)
                .build(),
        }
    }
}

impl Stored {
    /// Notes that `tenant`'s response `id`, of `tokens` input and output tokens
    /// (0 if not known yet), is stored at the provider named `provider` (an
    /// unknown name notes nothing).
    pub fn made(
        &self,
        gateway: &Gateway,
        id: &str,
        tenant: &Arc<str>,
        provider: &str,
        tokens: u64,
    ) {
        if let Some(provider) = gateway.upstreams.provider(provider) {
            let owner = Owner {
                tenant: Arc::clone(tenant),
                provider: Arc::clone(provider),
                tokens,
                made_ms: now_ms(),
            };
            self.keep(gateway, id, owner);
        }
    }

    /// Notes the `tokens` of a response [`Stored::made`] noted as it began (a
    /// stream's), now that it has ended; nothing if it is no longer noted (its
    /// tenant deleted it meanwhile).
    pub fn ended(&self, gateway: &Gateway, id: &str, tokens: u64) {
        if let Some(mut owner) = self.owners.get(id) {
            owner.tokens = tokens;
            self.keep(gateway, id, owner);
        }
    }

    /// Notes `owner` of `id`, in the ledger's database and in memory, unless its
    /// tenant has deleted it (a stream's end can come after the deletion).
    fn keep(&self, gateway: &Gateway, id: &str, owner: Owner) {
        let kept = StoredResponse {
            id: id.to_owned(),
            tenant: owner.tenant.to_string(),
            provider: owner.provider.name().to_owned(),
            tokens: owner.tokens,
            made_ms: owner.made_ms,
        };
        if let Err(error) = gateway.ledger.keep_response(kept) {
            tracing::error!(%error, id, "a stored response is not kept in the ledger");
        }
        // written before the deletion is looked for: a deletion that is not seen
        // here writes after it
        if !self.note(id, owner) {
            Stored::forget(gateway, id);
        }
    }

    /// Notes `owner` of `id` in memory; `false`, noting nothing, if it was deleted
    /// lately. The deletion is looked for after the note, so that one that comes
    /// between the two still finds the note and takes it out.
    fn note(&self, id: &str, owner: Owner) -> bool {
        self.owners.insert(id.to_owned(), owner);
        if self.forgotten.contains_key(id) {
            self.owners.invalidate(id);
            return false;
        }
        true
    }

    /// `tenant`'s response `id`; `None` for an id the gateway did not relay to
    /// that tenant, one past its retention (as the provider no longer holds it),
    /// or one whose provider is no longer configured.
    pub async fn held(
        gateway: &Arc<Gateway>,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Held>, GatewayError> {
        let owner = match gateway.stored.owners.get(id) {
            Some(owner) => owner,
            None => match Stored::kept(gateway, id).await? {
                Some(owner) => owner,
                None => return Ok(None),
            },
        };
        let retained = owner.made_ms >= retained_since(now_ms());
        Ok((retained && &*owner.tenant == tenant).then_some(Held {
            provider: owner.provider,
            tokens: owner.tokens,
        }))
    }

    /// The owner of `id` as the ledger's database keeps it, noted in memory again.
    async fn kept(gateway: &Arc<Gateway>, id: &str) -> Result<Option<Owner>, GatewayError> {
        let (gw, key) = (Arc::clone(gateway), id.to_owned());
        let read = tokio::task::spawn_blocking(move || gw.ledger.stored_response(&key))
            .await
            .map_err(|e| GatewayError::Internal(format!("reading stored responses: {e}")))?
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let Some(kept) = read else {
            return Ok(None);
        };
        let Some(provider) = gateway.upstreams.provider(&kept.provider) else {
            tracing::debug!(
                id,
                provider = kept.provider,
                "a stored response's provider is no longer configured"
            );
            return Ok(None);
        };
        let owner = Owner {
            tenant: Arc::from(kept.tenant),
            provider: Arc::clone(provider),
            tokens: kept.tokens,
            made_ms: kept.made_ms,
        };
        // a deletion that came while the database was read stands
        Ok(gateway
            .stored
            .note(&kept.id, owner.clone())
            .then_some(owner))
    }

    /// Forgets `id`: marked deleted first, for a note being made meanwhile to
    /// see; then in the database, so that a look-up missing memory from now on
    /// reads it gone; then in memory.
    fn forget(gateway: &Gateway, id: &str) {
        gateway.stored.forgotten.insert(id.to_owned(), ());
        if let Err(error) = gateway.ledger.forget_response(id) {
            tracing::error!(%error, id, "a deleted response is not forgotten in the ledger");
        }
        gateway.stored.owners.invalidate(id);
    }
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    reach(&gateway, &headers, &id, Method::GET, "").await
}

/// `DELETE /v1/responses/{id}`; once the provider has deleted it, the gateway
/// forgets it too.
pub async fn delete(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let response = reach(&gateway, &headers, &id, Method::DELETE, "").await;
    if response.status().is_success() {
        Stored::forget(&gateway, &id);
    }
    response
}

/// `GET /v1/responses/{id}/input_items`.
pub async fn input_items(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let rest = match query {
        Some(query) => format!("/input_items?{query}"),
        None => "/input_items".to_owned(),
    };
    reach(&gateway, &headers, &id, Method::GET, &rest).await
}

/// Sends `method` for the caller's response `id` (and `rest` of the path) to the
/// provider holding it, and passes its answer on whole.
async fn reach(
    gateway: &Arc<Gateway>,
    headers: &HeaderMap,
    id: &str,
    method: Method,
    rest: &str,
) -> Response {
    let sent = async {
        let tenant = gateway.auth.authenticate(headers, false)?;
        let provider = Stored::held(gateway, &tenant.id, id)
            .await?
            .ok_or_else(|| GatewayError::NoSuchResponse { id: id.to_owned() })?
            .provider;
        // the id is one a provider gave: it goes into the path as it came
        let path = format!("/v1/responses/{id}{rest}");
        let deadline = Instant::now() + provider.config.timeout;
        let answer = gateway
            .upstreams
            .send(&provider, method, &path, headers, Bytes::new());
        let (head, body) = by(deadline, answer)
            .await
            .map_err(unreachable)?
            .into_parts();
        let body = by(deadline, read(body)).await.map_err(unreachable)?;
        let mut response = (head.status, body).into_response();
        if let Some(kind) = head.headers.get(header::CONTENT_TYPE) {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, kind.clone());
        }
        if let Ok(name) = HeaderValue::from_str(provider.name()) {
            response.headers_mut().insert(PROVIDER, name);
        }
        Ok::<_, GatewayError>(response)
    };
    sent.await.unwrap_or_else(IntoResponse::into_response)
}

fn unreachable(error: AttemptError) -> GatewayError {
    GatewayError::Unreachable {
        timeout: matches!(error, AttemptError::Timeout),
        detail: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;

    /// A stream's end notes its tokens only for a response still noted: one its
    /// tenant deleted before the stream ended stays forgotten, in memory and in
    /// the ledger's database.
    #[tokio::test]
    async fn a_response_deleted_before_its_stream_ends_stays_forgotten() {
        let gateway = Gateway::new(GatewayConfig::demo(), ":memory:").unwrap();
        let provider = gateway.upstreams.providers()[0].name().to_owned();
        let tenant: Arc<str> = Arc::from("alpha");
        for id in ["resp_deleted", "resp_kept"] {
            gateway.stored.made(&gateway, id, &tenant, &provider, 0);
        }
        Stored::forget(&gateway, "resp_deleted");
        gateway.stored.ended(&gateway, "resp_deleted", 40);
        gateway.stored.ended(&gateway, "resp_kept", 50);

        let held = |id: &'static str, tenant: &'static str| {
            let gateway = Arc::clone(&gateway);
            async move { Stored::held(&gateway, tenant, id).await.unwrap() }
        };
        assert!(held("resp_deleted", "alpha").await.is_none());
        assert_eq!(
            gateway.ledger.stored_response("resp_deleted").unwrap(),
            None
        );
        assert_eq!(held("resp_kept", "alpha").await.unwrap().tokens, 50);
        let kept = gateway
            .ledger
            .stored_response("resp_kept")
            .unwrap()
            .unwrap();
        assert_eq!((kept.tenant.as_str(), kept.tokens), ("alpha", 50));
        assert!(held("resp_kept", "beta").await.is_none());
    }

    /// A deletion that comes while a response is noted again (a look-up of the
    /// database that read it just before, a stream's end that found it just
    /// before) stands: the late note is not kept, in memory or in the database.
    #[tokio::test]
    async fn a_note_racing_a_deletion_does_not_bring_the_response_back() {
        let gateway = Gateway::new(GatewayConfig::demo(), ":memory:").unwrap();
        let provider = Arc::clone(&gateway.upstreams.providers()[0]);
        let tenant: Arc<str> = Arc::from("alpha");
        gateway
            .stored
            .made(&gateway, "resp_1", &tenant, provider.name(), 10);
        let owner = gateway.stored.owners.get("resp_1").unwrap();
        Stored::forget(&gateway, "resp_1");

        // what the look-up read from the database before the deletion
        assert!(!gateway.stored.note("resp_1", owner.clone()));
        // what the stream's end read from memory before the deletion
        gateway.stored.keep(&gateway, "resp_1", owner);

        assert!(gateway.stored.owners.get("resp_1").is_none());
        assert_eq!(gateway.ledger.stored_response("resp_1").unwrap(), None);
        assert!(
            Stored::held(&gateway, "alpha", "resp_1")
                .await
                .unwrap()
                .is_none()
        );
    }

    /// A response made longer ago than the provider keeps one is unknown, though
    /// still in memory.
    #[tokio::test]
    async fn a_response_past_its_retention_is_unknown() {
        let gateway = Gateway::new(GatewayConfig::demo(), ":memory:").unwrap();
        let made_ago = |age: Duration| Owner {
            tenant: Arc::from("alpha"),
            provider: Arc::clone(&gateway.upstreams.providers()[0]),
            tokens: 10,
            made_ms: now_ms() - i64::try_from(age.as_millis()).unwrap(),
        };
        let day = Duration::from_secs(24 * 60 * 60);
        let retention = gatebench_cost::RESPONSE_RETENTION;
        gateway
            .stored
            .keep(&gateway, "resp_old", made_ago(retention + day));
        gateway
            .stored
            .keep(&gateway, "resp_recent", made_ago(retention - day));

        assert!(gateway.stored.owners.get("resp_old").is_some());
        assert!(
            Stored::held(&gateway, "alpha", "resp_old")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            Stored::held(&gateway, "alpha", "resp_recent")
                .await
                .unwrap()
                .is_some()
        );
    }
}
