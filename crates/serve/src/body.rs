//! The request body as handlers read it.
//!
//! [`Guarded`] wraps each request's body in the accept loop: a pause longer than the
//! body timeout ends the read with [`BodyTimedOut`] (the timer is armed only while
//! the body waits for the network, so a body already received costs no timer), and
//! a flag notes whether the body was read to its end. Handlers that read a body
//! with a size limit turn the error into their provider's shape with [`classify`].
//! [`collect`] and [`to_bytes`] read a body whole.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Limited};
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

/// A body read whole, trailers dropped. A body that comes in one frame (most
/// request bodies, most buffered answers) is that frame's bytes, neither copied
/// nor put in a list first, as `http_body_util`'s `collect` puts every frame.
pub async fn collect<B: Body<Data = Bytes>>(body: B) -> Result<Bytes, B::Error> {
    let mut body = std::pin::pin!(body);
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match &mut joined {
            Some(buffer) => buffer.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None if data.is_empty() => {}
            None => {
                let lower = usize::try_from(body.size_hint().lower()).unwrap_or(0);
                let mut buffer = BytesMut::with_capacity(first.len() + data.len() + lower);
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&data);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// A body read whole, at most `limit` bytes, as `axum::body::to_bytes` reads it
/// (a longer body fails with `http_body_util`'s `LengthLimitError`, which
/// [`classify`] tells apart), through [`collect`].
pub async fn to_bytes<B>(
    body: B,
    limit: usize,
) -> Result<Bytes, Box<dyn std::error::Error + Send + Sync>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    collect(Limited::new(body, limit)).await
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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{Full, StreamBody};

    use super::*;

    type Chunk = Result<Frame<Bytes>, std::io::Error>;

    fn frames(chunks: Vec<Chunk>) -> StreamBody<futures::stream::Iter<std::vec::IntoIter<Chunk>>> {
        StreamBody::new(futures::stream::iter(chunks))
    }

    fn data(text: &'static str) -> Chunk {
        Ok(Frame::data(Bytes::from_static(text.as_bytes())))
    }

    #[tokio::test]
    async fn a_body_of_one_frame_is_that_frames_bytes() {
        let sent = Bytes::from_static(b"{\"model\":\"m\"}");
        let read = collect(Full::new(sent.clone())).await.unwrap();
        assert_eq!(read, sent);
        assert_eq!(read.as_ptr(), sent.as_ptr(), "copied");
        let empty = collect(http_body_util::Empty::<Bytes>::new()).await;
        assert_eq!(empty.map_err(|e: Infallible| e).unwrap(), Bytes::new());
    }

    #[tokio::test]
    async fn frames_are_joined_in_order_and_trailers_dropped() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("1"));
        let body = frames(vec![
            data(""),
            data("ab"),
            data(""),
            data("cd"),
            Ok(Frame::trailers(trailers)),
            data("e"),
        ]);
        assert_eq!(collect(body).await.unwrap(), Bytes::from_static(b"abcde"));
    }

    #[tokio::test]
    async fn an_error_in_any_frame_fails_the_read() {
        let broken = || Err(std::io::Error::other("connection reset"));
        let body = frames(vec![data("ab"), broken(), data("cd")]);
        let error = collect(body).await.unwrap_err();
        assert_eq!(error.to_string(), "connection reset");
        assert!(collect(frames(vec![broken()])).await.is_err());
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_told_apart() {
        let body = || frames(vec![data("abc"), data("def")]);
        assert_eq!(to_bytes(body(), 6).await.unwrap(), "abcdef");
        let error = to_bytes(body(), 5).await.unwrap_err();
        assert_eq!(classify(&*error), BodyError::TooLarge);
        let broken = frames(vec![Err(std::io::Error::other("reset"))]);
        let error = to_bytes(broken, 5).await.unwrap_err();
        assert_eq!(classify(&*error), BodyError::Other);
    }
}
