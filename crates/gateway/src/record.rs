//! One request's record: what the gateway did with a call, from its reservation to
//! its bill. The same record writes the headers that tell the caller and yields the
//! entry the ledger keeps, so the two cannot disagree.
//!
//! | header                          | value                                               |
//! |---------------------------------|-----------------------------------------------------|
//! | `x-gatebench-request-id`        | the gateway's id (also in the ledger)               |
//! | `x-gatebench-cache`             | `hit`, `miss` or `bypass`                           |
//! | `x-gatebench-cache-similarity`  | cosine similarity of the entry served (hits)        |
//! | `x-gatebench-cache-key`         | the cache entry served (hit) or stored (miss)       |
//! | `x-gatebench-cost-usd`          | exact cost of this call (streams: an SSE comment `: x-gatebench-cost-usd COST` before `[DONE]`) |
//! | `x-gatebench-provider`          | the provider that answered                          |
//! | `x-gatebench-model`             | the model that answered (differs after a fallback)  |
//! | `x-gatebench-attempts`          | upstream attempts made, retries and fallbacks included |
//! | `server-timing`                 | queue, cache, upstream and total durations          |

use std::fmt::Write as _;
use std::ops::Range;

use bytes::Bytes;
use gatebench_cost::{CacheOutcome, Call, Kind, Reservation, Usage};
use http::{HeaderMap, HeaderName, HeaderValue};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use gatebench_wire::gateway::{
    ATTEMPTS, CACHE, CACHE_KEY, COST, MODEL, PROVIDER, REQUEST_ID, SERVER_TIMING, SIMILARITY,
};

use crate::error::GatewayError;
use crate::meta::Meta;
use crate::state::Gateway;
use crate::upstream::Target;

/// What the gateway did with one request's call.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Route label for metrics.
    pub route: &'static str,
    /// Kind of call, for prices.
    pub kind: Kind,
    /// The model asked for, then the one that served (a fallback may be another).
    pub model: String,
    /// The provider that served, or was tried last.
    pub provider: Option<String>,
    /// A provider or the cache answered, with `model`.
    pub answered: bool,
    /// What the cache did.
    pub cache: CacheOutcome,
    /// Similarity of the entry a hit served.
    pub similarity: Option<f32>,
    /// The cache entry served (hit) or stored (miss).
    pub cache_key: Option<String>,
    /// Upstream attempts, retries and fallbacks included.
    pub attempts: u32,
    /// Billed units (for a hit: this request's units, priced as the saving).
    pub usage: Usage,
    /// The usage was counted by the gateway, not reported by the provider.
    pub estimated: bool,
    /// No provider answered with a success: the call costs nothing but counts.
    pub failed: bool,
    /// What the call cost, once billed.
    pub cost: Option<Decimal>,
}

impl Record {
    /// The record of a call to `model` not yet looked up or sent.
    pub fn new(route: &'static str, kind: Kind, model: &str) -> Record {
        Record {
            route,
            kind,
            model: model.to_owned(),
            provider: None,
            answered: false,
            cache: CacheOutcome::Bypass,
            similarity: None,
            cache_key: None,
            attempts: 0,
            usage: Usage::default(),
            estimated: false,
            failed: false,
            cost: None,
        }
    }

    /// `target` answered after `attempts` attempts.
    pub fn served_by(&mut self, target: &Target, attempts: u32) {
        self.provider = Some(target.provider.name().to_owned());
        self.answered = true;
        if let Some(model) = &target.model {
            self.model.clone_from(model);
        }
        self.attempts = attempts;
    }

    /// A cache entry answered: produced by `model` at `provider`, `similarity`
    /// close, saving the price of `usage`.
    pub fn hit(&mut self, provider: &str, model: &str, similarity: f32, key: String, usage: Usage) {
        self.cache = CacheOutcome::Hit;
        self.provider = Some(provider.to_owned());
        self.answered = true;
        self.model = model.to_owned();
        self.similarity = Some(similarity);
        self.cache_key = Some(key);
        self.usage = usage;
    }

    /// The call as the price book bills it.
    pub fn call<'a>(&'a self, meta: &'a Meta) -> Call<'a> {
        Call {
            tenant: &meta.tenant.id,
            request_id: &meta.id,
            provider: self.provider.as_deref(),
            model: &self.model,
            kind: self.kind,
            usage: self.usage,
            cache: self.cache,
            attempts: self.attempts,
            estimated: self.estimated,
            failed: self.failed,
        }
    }

    /// Bills the call, records its ledger entry, settles `reservation` with the
    /// real cost, and keeps the cost for the headers. A call that cannot be priced
    /// (a price file that does not cover what a provider reported) is logged as an
    /// error and settles at zero.
    pub fn charge(&mut self, gateway: &Gateway, meta: &Meta, reservation: Option<Reservation>) {
        let entry = match gateway.prices.bill(&self.call(meta)) {
            Ok(entry) => entry,
            Err(error) => {
                tracing::error!(%error, model = %self.model, request_id = %meta.id, "call could not be priced");
                if let Some(r) = reservation {
                    r.settle(Decimal::ZERO);
                }
                return;
            }
        };
        let cost = entry.cost_usd;
        if let Some(r) = reservation {
            r.settle(cost);
        }
        self.cost = Some(cost);
        gateway.metrics.money(
            &meta.tenant.id,
            cost.to_f64().unwrap_or(0.0),
            entry.saved_usd.to_f64().unwrap_or(0.0),
        );
        if let Err(error) = gateway.ledger.record(entry) {
            tracing::error!(%error, request_id = %meta.id, "ledger refused an entry");
        }
    }

    /// Records a call no provider answered with a success: no usage, cost 0, but
    /// counted; its reservation is released.
    pub fn fail(&mut self, gateway: &Gateway, meta: &Meta, reservation: Reservation) {
        self.failed = true;
        self.usage = Usage::default();
        self.estimated = false;
        self.charge(gateway, meta, Some(reservation));
    }

    /// Writes the record into `headers` (server-timing measured now). The values'
    /// text is written side by side into one buffer that the headers then share:
    /// one allocation for them all, not one (or two) each.
    pub fn write(&self, meta: &Meta, headers: &mut HeaderMap) {
        let mut text = String::with_capacity(192);
        let mut digits = itoa::Buffer::new();
        let values = [
            Some((REQUEST_ID, span(&mut text, |t| t.push_str(&meta.id)))),
            Some((CACHE, span(&mut text, |t| t.push_str(self.cache.as_str())))),
            self.similarity.map(|similarity| {
                let written = span(&mut text, |t| {
                    let _ = write!(t, "{similarity:.4}");
                });
                (SIMILARITY, written)
            }),
            self.cache_key
                .as_ref()
                .map(|key| (CACHE_KEY, span(&mut text, |t| t.push_str(key)))),
            self.cost.map(|cost| {
                let written = span(&mut text, |t| {
                    gatebench_cost::write_text(cost.normalize(), t);
                });
                (COST, written)
            }),
            self.provider
                .as_ref()
                .map(|name| (PROVIDER, span(&mut text, |t| t.push_str(name)))),
            self.answered
                .then(|| (MODEL, span(&mut text, |t| t.push_str(&self.model)))),
            Some((
                ATTEMPTS,
                span(&mut text, |t| t.push_str(digits.format(self.attempts))),
            )),
            Some((SERVER_TIMING, span(&mut text, |t| meta.timing.write(t)))),
        ];
        let text = Bytes::from(text);
        headers.reserve(RECORD_HEADERS);
        for (name, span) in values.into_iter().flatten() {
            // a value that is not header text (a model name with a line break) is left out
            if let Ok(value) = HeaderValue::from_maybe_shared(text.slice(span)) {
                headers.insert(name, value);
            }
        }
    }
}

/// Writes a value at the end of `text`, returning where it lies.
fn span(text: &mut String, write: impl FnOnce(&mut String)) -> Range<usize> {
    let start = text.len();
    write(text);
    start..text.len()
}

/// Reserves the most a call could cost, whichever model of its route serves it (a
/// fallback may cost more than the model asked for), or refuses it (429
/// `insufficient_quota`).
pub fn reserve(
    gateway: &Gateway,
    meta: &Meta,
    model: &str,
    worst: &Usage,
) -> Result<Reservation, GatewayError> {
    let needed = gateway
        .upstreams
        .candidate_models(model)
        .filter_map(|candidate| gateway.prices.quote_worst(candidate, worst).ok())
        .map(|q| q.cost_usd)
        .max()
        .unwrap_or_default();
    gateway
        .budgets
        .reserve(&meta.tenant.id, needed)
        .map_err(|over| GatewayError::OverBudget {
            tenant: over.tenant.clone(),
            remaining: (over.limit - over.spent - over.reserved).max(Decimal::ZERO),
            needed: over.requested,
        })
}

/// Headers [`Record::write`] adds at most.
const RECORD_HEADERS: usize = 9;

/// Upstream response headers worth passing back: the content type and the
/// provider's own metadata (rate limits, request ids, character cost), never
/// hop-by-hop or length headers (the gateway sets its own framing). The others
/// are taken out of the provider's map, which is kept: a map built anew would
/// hash each name again and copy each provider-specific one.
pub fn passthrough(mut headers: HeaderMap) -> HeaderMap {
    while let Some(name) = headers.keys().find(|name| !passes(name)).cloned() {
        headers.remove(&name);
    }
    // room for the record's headers, so writing them does not grow the map
    headers.reserve(RECORD_HEADERS);
    headers
}

/// Whether [`passthrough`] keeps an upstream header.
fn passes(name: &HeaderName) -> bool {
    use http::header;
    static DROP: [HeaderName; 11] = [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::UPGRADE,
        header::TE,
        header::TRAILER,
        HeaderName::from_static("proxy-connection"),
        header::DATE,
        header::SERVER,
        SERVER_TIMING,
    ];
    !(DROP.contains(name) || name.as_str().starts_with("x-gatebench-"))
}
