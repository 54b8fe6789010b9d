//! The request body as handlers read it.
//!
//! [`Guarded`] wraps each request's body in the accept loop: a pause longer than the
//! body timeout ends the read with [`BodyTimedOut`] (the timer is armed only while
//! the body waits for the network, so a body already received costs no timer), and
//! a flag notes whether the body was read to its end. Handlers that read a body
//! with a size limit turn the error into their provider's shape with [`classify`].

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// A request body stopped arriving for longer than the body timeout.
#[derive(Debug)]
pub struct BodyTimedOut {
    /// The server's body timeout.
    pub timeout: Duration,
}

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body stopped arriving for {:.1} s (the server's body timeout)",
            self.timeout.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimedOut {}

/// Why reading a request body failed.
#[derive(Debug, PartialEq)]
pub enum BodyError {
    /// The body is longer than the limit the handler read it with.
    TooLarge,
    /// The body stopped arriving for longer than this (answer 408).
    TimedOut(Duration),
    /// The client went away or sent a malformed body.
    Other,
}

/// Tells apart why `axum::body::to_bytes` (or any read of a [`Guarded`] body
/// through `http_body_util::Limited`) failed.
pub fn classify(error: &(dyn std::error::Error + 'static)) -> BodyError {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return BodyError::TooLarge;
        }
        if let Some(timed_out) = error.downcast_ref::<BodyTimedOut>() {
            return BodyError::TimedOut(timed_out.timeout);
        }
        cause = error.source();
    }
    BodyError::Other
}

/// A request body with a read timeout that notes when it has been read to its end.
pub struct Guarded<B> {
    inner: B,
    timeout: Duration,
    /// Reused between pauses; armed only while `inner` is pending.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
    read: Arc<AtomicBool>,
}

impl<B: http_body::Body> Guarded<B> {
    /// Wraps `inner`; the returned flag turns true once it has been read to its end.
    pub fn new(inner: B, timeout: Duration) -> (Self, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(inner.is_end_stream()));
        let body = Guarded {
            inner,
            timeout,
            sleep: None,
            armed: false,
            read: Arc::clone(&read),
        };
        (body, read)
    }
}

impl<B> http_body::Body for Guarded<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                if frame.is_none() || this.inner.is_end_stream() {
                    this.read.store(true, Ordering::Release);
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = Instant::now() + this.timeout;
                let sleep = match &mut this.sleep {
                    Some(sleep) => {
                        if !this.armed {
                            sleep.as_mut().reset(deadline);
                        }
                        sleep
                    }
                    None => this
                        .sleep
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                this.armed = true;
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.armed = false;
                        let timed_out = BodyTimedOut {
                            timeout: this.timeout,
                        };
                        Poll::Ready(Some(Err(Box::new(timed_out))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
