//! A VU's HTTP/1.1 connection, driven inside the VU's own task.
//!
//! hyper splits a client connection into a sender and a connection future that does
//! the I/O. Spawning the connection future as its own task costs two task wake-ups
//! per request; polling it beside the request, in the task that waits for the answer
//! anyway, saves them. Between requests nobody polls it: a close by the server in
//! that time is seen when the next request is handed over, before it is written.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;

use super::tls::{Failure, Stream};
use crate::Outcome;
use crate::targets::Endpoint;

/// Request body type of every HTTP request the driver sends.
pub(crate) type Body = Full<Bytes>;

type Driver = Pin<Box<Connection<TokioIo<Stream>, Body>>>;

/// An open connection: the sender and the future that performs its I/O.
pub(crate) struct Conn {
    pub sender: SendRequest<Body>,
    /// `None` once the connection has ended.
    pub driver: Option<Driver>,
}

impl Conn {
    /// Connects and performs the HTTP/1.1 handshake.
    pub async fn open(endpoint: &Endpoint) -> Result<Conn, Outcome> {
        let stream = Stream::open(endpoint.addr, endpoint.tls.as_deref())
            .await
            .map_err(Failure::outcome)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Outcome::ConnectError)?;
        Ok(Conn {
            sender,
            driver: Some(Box::pin(connection)),
        })
    }

    /// Whether the connection is still open as far as is known without polling it:
    /// a close by the server while nobody polled it shows when the next request is
    /// handed to it, which gives that request back unsent.
    pub fn open_for_requests(&self) -> bool {
        self.driver.is_some() && !self.sender.is_closed()
    }
}

/// Runs `work` (which uses the connection's sender) while polling the connection's
/// I/O; once the connection ends, `work` is polled alone until it finishes (it will:
/// whatever it waited on from the connection has been dropped).
///
/// Each wake-up polls work, connection, work: a request handed to the sender is
/// written in the same turn, and a response the connection just read is taken in the
/// same turn, instead of waiting for the task's next poll.
///
/// `work` comes pinned by the caller: taking it by value would keep a second copy of
/// its (large) state in this future.
pub(crate) fn drive<F: Future>(
    driver: &mut Option<Driver>,
    mut work: Pin<&mut F>,
) -> impl Future<Output = F::Output> {
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        if let Some(d) = driver.as_mut()
            && let Poll::Ready(result) = d.as_mut().poll(cx)
        {
            if let Err(error) = result {
                tracing::trace!(%error, "connection ended");
            }
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
}
