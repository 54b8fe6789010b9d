//! Tracing requests for judgement: a correlation id sent with each request, the
//! digests of the prompt sent and the content received, and the headers a target
//! profile names as claims. Only runs that keep request records trace.

use std::sync::atomic::{AtomicU64, Ordering};

use gatebench_wire::books::digest;
use http::HeaderName;

use crate::metrics::Trace;
use crate::payload::Payload;
use crate::scenario::Kind;

/// Header carrying the driver's id of a request.
pub(crate) const CORRELATION: HeaderName = HeaderName::from_static("x-request-id");
/// W3C trace context, whose trace id is derived from the request id.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The `traceparent` a traced request carries: its own trace id, a fixed parent.
pub(crate) fn traceparent(request_id: &str) -> String {
    format!(
        "00-{}-{:016x}-01",
        gatebench_wire::books::trace_id(request_id),
        1
    )
}

/// A run's tracer: shared by its requests.
#[derive(Debug)]
pub(crate) struct Tracer {
    tag: String,
    next: AtomicU64,
    capture: Vec<HeaderName>,
}

impl Tracer {
    /// Ids are `gb-TAG-N`; `capture` names the headers to keep.
    pub fn new(tag: String, capture: Vec<HeaderName>) -> Tracer {
        Tracer {
            tag,
            next: AtomicU64::new(1),
            capture,
        }
    }

    /// A trace for one request about to be sent.
    pub fn start(&self, kind: Kind, payload: &Payload) -> Box<Trace> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let prompt_digest = match kind {
            Kind::Chat
            | Kind::Completions
            | Kind::Responses
            | Kind::Embeddings
            | Kind::Tts
            | Kind::TtsTimestamps => payload.text.as_deref().map(|t| digest(t.as_bytes())),
            _ => None,
        };
        Box::new(Trace {
            client_request_id: format!("gb-{}-{n}", self.tag),
            prompt_digest,
            ..Trace::default()
        })
    }

    /// Keeps the captured headers of a response.
    pub fn capture(&self, trace: &mut Trace, headers: &http::HeaderMap) {
        for name in &self.capture {
            for value in headers.get_all(name) {
                if let Ok(text) = value.to_str() {
                    trace
                        .claims
                        .push((name.as_str().to_owned(), text.to_owned()));
                }
            }
        }
    }
}

/// What a stream of generated text delivered, for its trace.
#[derive(Debug, Default)]
pub(crate) struct StreamCapture {
    /// The first choice's text.
    pub text: String,
    /// A response's function-call arguments, which stand for its text when it
    /// has none (as the mocks digest an answer that only calls functions).
    pub arguments: String,
    /// The first chunk's `id`.
    pub id: Option<String>,
    /// The first choice's `finish_reason`.
    pub finish: Option<String>,
    /// Chunks that carried content for the first choice.
    pub chunks: u64,
}

impl StreamCapture {
    /// Completes the trace with what the stream delivered.
    pub fn finish(self, trace: &mut Trace) {
        trace.response_id = self.id;
        trace.finish_reason = self.finish;
        let text = if self.text.is_empty() {
            &self.arguments
        } else {
            &self.text
        };
        trace.content_digest = Some(digest(text.as_bytes()));
        trace.chunks = Some(self.chunks);
    }
}
