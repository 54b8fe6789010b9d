//! Sending a stream of server-sent events at the latency model's pace: the one
//! mechanism behind every streamed answer (chat and legacy completion chunks, the
//! Responses API's events). A [`Script`] says what each event is and how long to
//! wait before it, the waits adding up from the request's arrival; [`respond`]
//! sends it, cuts it part-way when a stream-cut fault was drawn, and has the
//! script bill what went out when the stream ends early.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, header};
use tokio::time::Instant;

use super::admission::Admission;
use crate::core::RequestCtx;

/// Events written back to back (no delay between them) share one body frame, up
/// to about this many bytes.
const FRAME_BYTES: usize = 32 * 1024;
/// Room for one event: a paced stream's frame holds one chunk of a few hundred bytes.
const EVENT_BYTES: usize = 512;
/// Pause before a cut, so the server writes out what was already sent (headers
/// included) before the connection drops; otherwise, with no delays at all, the
/// client could see the connection fail before any response.
const CUT_GRACE: Duration = Duration::from_millis(20);

/// The events of one streamed answer.
pub(super) trait Script: Send + 'static {
    /// How many events there are.
    fn len(&self) -> usize;
    /// The wait before event `i` since event `i − 1` was due (the first counts
    /// from the request's arrival), loaded, before the server time scale.
    fn wait(&self, i: usize) -> Duration;
    /// Writes event `i`, framing included.
    fn write(&self, i: usize, out: &mut Vec<u8>);
    /// What follows the last event (`data: [DONE]`), if anything.
    fn end(&self) -> &'static [u8];
    /// The answer's id, for logs.
    fn id(&self) -> &str;
    /// The stream ended after its first `sent` events, before its end (a cut, or
    /// the client left): enter in `ctx`'s books what was delivered.
    fn ended_early(&self, sent: usize, ctx: &RequestCtx);
}

/// The streamed response. `admission` is held until the body ends.
pub(super) fn respond<S: Script>(script: S, ctx: RequestCtx, admission: Admission) -> Response {
    let len = script.len();
    let cut_at = ctx
        .take_stream_cut()
        .map(|share| ((share * len as f64) as usize).clamp(1, len.saturating_sub(1).max(1)));
    let headers = admission.headers.clone();
    // Waits count from the request's arrival, so the mock's own work on it (parsing,
    // counting, planning) is inside the time to first token rather than added to it.
    let deadline = Instant::from_std(ctx.received());
    let state = Paced {
        script,
        next: 0,
        cut_at,
        deadline,
        ctx,
        finished: false,
        all_sent: false,
        _admission: admission,
    };
    let body = futures::stream::unfold(state, Paced::step);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.extend(headers);
    response
}

struct Paced<S: Script> {
    script: S,
    next: usize,
    cut_at: Option<usize>,
    deadline: Instant,
    ctx: RequestCtx,
    finished: bool,
    /// The stream went out to its end.
    all_sent: bool,
    _admission: Admission,
}

impl<S: Script> Paced<S> {
    async fn step(mut self) -> Option<(Result<Bytes, io::Error>, Self)> {
        if self.finished {
            return None;
        }
        if self.cut_at == Some(self.next) {
            self.finished = true;
            tokio::time::sleep(CUT_GRACE).await;
            tracing::debug!(id = %self.script.id(), after = self.next, "stream cut");
            return Some((Err(io::Error::other("stream cut")), self));
        }
        let len = self.script.len();
        if self.next >= len {
            self.finished = true;
            self.all_sent = true;
            return Some((Ok(Bytes::from_static(self.script.end())), self));
        }
        // Waits count from a running deadline, not from when the last event went
        // out, so a late wake-up (the timer's 1 ms resolution, a busy scheduler)
        // shortens the next gap instead of adding up over a long answer.
        self.deadline += self.ctx.scaled(self.script.wait(self.next));
        if self.deadline > Instant::now() {
            tokio::time::sleep_until(self.deadline).await;
        }
        let mut frame = Vec::with_capacity(EVENT_BYTES);
        let first = self.next;
        loop {
            self.script.write(self.next, &mut frame);
            self.next += 1;
            let more = self.next < len
                && self.cut_at != Some(self.next)
                && frame.len() < FRAME_BYTES
                && self.ctx.scaled(self.script.wait(self.next)).is_zero();
            if !more {
                break;
            }
            if self.next == first + 1 {
                // One allocation for the whole frame, sized from its first event
                // (with an eighth to spare) rather than a regrowth every doubling.
                let event = frame.len() + frame.len() / 8;
                let events = event.saturating_mul(len - first);
                let most = FRAME_BYTES + 2 * event;
                frame.reserve(events.min(most) + self.script.end().len() - frame.len());
            }
        }
        if self.next >= len && self.cut_at.is_none() {
            frame.extend_from_slice(self.script.end());
            self.finished = true;
            self.all_sent = true;
        }
        Some((Ok(Bytes::from(frame)), self))
    }
}

impl<S: Script> Drop for Paced<S> {
    fn drop(&mut self) {
        if !self.all_sent {
            self.script
                .ended_early(self.next.min(self.script.len()), &self.ctx);
        }
    }
}
