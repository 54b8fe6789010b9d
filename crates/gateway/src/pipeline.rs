//! The steps of every call, whatever its route: reserve the worst case, look in the
//! cache, send (queue, retries, fallbacks), pass an upstream error on, bill what the
//! provider reports, store. A route says what is particular to it in a [`Call`]
//! and gets back a [`Done`]: the request's [`Record`] and an [`Outcome`], which
//! [`render`](crate::render) turns into the response.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatebench_cache::{ChatKeys, ExactKey, Lookup};
use gatebench_cost::{CacheOutcome, Kind, Reservation, Usage};
use gatebench_queue::Permit;
use gatebench_tokens::Encoding;
use http::{HeaderMap, StatusCode};

use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Outbound, dispatch};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::record::{Record, passthrough, reserve};
use crate::state::{CachedBody, CachedChat, Gateway};
use crate::upstream::{Provider, Target};

#[cfg(test)]
mod tests;

/// Reads the billed units from an answer's headers and body (the body is empty
/// for a streamed answer); `None` when the answer does not say.
pub type UsageOf = dyn Fn(&HeaderMap, &[u8]) -> Option<Usage> + Send + Sync;

/// Which cache a route uses, with this request's key.
pub enum Cache<'a> {
    /// Not cached.
    None,
    /// The same request, byte for byte once normalised (embeddings, speech).
    Exact(ExactKey),
    /// The same question, by meaning (chat).
    Semantic(&'a ChatKeys),
}

/// The form of a route's answer.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Passed on as the provider sent it; a stream is billed from its headers
    /// before it is relayed.
    Body,
    /// Generated text: a hit is rendered from the cached text (chat and text
    /// completions), and a stream is read on its way through and billed when it
    /// ends.
    Chat(ChatAnswer),
}

/// Which API a generated answer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Chat completions: `choices[].message`, streamed as `delta`s.
    Chat,
    /// Legacy text completions: `choices[].text`, streamed in the same shape.
    Text,
    /// The Responses API: a `response` object, streamed as typed events that
    /// end in `response.completed` (or `incomplete`, `failed`) with the usage.
    Response,
}

/// What a generated answer (chat, text completion, response) is rendered and
/// estimated with.
#[derive(Clone, Copy, Debug)]
pub struct ChatAnswer {
    /// The API it speaks.
    pub form: Form,
    /// The client asked for a stream.
    pub stream: bool,
    /// The client asked for the usage chunk of a stream.
    pub client_usage: bool,
    /// The model's tokenizer, to count a completion whose usage is not reported.
    pub encoding: Encoding,
    /// This request's prompt tokens.
    pub prompt_tokens: u64,
}

/// What a route tells the pipeline about one request.
pub struct Call<'a> {
    /// Route label for metrics.
    pub route: &'static str,
    /// Kind of call, for prices.
    pub kind: Kind,
    /// Which providers can serve it.
    pub provider_kind: ProviderKind,
    /// The model asked for (the ledger's, unless a fallback serves another).
    pub model: &'a str,
    /// Whether the model picks the route (`false`: the kind's first provider).
    pub routed: bool,
    /// The most this request can be billed, reserved against the budget before it
    /// is sent, and billed (flagged estimated) when the answer reports no usage
    /// and the route cannot count it.
    pub worst_case: Usage,
    /// The cache and this request's key.
    pub cache: Cache<'a>,
    /// The form of the answer.
    pub answer: Answer,
    /// The request upstream.
    pub outbound: Outbound<'a>,
    /// The body for each target (a fallback may name another model).
    pub body_for: &'a (dyn Fn(&Target) -> Bytes + Send + Sync),
    /// The billed units of an answer.
    pub usage_of: &'a UsageOf,
    /// The one provider that can serve it (a continuation of a response stored
    /// there), instead of the route's plan.
    pub pinned: Option<Arc<Provider>>,
}

/// A provider's answer whose body is still arriving.
pub struct Streaming {
    /// Status for the client.
    pub status: StatusCode,
    /// The provider's headers worth passing on.
    pub headers: HeaderMap,
    /// The provider's answer's body.
    pub upstream: crate::upstream::Body,
    /// The upstream slot, to hold until the stream ends.
    pub permit: Option<Permit>,
    /// Longest silence to wait for between chunks (the provider's timeout).
    pub idle: Duration,
    /// The reservation, when the call is billed as the stream ends.
    pub reservation: Option<Reservation>,
    /// Where to store the answer once it completes.
    pub store: Option<Store>,
}

/// Where a streamed answer is stored once complete.
pub enum Store {
    /// In the exact-match cache, as this entry with the stream's bytes.
    Exact(ExactKey, CachedBody),
    /// In the semantic cache, with the query's vector if the lookup computed it.
    Semantic(ChatKeys, Option<Vec<f32>>),
}

/// How a call ended.
pub enum Outcome {
    /// An exact-match cache entry answers.
    ExactHit(CachedBody),
    /// A semantic cache entry answers.
    ChatHit(CachedChat),
    /// The provider answered, with a success or its own error.
    Upstream {
        /// Its status.
        status: StatusCode,
        /// Its headers worth passing on.
        headers: HeaderMap,
        /// Its body.
        body: Bytes,
    },
    /// The provider's answer is a stream to relay.
    Streaming(Box<Streaming>),
    /// No provider answered: the gateway's own error.
    Unanswered(GatewayError),
}

/// A call that has run: its request, its record and how it ended.
pub struct Done {
    /// The request's identity, directives and timing.
    pub meta: Meta,
    /// What happened, for the headers and the ledger.
    pub record: Record,
    /// How it ended.
    pub outcome: Outcome,
}

/// What the cache may do for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Look the request up.
    pub lookup: bool,
    /// Store a successful answer.
    pub store: bool,
}

impl CachePolicy {
    /// The policy for a request to a route that caches (`cacheable`, and a key),
    /// with the cache `enabled` in the configuration, under the request's
    /// `no-cache` and `no-store` directives.
    pub fn of(enabled: bool, cacheable: bool, no_cache: bool, no_store: bool) -> CachePolicy {
        let on = enabled && cacheable;
        CachePolicy {
            lookup: on && !no_cache,
            store: on && !no_store,
        }
    }

    /// The outcome a request has until its lookup hits.
    pub fn outcome(self) -> CacheOutcome {
        if self.lookup {
            CacheOutcome::Miss
        } else {
            CacheOutcome::Bypass
        }
    }
}

/// The usage to bill for an answer: what the provider reported, else what the
/// route counts, else the worst case; the last two flagged as estimated.
pub fn billed(reported: Option<Usage>, counted: Option<Usage>, worst_case: Usage) -> (Usage, bool) {
    match (reported, counted) {
        (Some(usage), _) => (usage, false),
        (None, Some(usage)) => (usage, true),
        (None, None) => (worst_case, true),
    }
}

/// The usage of a semantic hit: this request's prompt, as many of its tokens from
/// the provider's prompt cache as the original call had, and the cached completion.
pub fn chat_hit_usage(prompt_tokens: u64, cached: &CachedChat) -> Usage {
    Usage {
        prompt_tokens,
        cached_tokens: cached.cached_tokens.min(prompt_tokens),
        completion_tokens: cached.completion_tokens,
        ..Usage::default()
    }
}

/// Runs `call` for the request `meta` describes. The error is a refusal before
/// anything was reserved or sent (over budget).
///
/// The steps' future is boxed: it is most of a route's future, which is moved
/// several times on its way to the connection's task (into the handler's box,
/// [`to_the_end`](crate::request::to_the_end)'s), each move a copy of its whole
/// size.
pub fn run<'a>(
    gateway: &'a Gateway,
    meta: Meta,
    call: Call<'a>,
) -> Pin<Box<impl Future<Output = Result<Done, GatewayError>> + Send + 'a>> {
    Box::pin(steps(gateway, meta, call))
}

async fn steps(gateway: &Gateway, mut meta: Meta, call: Call<'_>) -> Result<Done, GatewayError> {
    let reservation = reserve(gateway, &meta, call.model, &call.worst_case)?;
    let mut record = Record::new(call.route, call.kind, call.model);
    let cacheable = !matches!(call.cache, Cache::None);
    let policy = CachePolicy::of(
        gateway.config.cache.enabled,
        cacheable,
        meta.no_cache,
        meta.no_store,
    );
    record.cache = policy.outcome();

    let mut vector = None;
    if policy.lookup {
        let looked = Instant::now();
        let hit = match &call.cache {
            Cache::None => None,
            Cache::Exact(key) => gateway.exact_cache.get(&meta.tenant.id, key).map(|cached| {
                let usage =
                    (call.usage_of)(&cached.headers, &cached.body).unwrap_or(call.worst_case);
                let (provider, model) = (cached.provider.clone(), cached.model.clone());
                record.hit(&provider, &model, 1.0, key.to_string(), usage);
                Outcome::ExactHit(cached)
            }),
            Cache::Semantic(keys) => {
                match gateway
                    .chat_cache
                    .lookup(&meta.tenant.id, keys, |q| gateway.embedder.embed(q))
                {
                    Lookup::Hit(hit) => {
                        let cached = hit.value;
                        let usage = chat_hit_usage(call.worst_case.prompt_tokens, &cached);
                        let (provider, model) = (cached.provider.clone(), cached.model.clone());
                        record.hit(
                            &provider,
                            &model,
                            hit.similarity,
                            hit.key.to_string(),
                            usage,
                        );
                        Some(Outcome::ChatHit(cached))
                    }
                    Lookup::Miss(miss) => {
                        vector = Some(miss.vector);
                        None
                    }
                }
            }
        };
        meta.timing.cache += looked.elapsed();
        if let Some(outcome) = hit {
            gateway.metrics.cache(call.route, "hit");
            record.charge(gateway, &meta, Some(reservation));
            return Ok(Done {
                meta,
                record,
                outcome,
            });
        }
    }
    gateway.metrics.cache(call.route, record.cache.as_str());

    let mut plan = gateway
        .upstreams
        .plan(call.provider_kind, call.routed.then_some(call.model));
    if let Some(pinned) = call.pinned {
        // the route's model for that provider, if the route still goes there
        plan.retain(|t| Arc::ptr_eq(&t.provider, &pinned));
        plan.truncate(1);
        if plan.is_empty() {
            plan.push(Target {
                provider: pinned,
                model: None,
            });
        }
    }
    let ticket = meta.ticket();
    let sent = dispatch(
        &gateway.upstreams,
        &gateway.config.retry,
        &gateway.metrics,
        plan,
        ticket,
        call.outbound,
        call.body_for,
        &mut meta.timing,
    )
    .await;
    let dispatched = match sent {
        Ok(dispatched) => dispatched,
        Err(undispatched) => {
            gateway.metrics.attempts(call.route, undispatched.attempts);
            record.provider = undispatched.provider;
            record.attempts = undispatched.attempts;
            record.fail(gateway, &meta, reservation);
            return Ok(Done {
                meta,
                record,
                outcome: Outcome::Unanswered(undispatched.error),
            });
        }
    };
    gateway.metrics.attempts(call.route, dispatched.attempts);
    record.served_by(&dispatched.target, dispatched.attempts);
    let headers = passthrough(dispatched.headers);
    let status = dispatched.status;
    let done = |meta, record, outcome| {
        Ok(Done {
            meta,
            record,
            outcome,
        })
    };

    let upstream = match dispatched.body {
        UpstreamBody::Streaming(upstream) if status.is_success() => upstream,
        other => {
            drop(dispatched.permit);
            let body = match other {
                UpstreamBody::Buffered(body) => body,
                UpstreamBody::Streaming(_) => Bytes::new(),
            };
            if !status.is_success() {
                record.fail(gateway, &meta, reservation);
            } else {
                let reported = dispatched
                    .accepted
                    .usage
                    .or_else(|| (call.usage_of)(&headers, &body));
                let counted = match (reported, call.answer) {
                    (None, Answer::Chat(chat)) => crate::chat::count_usage(&body, chat),
                    _ => None,
                };
                (record.usage, record.estimated) = billed(reported, counted, call.worst_case);
                record.charge(gateway, &meta, Some(reservation));
                if policy.store {
                    let stored = Stored {
                        cache: &call.cache,
                        answer: call.answer,
                        vector,
                    };
                    store(gateway, &meta, &mut record, stored, status, &headers, &body);
                }
            }
            let outcome = Outcome::Upstream {
                status,
                headers,
                body,
            };
            return done(meta, record, outcome);
        }
    };
    let idle = dispatched.target.provider.config.timeout;
    let keep = policy.store.then_some(&call.cache);
    let (reservation, store) = match call.answer {
        Answer::Chat(_) => {
            let store = match keep {
                Some(Cache::Semantic(keys)) => {
                    record.cache_key = Some(keys.exact.to_string());
                    Some(Store::Semantic((*keys).clone(), vector))
                }
                _ => None,
            };
            (Some(reservation), store)
        }
        Answer::Body => {
            let reported = (call.usage_of)(&headers, &[]);
            (record.usage, record.estimated) = billed(reported, None, call.worst_case);
            record.charge(gateway, &meta, Some(reservation));
            let store = match keep {
                Some(Cache::Exact(key)) => {
                    record.cache_key = Some(key.to_string());
                    let entry = exact_entry(&record, status, &headers, Bytes::new());
                    Some(Store::Exact(*key, entry))
                }
                _ => None,
            };
            (None, store)
        }
    };
    let streaming = Streaming {
        status,
        headers,
        upstream,
        permit: dispatched.permit,
        idle,
        reservation,
        store,
    };
    done(meta, record, Outcome::Streaming(Box::new(streaming)))
}

/// Where a buffered answer is stored: the route's cache and key, the form of its
/// answer, and the query's vector if the lookup computed it.
struct Stored<'a, 'c> {
    cache: &'a Cache<'c>,
    answer: Answer,
    vector: Option<Vec<f32>>,
}

/// Stores a successful buffered answer and names the entry in the record.
fn store(
    gateway: &Gateway,
    meta: &Meta,
    record: &mut Record,
    Stored {
        cache,
        answer,
        vector,
    }: Stored<'_, '_>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
) {
    match cache {
        Cache::None => {}
        Cache::Exact(key) => {
            let cached = exact_entry(record, status, headers, body.clone());
            gateway.exact_cache.insert(&meta.tenant.id, *key, cached);
            record.cache_key = Some(key.to_string());
        }
        Cache::Semantic(keys) => {
            let (Answer::Chat(chat), provider) =
                (answer, record.provider.as_deref().unwrap_or_default())
            else {
                return;
            };
            let Some(cached) =
                crate::chat::to_cached(body, chat.form, &record.model, provider, &record.usage)
            else {
                return;
            };
            let vector = vector.unwrap_or_else(|| gateway.embedder.embed(&keys.query));
            match gateway
                .chat_cache
                .insert(&meta.tenant.id, keys, &vector, cached)
            {
                Ok(key) => record.cache_key = Some(key.to_string()),
                Err(error) => tracing::warn!(%error, "cache insert failed"),
            }
        }
    }
}

/// The exact-match cache entry of an answer `record` describes. Of its headers it
/// keeps those that describe the body (its type, ElevenLabs' `character-cost`):
/// the rest (`x-ratelimit-*`, processing time, the provider's request id) told of
/// the call that stored it, which a hit does not make.
fn exact_entry(
    record: &Record,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
) -> CachedBody {
    const KEPT: [http::HeaderName; 2] = [
        http::header::CONTENT_TYPE,
        http::HeaderName::from_static("character-cost"),
    ];
    let mut kept = HeaderMap::with_capacity(KEPT.len());
    for name in KEPT {
        if let Some(value) = headers.get(&name) {
            kept.insert(name, value.clone());
        }
    }
    CachedBody {
        status,
        headers: kept,
        body,
        model: record.model.clone(),
        provider: record.provider.clone().unwrap_or_default(),
    }
}
