//! A lingering close, as nginx does it: a connection closed while the client is
//! still sending a request body the server never read sends its FIN, then reads
//! and discards what the client goes on sending, for a bounded time and amount,
//! before the socket is closed.
//!
//! Closing a socket with unread data makes the kernel send a reset, and a client
//! still writing its body then fails with a broken pipe or a reset instead of
//! reading the answer (a 413, a 401) the server sent just before.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest a closing connection reads what its client goes on sending (less if
/// the server's body timeout is shorter).
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// Most bytes a closing connection reads and discards.
pub const LINGER_BYTES: usize = 64 << 20;

/// A client connection that lingers at its close once the flag [`Lingering::new`]
/// returns was raised (a response left a request body unread).
pub struct Lingering<S> {
    io: S,
    unread: Arc<AtomicBool>,
    time: Duration,
    state: State,
}

enum State {
    Open,
    /// FIN sent; discarding until the client's end, the deadline or the budget.
    Draining {
        deadline: Pin<Box<Sleep>>,
        left: usize,
    },
    Closed,
}

impl<S> Lingering<S> {
    /// Wraps `io`, to linger at most `time`; raise the returned flag when a
    /// response leaves a request body unread.
    pub fn new(io: S, time: Duration) -> (Self, Arc<AtomicBool>) {
        let unread = Arc::new(AtomicBool::new(false));
        let io = Lingering {
            io,
            unread: Arc::clone(&unread),
            time,
            state: State::Open,
        };
        (io, unread)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lingering<S> {
    /// Reads and drops until the client's end, an error, the deadline or the budget.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let State::Draining { deadline, left } = &mut self.state else {
            return Poll::Ready(());
        };
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if *left == 0 || deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => {
                    *left = left.saturating_sub(buf.filled().len());
                }
                Ok(()) | Err(_) => return Poll::Ready(()),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if matches!(this.state, State::Open) {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            if !this.unread.load(Ordering::Acquire) {
                this.state = State::Closed;
                return Poll::Ready(Ok(()));
            }
            this.state = State::Draining {
                deadline: Box::pin(tokio::time::sleep(this.time)),
                left: LINGER_BYTES,
            };
        }
        ready!(this.poll_drain(cx));
        this.state = State::Closed;
        Poll::Ready(Ok(()))
    }
}
