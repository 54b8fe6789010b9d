//! The HTTP client of the hot path: one HTTP/1.1 connection per VU and endpoint, as
//! oha does, and exactly one outcome per request.
//!
//! A VU keeps its connections alive between iterations and opens a new one only after
//! the previous one closed or failed. Every request ends in one [`Sample`], whatever
//! happens: a response of any status, a failure before the response, a timeout (the
//! whole exchange, body included, is bounded by the request's timeout) or an
//! interruption when the run's grace period runs out.

mod chain;
pub(crate) use chain::Chains;
pub use chain::TOOL_OUTPUT;
mod conn;
mod gateway;
mod sse;
pub(crate) mod tls;
pub(crate) mod trace;
mod validate;
mod ws;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;

use conn::{Body, Conn, Slot, drive};
pub use gateway::parse_server_timing;
pub(crate) use validate::check_body;
pub use validate::response_digest;

use crate::Outcome;
use crate::metrics::Sample;
use crate::metrics::aggregator::Outbox;
use crate::payload::Payload;
use crate::scenario::Kind;
use crate::targets::Endpoint;

/// A request ready to be sent many times: everything but the payload.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// Global request index (for the aggregator).
    pub index: u32,
    /// Kind.
    pub kind: Kind,
    /// Streamed (chat stream, TTS stream).
    pub stream: bool,
    /// Index into the run's endpoints.
    pub endpoint: usize,
    /// Method.
    pub method: Method,
    /// Path and query, behind the target's prefix.
    pub path: String,
    /// The path, parsed once rather than for every request.
    pub uri: http::Uri,
    /// Headers sent with every request (auth, priority, content type, extras).
    pub headers: HeaderMap,
    /// Timeout of the whole exchange.
    pub timeout: Duration,
    /// Traces each request (runs that keep request records).
    pub tracer: Option<Arc<trace::Tracer>>,
    /// Open conversations, for a `responses` request of several turns.
    pub chains: Option<Arc<chain::Chains>>,
}

/// Times of a run: offsets are µs since `start`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub start: Instant,
}

impl Clock {
    pub fn us(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_micros()).unwrap_or(u64::MAX)
    }
}

/// A VU's open connections, one slot per endpoint, and the timer of its requests.
#[derive(Default)]
pub(crate) struct Conns {
    slots: Vec<Slot>,
    /// Bounds each request in turn. A timer is registered with the runtime when
    /// first polled and removed when dropped, both under the timer's lock; moved to
    /// a later deadline it stays registered and costs neither.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Conns {
    pub fn new(endpoints: usize) -> Conns {
        Conns {
            slots: (0..endpoints).map(|_| Slot::Empty).collect(),
            timer: None,
        }
    }

    /// Keeps the idle connections' sockets and drops hyper's buffers and request
    /// channels until the next request (`client::conn`): for a VU about to be idle
    /// for long.
    pub fn park(&mut self) {
        self.slots.iter_mut().for_each(Slot::park);
    }
}

/// `work`'s output, or `None` if `timer` elapses first (`work` is polled first,
/// so an answer that is in wins over the deadline).
async fn within<F: Future>(
    timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: tokio::time::Instant,
    mut work: Pin<&mut F>,
) -> Option<F::Output> {
    let timer = match timer {
        Some(timer) => {
            timer.as_mut().reset(deadline);
            timer
        }
        None => timer.insert(Box::pin(tokio::time::sleep_until(deadline))),
    };
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// What the exchange itself found out (everything but the timing of its end).
struct Exchange {
    outcome: Outcome,
    status: u16,
    ttfb: Option<Instant>,
    ttft: Option<Instant>,
    itl_us: Option<u64>,
    tokens_per_s: Option<f64>,
    bytes: u64,
    usage: Option<crate::metrics::Usage>,
    tts_characters: Option<u64>,
    gateway: Option<Box<crate::metrics::GatewayInfo>>,
    trace: Option<Box<crate::metrics::Trace>>,
    /// What an error answer said (its message, shortened).
    error: Option<Box<crate::metrics::Said>>,
    /// When the last byte arrived (saves reading the clock twice).
    end: Option<Instant>,
    /// What a conversation continues from (chained requests).
    answer: Option<chain::Answer>,
}

impl Exchange {
    fn failed(outcome: Outcome) -> Exchange {
        Exchange {
            outcome,
            status: 0,
            ttfb: None,
            ttft: None,
            itl_us: None,
            tokens_per_s: None,
            bytes: 0,
            usage: None,
            tts_characters: None,
            gateway: None,
            trace: None,
            error: None,
            end: None,
            answer: None,
        }
    }
}

/// Sends an `interrupted` sample if a request's future is dropped before it finishes
/// (its task aborted when the run's grace period ran out), so that no request sent
/// goes uncounted.
struct InFlight<'a> {
    outbox: Outbox<'a>,
    clock: &'a Clock,
    request: u32,
    intended: Instant,
    sent: Instant,
    intent: Option<Arc<str>>,
    trace: Option<Box<crate::metrics::Trace>>,
    armed: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut ex = Exchange::failed(Outcome::Interrupted);
            ex.trace = self.trace.take();
            let sample = ex.into_sample(
                self.clock,
                self.request,
                self.intended,
                self.sent,
                Instant::now(),
                self.intent.take(),
            );
            self.outbox.send(sample);
        }
    }
}

impl Exchange {
    fn into_sample(
        self,
        clock: &Clock,
        request: u32,
        intended: Instant,
        sent: Instant,
        end: Instant,
        intent: Option<Arc<str>>,
    ) -> Sample {
        let since_sent = |t: Instant| {
            u64::try_from(t.saturating_duration_since(sent).as_micros()).unwrap_or(u64::MAX)
        };
        Sample {
            request,
            outcome: self.outcome,
            status: self.status,
            intended_us: clock.us(intended),
            sent_us: clock.us(sent),
            end_us: clock.us(end),
            ttfb_us: self.ttfb.map(since_sent),
            ttft_us: self.ttft.map(since_sent),
            itl_us: self.itl_us,
            tokens_per_s: self.tokens_per_s,
            bytes: self.bytes,
            usage: self.usage,
            tts_characters: self.tts_characters,
            gateway: self.gateway,
            error: self.error,
            intent,
            trace: self.trace,
        }
    }
}

/// Sends one request, classifies what happened and reports it to `outbox`. Every path
/// reports exactly one sample, even when the future is dropped midway. `intended` is
/// the open-loop schedule's time (`None` in closed loops: the send time).
pub(crate) async fn execute(
    conns: &mut Conns,
    endpoints: &[Endpoint],
    prepared: &Prepared,
    payload: Payload,
    clock: &Clock,
    intended: Option<Instant>,
    outbox: Outbox<'_>,
) {
    let sent = Instant::now();
    let intended = intended.unwrap_or(sent);
    // a conversation of several turns continues where its last answer left it
    let mut payload = payload;
    let link = prepared.chains.as_ref().and_then(|c| c.take());
    let asked = prepared.chains.as_ref().map(|_| chain::Asked {
        text: payload.text.clone(),
        intent: payload.intent.clone(),
    });
    if let (Some(chains), Some(link)) = (&prepared.chains, &link) {
        chains.continue_payload(&mut payload, link);
    }
    let trace = prepared
        .tracer
        .as_ref()
        .filter(|_| prepared.kind != Kind::TtsWs)
        .map(|t| t.start(prepared.kind, &payload));
    let mut guard = InFlight {
        outbox,
        clock,
        request: prepared.index,
        intended,
        sent,
        intent: payload.intent.clone(),
        // what is known of a traced request before any answer, should none come
        trace: trace.as_ref().map(|t| {
            Box::new(crate::metrics::Trace {
                client_request_id: t.client_request_id.clone(),
                prompt_digest: t.prompt_digest.clone(),
                ..Default::default()
            })
        }),
        armed: true,
    };
    let deadline = tokio::time::Instant::from_std(sent + prepared.timeout);
    let endpoint = &endpoints[prepared.endpoint];
    let ex = {
        let slot = &mut conns.slots[prepared.endpoint];
        let work = async {
            if prepared.kind == Kind::TtsWs {
                // boxed: its state is large and would otherwise bloat every request's future
                Box::pin(ws::exchange(endpoint, prepared, payload)).await
            } else {
                http_exchange(slot, endpoint, prepared, payload, sent, trace).await
            }
        };
        // pinned in place so that the timeout wraps a pointer, not a copy of the state
        let work = std::pin::pin!(work);
        match within(&mut conns.timer, deadline, work).await {
            Some(ex) => ex,
            None => Exchange::failed(Outcome::Timeout),
        }
    };
    if !matches!(
        ex.outcome,
        Outcome::Ok | Outcome::Http(_) | Outcome::ValidationFailure | Outcome::StreamError
    ) {
        // the connection's state is unknown after a failure mid-exchange
        conns.slots[prepared.endpoint] = Slot::Empty;
    }
    guard.armed = false;
    let mut ex = ex;
    if let (Some(chains), Outcome::Ok, Some(answer), Some(asked)) =
        (&prepared.chains, ex.outcome, ex.answer.take(), asked)
    {
        let asked = match &link {
            Some(link) => link.asked(asked),
            None => asked,
        };
        chains.answered(answer, asked, link.as_ref());
    }
    if ex.trace.is_none() {
        ex.trace = guard.trace.take();
    }
    let end = ex.end.unwrap_or_else(Instant::now);
    let sample = ex.into_sample(
        clock,
        prepared.index,
        intended,
        sent,
        end,
        guard.intent.take(),
    );
    outbox.send(sample);
}

/// Bytes of an error answer read for its message.
const ERROR_BODY_MAX: usize = 4096;
/// Characters of an error message kept.
const ERROR_MESSAGE_MAX: usize = 200;

/// The message of an error answer, in the shapes providers use: OpenAI's
/// `{"error":{"message"}}`, `{"error":"..."}`, ElevenLabs' and FastAPI's `{"detail"}`
/// (a string, `{"message"}` or `[{"msg"}]`), `{"message"}`; else the body's text.
fn error_message(body: &[u8]) -> Option<Box<crate::metrics::Said>> {
    use serde_json::Value;
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let pick = |v: &Value| -> Option<String> {
                match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o
                        .get("message")
                        .or_else(|| o.get("msg"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    Value::Array(a) => a.first().and_then(|x| {
                        x.get("msg")
                            .or_else(|| x.get("message"))
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    }),
                    _ => None,
                }
            };
            ["error", "detail", "message"]
                .iter()
                .find_map(|k| v.get(*k).and_then(pick))
                .unwrap_or_else(|| v.to_string())
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    let mut short: String = text.chars().take(ERROR_MESSAGE_MAX).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    Some(Box::new(crate::metrics::Said(short)))
}

fn classify_send_error(e: &hyper::Error) -> Outcome {
    if e.is_parse() || e.is_parse_status() {
        Outcome::MalformedBody
    } else if e.is_timeout() {
        Outcome::Timeout
    } else {
        // closed, incomplete or reset before a response: the server dropped us
        Outcome::Reset
    }
}

async fn http_exchange(
    slot: &mut Slot,
    endpoint: &Endpoint,
    prepared: &Prepared,
    payload: Payload,
    sent: Instant,
    mut trace: Option<Box<crate::metrics::Trace>>,
) -> Exchange {
    let mut unsent = None;
    // a request the connection never wrote (it had closed, say while the VU thought)
    // goes out once more, on a new connection
    for reconnect in [false, true] {
        if reconnect || !matches!(slot, Slot::Open(c) if c.open_for_requests()) {
            let opened = match std::mem::take(slot) {
                Slot::Parked(parked) if !reconnect => parked.resume().await,
                // boxed: connecting is rare and its state would bloat every request's future
                _ => Box::pin(Conn::open(endpoint)).await,
            };
            match opened {
                Ok(c) => *slot = Slot::Open(c),
                Err(o) => return Exchange::failed(o),
            }
        }
        let Slot::Open(Conn { sender, driver }) = slot else {
            return Exchange::failed(Outcome::Reset);
        };
        let request = unsent.take().unwrap_or(Outgoing::First(&payload.body));
        let work = std::pin::pin!(exchange_on(sender, request, prepared, sent, trace));
        match drive(driver, work).await {
            Sent::Answered(ex) => return ex,
            Sent::Unsent(r, t) => (unsent, trace) = (Some(Outgoing::Again(r)), t),
        }
    }
    Exchange::failed(Outcome::Reset)
}

/// A request to hand to a connection.
enum Outgoing<'a> {
    /// Not built yet: built where it is handed over, so that it is not moved on
    /// the way.
    First(&'a bytes::Bytes),
    /// Built, and given back unsent by a connection that closed.
    Again(Box<Request<Body>>),
}

/// The request with the prepared method, path and headers, a traced request's
/// ids, and `body`.
fn build_request(
    prepared: &Prepared,
    body: bytes::Bytes,
    trace: Option<&crate::metrics::Trace>,
) -> Request<Body> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = prepared.method.clone();
    *request.uri_mut() = prepared.uri.clone();
    // `Host` is among the prepared headers
    let headers = request.headers_mut();
    headers.clone_from(&prepared.headers);
    if let Some(t) = trace {
        for (name, value) in [
            (trace::CORRELATION, t.client_request_id.clone()),
            (trace::TRACEPARENT, trace::traceparent(&t.client_request_id)),
        ] {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    request
}

/// How an exchange on a connection ended.
enum Sent {
    /// With an answer, or a failure after the request was written.
    Answered(Exchange),
    /// The connection closed before writing the request: it is handed back, with
    /// its trace, to be sent on another.
    Unsent(Box<Request<Body>>, Option<Box<crate::metrics::Trace>>),
}

/// Sends the request on an open connection and reads the whole response.
async fn exchange_on(
    sender: &mut SendRequest<Body>,
    request: Outgoing<'_>,
    prepared: &Prepared,
    sent: Instant,
    trace: Option<Box<crate::metrics::Trace>>,
) -> Sent {
    let ready = sender.ready().await.is_ok();
    // built after the wait, so that the future does not hold it meanwhile
    let request = match request {
        Outgoing::First(body) => build_request(prepared, body.clone(), trace.as_deref()),
        Outgoing::Again(r) => *r,
    };
    if !ready {
        return Sent::Unsent(Box::new(request), trace);
    }
    let response = match sender.try_send_request(request).await {
        Ok(r) => r,
        Err(mut e) => {
            return match e.take_message() {
                Some(request) => Sent::Unsent(Box::new(request), trace),
                None => Sent::Answered(Exchange::failed(classify_send_error(e.error()))),
            };
        }
    };
    Sent::Answered(read_response(response, prepared, sent, trace).await)
}

/// Reads a response to the end and classifies it.
async fn read_response(
    response: http::Response<hyper::body::Incoming>,
    prepared: &Prepared,
    sent: Instant,
    mut trace: Option<Box<crate::metrics::Trace>>,
) -> Exchange {
    let ttfb = Instant::now();
    let status = response.status().as_u16();
    let headers = response.headers();
    let mut ex = Exchange::failed(Outcome::Ok);
    ex.status = status;
    ex.ttfb = Some(ttfb);
    ex.gateway = gateway::read(headers);
    if let (Some(t), Some(tracer)) = (trace.as_deref_mut(), &prepared.tracer) {
        tracer.capture(t, headers);
    }
    ex.tts_characters = headers
        .get(&gateway::CHARACTER_COST)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let success = (200..300).contains(&status);
    let sse = success && prepared.kind.generates() && prepared.stream;
    let collect = success && !sse && prepared.kind != Kind::Http;
    // only a collected body is checked against its type
    let content_type = if collect {
        headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    } else {
        String::new()
    };
    let mut stream_state = sse.then(|| {
        sse::SseState::new(
            prepared.kind == Kind::Responses,
            trace.is_some().then(trace::StreamCapture::default),
        )
    });
    let mut buf: Vec<u8> = if collect {
        let length = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        Vec::with_capacity(length.unwrap_or(0).min(1 << 22))
    } else {
        Vec::new()
    };
    // an error answer's body says why; its head is enough
    let mut error_body: Vec<u8> = Vec::new();
    let mut body = response.into_body();
    let mut cut = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    ex.bytes += data.len() as u64;
                    if let Some(s) = &mut stream_state {
                        s.feed(&data, Instant::now());
                    } else if collect {
                        buf.extend_from_slice(&data);
                    } else if !success && error_body.len() < ERROR_BODY_MAX {
                        let room = ERROR_BODY_MAX - error_body.len();
                        error_body.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
            }
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    let end = Instant::now();
    ex.end = Some(end);
    if !success {
        ex.outcome = Outcome::Http(status);
        ex.error = error_message(&error_body);
        ex.trace = trace;
        return ex;
    }
    if let Some(mut s) = stream_state {
        s.finish(end);
        if let (Some(t), Some(capture)) = (trace.as_deref_mut(), s.capture.take()) {
            capture.finish(t);
        }
        ex.trace = trace;
        ex.outcome = if cut {
            Outcome::StreamCut
        } else if s.malformed {
            Outcome::MalformedBody
        } else if s.error_event {
            // the target said why the stream ends, whether or not it ended it
            Outcome::StreamError
        } else if s.chunks == 0 && !s.done {
            // not an event stream at all (an error document with a 200, say)
            Outcome::ValidationFailure
        } else if !s.done {
            Outcome::StreamCut
        } else if s.chunks == 0 {
            Outcome::ValidationFailure
        } else {
            Outcome::Ok
        };
        if ex.outcome == Outcome::StreamError {
            ex.error = s.error_said.take();
        }
        ex.ttft = s.first_content;
        ex.usage = s.usage;
        ex.answer = s.answer.take();
        ex.tokens_per_s = match (s.usage, s.first_content, s.last_content) {
            (Some(u), Some(first), Some(last)) if u.completion_tokens > 1 && last > first => {
                Some((u.completion_tokens - 1) as f64 / (last - first).as_secs_f64())
            }
            (Some(u), _, _) if u.completion_tokens > 0 => Some(
                u.completion_tokens as f64
                    / end.saturating_duration_since(sent).as_secs_f64().max(1e-6),
            ),
            _ => None,
        };
        ex.itl_us = s
            .inter_token_latency()
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        if let (Some(g), Some(cost)) = (ex.gateway.as_deref_mut(), s.cost_usd) {
            g.cost_usd.get_or_insert(cost);
        }
        return ex;
    }
    if cut {
        ex.outcome = Outcome::StreamCut;
        ex.trace = trace;
        return ex;
    }
    if collect {
        let (outcome, usage, answer) = check_body(
            prepared.kind,
            prepared.stream,
            &content_type,
            &buf,
            trace.as_deref_mut(),
        );
        ex.outcome = outcome;
        ex.usage = usage;
        if prepared.chains.is_some() {
            ex.answer = answer;
        }
        if prepared.kind.generates()
            && let Some(u) = usage
            && u.completion_tokens > 0
        {
            ex.tokens_per_s = Some(
                u.completion_tokens as f64
                    / end.saturating_duration_since(sent).as_secs_f64().max(1e-6),
            );
        }
    }
    ex.trace = trace;
    ex
}

#[cfg(test)]
mod error_tests {
    use super::error_message;

    #[test]
    fn error_messages_are_read_in_each_providers_shape() {
        let said = |body: &str| error_message(body.as_bytes()).map(|m| m.0);
        assert_eq!(
            said(
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#
            ),
            Some("Incorrect API key provided".into())
        );
        assert_eq!(
            said(r#"{"error":"over budget"}"#),
            Some("over budget".into())
        );
        assert_eq!(
            said(r#"{"detail":{"status":"quota_exceeded","message":"quota used up"}}"#),
            Some("quota used up".into())
        );
        assert_eq!(
            said(r#"{"detail":[{"loc":["body","text"],"msg":"field required"}]}"#),
            Some("field required".into())
        );
        assert_eq!(
            said("upstream\n  timed out "),
            Some("upstream timed out".into())
        );
        assert_eq!(said(""), None);
        let long = said(&"x".repeat(1000)).unwrap();
        assert_eq!(long.chars().count(), 201);
        assert!(long.ends_with('…'));
        // bad UTF-8 is read, not refused
        assert!(error_message(b"\xff\xfe oops").unwrap().0.contains("oops"));
    }
}
