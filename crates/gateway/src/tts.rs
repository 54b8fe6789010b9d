//! Text-to-speech (`POST /v1/text-to-speech/{voice_id}` and its `/stream`,
//! `/with-timestamps` and `/stream/with-timestamps` forms): exact-match cache,
//! queue, upstream, billing by the characters the provider reports in its
//! `character-cost` header.
//!
//! The cost is known from the response head, so streamed audio is billed before
//! its body flows and carries `x-gatebench-cost-usd` like the other forms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use gatebench_cache::{ExactKey, exact_key};
use gatebench_cost::{CacheOutcome, Kind, Usage};
use gatebench_queue::Permit;
use gatebench_wire::elevenlabs::{AudioWithTimestamps, CHARACTER_COST_HEADER, TextToSpeechRequest};
use http::{HeaderMap, Method};

use crate::billing::{Charge, charge, reserve};
use crate::config::ProviderKind;
use crate::dispatch::{Body as UpstreamBody, Media, Outbound};
use crate::error::GatewayError;
use crate::meta::Meta;
use crate::report::{Report, passthrough};
use crate::request::{MAX_NAME, json_object, observed, read, to_the_end, typed, with_field};
use crate::respond::{Billed, exact_hit, send, upstream_error};
use crate::state::{CachedBody, Gateway};

/// ElevenLabs' default model, used for pricing when the request names none.
pub const DEFAULT_TTS_MODEL: &str = "eleven_multilingual_v2";

/// Largest streamed audio kept for the cache.
const MAX_CACHED_STREAM: usize = 16 * 1024 * 1024;

/// Which form of the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Audio bytes.
    Convert,
    /// Audio bytes, streamed.
    Stream,
    /// JSON with base64 audio and alignment.
    WithTimestamps,
    /// Newline-delimited JSON chunks.
    StreamWithTimestamps,
}

impl Form {
    fn suffix(self) -> &'static str {
        match self {
            Form::Convert => "",
            Form::Stream => "/stream",
            Form::WithTimestamps => "/with-timestamps",
            Form::StreamWithTimestamps => "/stream/with-timestamps",
        }
    }

    fn streamed(self) -> bool {
        matches!(self, Form::Stream | Form::StreamWithTimestamps)
    }
}

macro_rules! form_handler {
    ($name:ident, $form:expr) => {
        /// Route handler.
        pub async fn $name(
            State(gateway): State<Arc<Gateway>>,
            Path(voice): Path<String>,
            RawQuery(query): RawQuery,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            let gw = &gateway;
            observed(gw, "tts", |id| async move {
                let body = read(body, gw.config.body_limit)
                    .await
                    .map_err(GatewayError::detail_shaped)?;
                let gw = Arc::clone(gw);
                to_the_end(async move {
                    serve(&gw, $form, &voice, query.as_deref(), &headers, body, id).await
                })
                .await
            })
            .await
        }
    };
}

form_handler!(convert, Form::Convert);
form_handler!(stream, Form::Stream);
form_handler!(with_timestamps, Form::WithTimestamps);
form_handler!(stream_with_timestamps, Form::StreamWithTimestamps);

fn billed_characters(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CHARACTER_COST_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

async fn serve(
    gateway: &Arc<Gateway>,
    form: Form,
    voice: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
    id: String,
) -> Result<Response, GatewayError> {
    let mut meta = Meta::read(gateway, headers, true, id).map_err(GatewayError::detail_shaped)?;
    // the voice goes into the cache key and upstream: no longer than a model name
    if voice.chars().count() > MAX_NAME {
        return Err(GatewayError::Validation {
            loc: vec!["path".into(), "voice_id".into()],
            msg: format!("String should have at most {MAX_NAME} characters"),
            kind: "string_too_long".into(),
        });
    }
    let value = json_object(&body).map_err(GatewayError::detail_shaped)?;
    let request: TextToSpeechRequest = typed(&value).map_err(GatewayError::detail_shaped)?;
    let model = request
        .model_id
        .clone()
        .unwrap_or_else(|| DEFAULT_TTS_MODEL.to_owned());
    let characters = request.text.chars().count() as u64;
    let reservation = reserve(
        gateway,
        &meta,
        &model,
        &Usage {
            characters,
            ..Usage::default()
        },
    )?;
    let path = match query {
        Some(q) if !q.is_empty() => format!("/v1/text-to-speech/{voice}{}?{q}", form.suffix()),
        _ => format!("/v1/text-to-speech/{voice}{}", form.suffix()),
    };

    let cacheable = gateway.config.cache.enabled;
    let key = exact_key(&meta.tenant.id, &path, &value);
    let outcome = if cacheable && !meta.no_cache {
        CacheOutcome::Miss
    } else {
        CacheOutcome::Bypass
    };
    if outcome == CacheOutcome::Miss {
        let looked = Instant::now();
        let found = gateway.exact_cache.get(&meta.tenant.id, &key);
        meta.timing.cache += looked.elapsed();
        if let Some(cached) = found {
            gateway.metrics.cache("tts", "hit");
            let characters = billed_characters(&cached.headers).unwrap_or(characters);
            let usage = Usage {
                characters,
                ..Usage::default()
            };
            return Ok(exact_hit(
                gateway,
                &meta,
                reservation,
                key,
                cached,
                Kind::Tts,
                usage,
            ));
        }
    }
    gateway.metrics.cache("tts", outcome.as_str());

    let plan = gateway
        .upstreams
        .plan(ProviderKind::Elevenlabs, request.model_id.as_deref());
    let accept = move |body: &[u8]| match form {
        Form::WithTimestamps => serde_json::from_slice::<AudioWithTimestamps>(body).is_ok(),
        _ => !body.is_empty(),
    };
    let outbound = Outbound {
        method: Method::POST,
        path: &path,
        headers,
        stream: form.streamed(),
        media: match form {
            Form::Convert | Form::Stream => Media::Audio,
            Form::WithTimestamps | Form::StreamWithTimestamps => Media::Any,
        },
        accept: &accept,
    };
    let billed = Billed {
        route: "tts",
        model: &model,
        kind: Kind::Tts,
        outcome,
    };
    let (dispatched, reservation) = match send(
        gateway,
        &mut meta,
        billed,
        reservation,
        plan,
        outbound,
        |target| with_field(&value, "model_id", target.model.as_deref()),
    )
    .await
    {
        Ok(sent) => sent,
        Err(response) => return Ok(response),
    };
    let provider = dispatched.target.provider.name().to_owned();
    let model = dispatched
        .target
        .model
        .clone()
        .unwrap_or_else(|| model.clone());
    let mut report = Report {
        cache: Some(outcome),
        provider: Some(provider.clone()),
        model: Some(model.clone()),
        attempts: dispatched.attempts,
        ..Report::default()
    };
    let mut response_headers = passthrough(&dispatched.headers);
    if !dispatched.status.is_success() {
        // Error responses are buffered, never streamed.
        let bytes = match dispatched.body {
            UpstreamBody::Buffered(bytes) => bytes,
            UpstreamBody::Streaming(_) => Bytes::new(),
        };
        let billed = Billed {
            model: &model,
            ..billed
        };
        return Ok(upstream_error(
            gateway,
            &meta,
            reservation,
            billed,
            &report,
            dispatched.status,
            response_headers,
            bytes,
        ));
    }
    let (billed, estimated) = match billed_characters(&dispatched.headers) {
        Some(n) => (n, false),
        None => (characters, true),
    };
    let entry = charge(
        gateway,
        &meta,
        Some(reservation),
        Charge {
            provider: Some(&provider),
            model: &model,
            kind: Kind::Tts,
            usage: Usage {
                characters: billed,
                ..Usage::default()
            },
            cache: outcome,
            attempts: dispatched.attempts,
            estimated,
            failed: false,
        },
    );
    report.cost = entry.map(|e| e.cost_usd);
    let store = (cacheable && !meta.no_store).then_some(key);
    if store.is_some() {
        report.cache_key = Some(key.to_string());
    }
    let cached = |body: Bytes, headers: &HeaderMap| CachedBody {
        status: dispatched.status,
        headers: headers.clone(),
        body,
        model: model.clone(),
        provider: provider.clone(),
    };
    match dispatched.body {
        UpstreamBody::Buffered(bytes) => {
            if let Some(key) = store {
                gateway.exact_cache.insert(
                    &meta.tenant.id,
                    key,
                    cached(bytes.clone(), &response_headers),
                );
            }
            report.write(&meta, &mut response_headers);
            Ok((dispatched.status, response_headers, bytes).into_response())
        }
        UpstreamBody::Streaming(upstream) => {
            let template = cached(Bytes::new(), &response_headers);
            report.write(&meta, &mut response_headers);
            let idle = dispatched.target.provider.config.timeout;
            let relay = ByteRelay {
                gateway: Arc::clone(gateway),
                tenant: meta.tenant.id.to_string(),
                store: store.map(|key| (key, template)),
                seen: BytesMut::new(),
                permit: dispatched.permit,
            };
            Ok((
                dispatched.status,
                response_headers,
                Body::from_stream(relay.run(upstream, idle)),
            )
                .into_response())
        }
    }
}

/// Relays audio bytes, keeping a copy for the cache when the stream completes.
struct ByteRelay {
    gateway: Arc<Gateway>,
    tenant: String,
    store: Option<(ExactKey, CachedBody)>,
    seen: BytesMut,
    permit: Option<Permit>,
}

impl ByteRelay {
    fn run(
        self,
        upstream: reqwest::Response,
        idle: Duration,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let chunks = upstream.bytes_stream().boxed();
        futures::stream::unfold(
            (self, chunks, false),
            move |(mut relay, mut chunks, ended)| async move {
                if ended {
                    return None;
                }
                match tokio::time::timeout(idle, chunks.next()).await {
                    Ok(Some(Ok(bytes))) => {
                        if relay.store.is_some() {
                            if relay.seen.len() + bytes.len() > MAX_CACHED_STREAM {
                                relay.store = None;
                            } else {
                                relay.seen.extend_from_slice(&bytes);
                            }
                        }
                        Some((Ok(bytes), (relay, chunks, false)))
                    }
                    Ok(None) => {
                        relay.permit = None;
                        if let Some((key, mut template)) = relay.store.take() {
                            template.body = std::mem::take(&mut relay.seen).freeze();
                            relay
                                .gateway
                                .exact_cache
                                .insert(&relay.tenant, key, template);
                        }
                        None
                    }
                    Ok(Some(Err(error))) => Some((
                        Err(std::io::Error::other(format!(
                            "upstream audio stream broke: {error}"
                        ))),
                        (relay, chunks, true),
                    )),
                    Err(_) => Some((
                        Err(std::io::Error::other("upstream audio stream went silent")),
                        (relay, chunks, true),
                    )),
                }
            },
        )
    }
}
