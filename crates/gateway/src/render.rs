//! Turning a finished call ([`Done`]) into the response: the one place where a
//! call's record becomes headers and its outcome a body.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use gatebench_cache::ExactKey;
use gatebench_queue::Permit;
use http_body_util::BodyExt as _;

use crate::chat;
use crate::chat_stream::Relay;
use crate::extract::X_REQUEST_ID;
use crate::pipeline::{Answer, Done, Outcome, Store, Streaming};
use crate::state::{CachedBody, Gateway};

/// A streamed answer longer than this is relayed but not cached.
const MAX_CACHED_STREAM: usize = 16 * 1024 * 1024;

/// The response for `done`, in the form `answer` says.
pub fn render(gateway: &Arc<Gateway>, done: Done, answer: Answer) -> Response {
    let Done {
        meta,
        record,
        outcome,
    } = done;
    // a provider names every answer (`x-request-id`, which SDKs show as the
    // request's id); a hit has no provider answer of its own (an exact entry keeps
    // the id of the call that stored it), so it is named by the gateway's id
    let hit = matches!(outcome, Outcome::ExactHit(_) | Outcome::ChatHit(_));
    let (status, mut headers, body) = match outcome {
        Outcome::ExactHit(cached) => (cached.status, cached.headers, Body::from(cached.body)),
        Outcome::ChatHit(cached) => match answer {
            Answer::Chat(chat) => chat::hit(&meta, &record, &cached, chat),
            Answer::Body => {
                let error = crate::GatewayError::Internal("a chat entry on a byte route".into());
                let mut response = error.into_response();
                record.write(&meta, response.headers_mut());
                return response;
            }
        },
        Outcome::Upstream {
            status,
            headers,
            body,
        } => (status, headers, Body::from(body)),
        Outcome::Unanswered(error) => {
            let mut response = error.into_response();
            record.write(&meta, response.headers_mut());
            return response;
        }
        Outcome::Streaming(streaming) => {
            let Streaming {
                status,
                mut headers,
                upstream,
                permit,
                idle,
                reservation,
                store,
            } = *streaming;
            record.write(&meta, &mut headers);
            let body = match answer {
                Answer::Chat(chat) => {
                    let store = match store {
                        Some(Store::Semantic(keys, vector)) => Some((keys, vector)),
                        _ => None,
                    };
                    let relay = Relay::new(
                        Arc::clone(gateway),
                        meta,
                        record,
                        reservation,
                        permit,
                        upstream,
                        idle,
                        chat,
                        store,
                    );
                    relay.into_body()
                }
                Answer::Body => {
                    let store = match store {
                        Some(Store::Exact(key, entry)) => Some((key, entry)),
                        _ => None,
                    };
                    let relay = ByteRelay {
                        gateway: Arc::clone(gateway),
                        tenant: meta.tenant.id.to_string(),
                        store,
                        seen: BytesMut::new(),
                        permit,
                    };
                    Body::from_stream(relay.run(upstream, idle))
                }
            };
            return respond(status, headers, body);
        }
    };
    if hit && let Ok(id) = http::HeaderValue::from_str(&meta.id) {
        headers.insert(X_REQUEST_ID, id);
    }
    record.write(&meta, &mut headers);
    respond(status, headers, body)
}

/// A response of these parts. The headers are moved in whole: added one by one
/// (as a `(status, headers, body)` tuple does), each would be hashed again.
fn respond(status: http::StatusCode, headers: http::HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Relays a provider's stream as it comes, keeping a copy to store once it
/// completes (up to [`MAX_CACHED_STREAM`]).
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
        upstream: crate::upstream::Body,
        idle: Duration,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let chunks = upstream.into_data_stream().boxed();
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
                            "upstream stream broke: {error}"
                        ))),
                        (relay, chunks, true),
                    )),
                    Err(_) => Some((
                        Err(std::io::Error::other("upstream stream went silent")),
                        (relay, chunks, true),
                    )),
                }
            },
        )
    }
}
