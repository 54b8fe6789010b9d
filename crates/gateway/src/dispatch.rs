//! Getting one request through the upstreams: queue admission, attempts with
//! retries, circuit breakers, and fallbacks, in the order the plan gives.
//!
//! For each target in turn: skip it if its circuit is open; wait for a slot in its
//! queue; then attempt, retrying transient failures with backoff (holding the slot:
//! the backoff is the upstream's to spend, not another request's). Transient means
//! a connection error, a timeout, 408/409/429/5xx, a body cut before its end, or a
//! 200 whose body is not what the route returns. A response that is not transient
//! (success, or the caller's own 4xx) ends the walk. When a target is exhausted the
//! next one is tried; when all are, the last upstream error response is passed on
//! as the provider sent it, or, if there is none, the gateway answers 502/504.
//!
//! Streams can be retried only until their head arrives: once bytes flow to the
//! client, a cut is the client's to see.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatebench_cost::Usage;
use gatebench_queue::{Permit, Rejected, Ticket};
use http::{HeaderMap, Method, StatusCode};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::RetrySettings;
use crate::error::GatewayError;
use crate::health::CircuitState;
use crate::metrics::Metrics;
use crate::retry::{self, retryable_status};
use crate::timing::Timing;
use crate::upstream::{self, AttemptError, Target, Upstreams, by};

/// Checks that a successful body is what the route returns: `None` when it is not.
pub type Accept<'a> = dyn Fn(&[u8]) -> Option<Accepted> + Send + Sync + 'a;

/// A successful body the route's check took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The usage the body reports, when the check read it on its way: a body is
    /// parsed once, not once to check it and again to bill it.
    pub usage: Option<Usage>,
}

/// What to send: the same for every attempt, except the body, which a fallback may
/// rewrite (another model).
pub struct Outbound<'a> {
    /// Method.
    pub method: Method,
    /// Path and query, starting with `/`.
    pub path: &'a str,
    /// The client's headers (only safe ones are forwarded).
    pub headers: &'a HeaderMap,
    /// Stream the successful response instead of buffering it.
    pub stream: bool,
    /// For buffered responses: is a 2xx body valid, and what usage does it report?
    /// (A 200 with a malformed body is an upstream fault worth another attempt.)
    pub accept: &'a Accept<'a>,
    /// What a 2xx answer must be, streamed or not.
    pub media: Media,
}

/// The kind of body a successful answer carries. An answer of another kind (a JSON
/// body where a stream or audio was asked for) is malformed: an upstream fault worth
/// another attempt, and nothing a provider bills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// Whatever `accept` takes.
    Any,
    /// `text/event-stream`.
    EventStream,
    /// Audio: anything but JSON or text.
    Audio,
}

impl Media {
    fn fits(self, headers: &HeaderMap) -> bool {
        let kind = || {
            headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .trim()
                .as_bytes()
        };
        let starts = |kind: &[u8], prefix: &str| {
            kind.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
        };
        match self {
            Media::Any => true,
            Media::EventStream => starts(kind(), "text/event-stream"),
            Media::Audio => {
                let kind = kind();
                !(starts(kind, "application/json") || starts(kind, "text/"))
            }
        }
    }
}

/// An upstream response body.
#[derive(Debug)]
pub enum Body {
    /// Read whole.
    Buffered(Bytes),
    /// Still arriving (successful streams only).
    Streaming(upstream::Body),
}

/// A response from an upstream, still holding its upstream slot.
#[derive(Debug)]
pub struct Dispatched {
    /// Status.
    pub status: StatusCode,
    /// Upstream headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Body,
    /// Who answered.
    pub target: Target,
    /// The upstream slot, held while a streamed body is still arriving (a buffered
    /// body has released it already).
    pub permit: Option<Permit>,
    /// Upstream attempts made, across all targets.
    pub attempts: u32,
    /// What the check of a buffered successful body read from it.
    pub accepted: Accepted,
}

/// No response to pass on.
#[derive(Debug)]
pub struct Undispatched {
    /// What to answer.
    pub error: GatewayError,
    /// Upstream attempts made.
    pub attempts: u32,
    /// The provider tried last, if any.
    pub provider: Option<String>,
}

enum Attempt {
    Done(StatusCode, HeaderMap, Body, Accepted),
    Transient {
        kept: Option<(StatusCode, HeaderMap, Bytes)>,
        asked: Option<Duration>,
        failure: GatewayError,
    },
}

/// Walks `plan`. `body_for` gives the body for a target. `timing` collects queue and
/// upstream time.
#[allow(clippy::too_many_arguments)]
pub async fn dispatch(
    upstreams: &Upstreams,
    retry: &RetrySettings,
    metrics: &Metrics,
    plan: Vec<Target>,
    ticket: Ticket,
    outbound: Outbound<'_>,
    body_for: impl Fn(&Target) -> Bytes,
    timing: &mut Timing,
) -> Result<Dispatched, Undispatched> {
    let mut attempts = 0u32;
    // The last transient error response (already read), to pass on if nothing better comes.
    let mut kept: Option<(StatusCode, HeaderMap, Bytes, Target)> = None;
    let mut failure: Option<GatewayError> = None;
    let mut tried: Option<String> = None;
    for target in plan {
        let provider = &target.provider;
        tried = Some(provider.name().to_owned());
        if !provider.circuit.allow() {
            failure.get_or_insert(GatewayError::Unreachable {
                detail: format!("{} is failing (circuit open)", provider.name()),
                timeout: false,
            });
            continue;
        }
        let queued = Instant::now();
        let admitted = provider.queue.acquire(ticket.clone()).await;
        let waited = queued.elapsed();
        timing.queue += waited;
        metrics.queue_wait(provider.name(), ticket.priority.as_str(), waited);
        let permit = match admitted {
            Ok(permit) => permit,
            Err(rejected) => {
                // A refused trial frees the half-open slot for the next request.
                provider.circuit.neutral();
                failure = Some(queue_error(provider.name(), rejected));
                continue;
            }
        };
        let body = body_for(&target);
        crate::request::mark_sent();
        for attempt in 0..retry.max_attempts {
            attempts += 1;
            let started = Instant::now();
            let outcome = attempt_once(upstreams, &target, &outbound, body.clone()).await;
            timing.upstream += started.elapsed();
            let asked = match outcome {
                Attempt::Done(status, headers, body, accepted) => {
                    if status.is_success() {
                        provider.circuit.success();
                    } else {
                        provider.circuit.neutral();
                    }
                    let permit = matches!(body, Body::Streaming(_)).then_some(permit);
                    return Ok(Dispatched {
                        status,
                        headers,
                        body,
                        target,
                        permit,
                        attempts,
                        accepted,
                    });
                }
                Attempt::Transient {
                    kept: response,
                    asked,
                    failure: why,
                } => {
                    provider.circuit.failure();
                    tracing::debug!(provider = provider.name(), attempt, error = %why, "transient upstream failure");
                    failure = Some(why);
                    if let Some((status, headers, bytes)) = response {
                        kept = Some((status, headers, bytes, target.clone()));
                    }
                    asked
                }
            };
            if attempt + 1 == retry.max_attempts {
                break;
            }
            // seeded here, not held by the call: a generator's state is hundreds of
            // bytes, which every move of this future would copy
            let mut rng =
                StdRng::seed_from_u64(timing.started().elapsed().as_nanos() as u64 ^ 0x9e37_79b9);
            let Some(delay) = retry::backoff(retry, attempt, asked, &mut rng) else {
                // The provider asks for a longer pause than we wait: fall back now.
                break;
            };
            let slept = Instant::now();
            tokio::time::sleep(delay).await;
            timing.upstream += slept.elapsed();
            if provider.circuit.state() == CircuitState::Open {
                break;
            }
        }
    }
    match kept {
        Some((status, headers, bytes, target)) => Ok(Dispatched {
            status,
            headers,
            body: Body::Buffered(bytes),
            target,
            permit: None,
            attempts,
            accepted: Accepted::default(),
        }),
        None => Err(Undispatched {
            error: failure.unwrap_or_else(|| GatewayError::Unreachable {
                detail: "no upstream is configured for this route".into(),
                timeout: false,
            }),
            attempts,
            provider: tried,
        }),
    }
}

async fn attempt_once(
    upstreams: &Upstreams,
    target: &Target,
    outbound: &Outbound<'_>,
    body: Bytes,
) -> Attempt {
    let provider = &target.provider;
    // A stream's timeout bounds the wait for its head (the relay then bounds the
    // silence between chunks); any other answer's, the whole answer.
    let deadline = Instant::now() + provider.config.timeout;
    let sent = upstreams.send(
        provider,
        outbound.method.clone(),
        outbound.path,
        outbound.headers,
        body,
    );
    let (head, body) = match by(deadline, sent).await {
        Ok(response) => response.into_parts(),
        Err(error) => {
            return Attempt::Transient {
                kept: None,
                asked: None,
                failure: GatewayError::Unreachable {
                    detail: format!("{}: {error}", provider.name()),
                    timeout: matches!(error, AttemptError::Timeout),
                },
            };
        }
    };
    let (status, headers) = (head.status, head.headers);
    if status.is_success() && !outbound.media.fits(&headers) {
        return malformed(provider.name(), status);
    }
    if status.is_success() && outbound.stream {
        return Attempt::Done(status, headers, Body::Streaming(body), Accepted::default());
    }
    let read = upstream::read(body);
    let read = if outbound.stream {
        read.await
    } else {
        by(deadline, read).await
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(error) => {
            return Attempt::Transient {
                kept: None,
                asked: None,
                failure: GatewayError::Unreachable {
                    detail: format!("{}: body cut: {error}", provider.name()),
                    timeout: false,
                },
            };
        }
    };
    if retryable_status(status) {
        let asked = retry::retry_after(&headers);
        let failure = GatewayError::Unreachable {
            detail: format!("{} answered {status}", provider.name()),
            timeout: false,
        };
        return Attempt::Transient {
            kept: Some((status, headers, bytes)),
            asked,
            failure,
        };
    }
    let accepted = if status.is_success() {
        match (outbound.accept)(&bytes) {
            Some(accepted) => accepted,
            None => return malformed(provider.name(), status),
        }
    } else {
        Accepted::default()
    };
    Attempt::Done(status, headers, Body::Buffered(bytes), accepted)
}

fn malformed(provider: &str, status: StatusCode) -> Attempt {
    Attempt::Transient {
        kept: None,
        asked: None,
        failure: GatewayError::Unreachable {
            detail: format!("{provider} answered {status} with a malformed body"),
            timeout: false,
        },
    }
}

fn queue_error(provider: &str, rejected: Rejected) -> GatewayError {
    let retry_after = rejected.retry_after().max(Duration::from_millis(1));
    match rejected {
        Rejected::Full { .. } => GatewayError::QueueFull {
            provider: provider.to_owned(),
            retry_after,
        },
        Rejected::DeadlineUnmeetable { .. } | Rejected::DeadlineExpired { .. } => {
            GatewayError::Deadline {
                provider: provider.to_owned(),
                retry_after,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_bytes(value).unwrap(),
        );
        headers
    }

    #[test]
    fn a_success_fits_its_route_by_content_type_in_any_case() {
        let stream = typed(b" Text/Event-Stream; charset=utf-8");
        assert!(Media::EventStream.fits(&stream));
        assert!(!Media::EventStream.fits(&typed(b"application/json")));
        assert!(!Media::EventStream.fits(&HeaderMap::new()));
        assert!(Media::Audio.fits(&typed(b"audio/mpeg")));
        assert!(Media::Audio.fits(&HeaderMap::new()));
        assert!(!Media::Audio.fits(&typed(b"APPLICATION/JSON")));
        assert!(!Media::Audio.fits(&typed(b"text/plain")));
        assert!(!Media::Audio.fits(&stream));
        // not text: read as no type at all
        assert!(!Media::EventStream.fits(&typed(b"text/event-stream\xff")));
        assert!(Media::Audio.fits(&typed(b"text/plain\xff")));
        assert!(Media::Any.fits(&typed(b"application/json")));
    }
}
