//! A VU's HTTP/1.1 connection, driven inside the VU's own task.
//!
//! hyper splits a client connection into a sender and a connection future that does
//! the I/O. Spawning the connection future as its own task costs two task wake-ups
//! per request; polling it beside the request, in the task that waits for the answer
//! anyway, saves them. Between requests nobody polls it: a close by the server in
//! that time is seen when the next request is handed over, before it is written.
//!
//! A VU about to think for long parks its idle connections (`engine::closed`): it
//! keeps the socket and lets go of hyper's state for it (an 8 KB read buffer, an 8 KB
//! write buffer and a request channel whose first block holds 32 requests, about
//! 9 KB), which would otherwise stay allocated, a page of each touched, all the time
//! the VU thinks: most of an idle VU's memory. The next request goes out on the same
//! socket with a new hyper state, as a new connection's first request does, so the
//! server sees one kept-alive connection either way.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::tls::{Failure, Stream};
use crate::Outcome;
use crate::targets::Endpoint;

/// Request body type of every HTTP request the driver sends.
pub(crate) type Body = Full<Bytes>;

type Driver = Pin<Box<Connection<TokioIo<Io>, Body>>>;

/// A VU's connection to one endpoint, as far as it has one.
#[derive(Default)]
pub(crate) enum Slot {
    /// None: the next request opens one.
    #[default]
    Empty,
    /// Open, with hyper's state.
    Open(Conn),
    /// Kept alive without hyper's state while the VU thinks.
    Parked(Parked),
}

impl Slot {
    /// Parks the connection if it is open and idle (see [`Conn::park`]); drops it if
    /// it has closed, since its sender still holds the request channel.
    pub fn park(&mut self) {
        *self = match std::mem::take(self) {
            Slot::Open(conn) if conn.idle() => conn.park().map_or(Slot::Empty, Slot::Parked),
            Slot::Open(conn) if !conn.open_for_requests() => Slot::Empty,
            other => other,
        };
    }
}

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
        Conn::handshake(Io {
            stream,
            unflushed: false,
        })
        .await
    }

    /// hyper's state for a connection, with hyper's default limits (a response head
    /// up to its maximum buffer size, about 400 KB), whether the stream is new or was
    /// parked.
    ///
    /// The connection is polled once here: it then waits for a request, so the first
    /// request is written in the turn it is handed over, as on a reused connection,
    /// not one turn of the VU's task later.
    async fn handshake(io: Io) -> Result<Conn, Outcome> {
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|_| Outcome::ConnectError)?;
        let mut driver = Some(Box::pin(connection));
        std::future::poll_fn(|cx| {
            if let Some(d) = driver.as_mut()
                && d.as_mut().poll(cx).is_ready()
            {
                // closed already (by the server, while the connection was parked): the
                // request is given back unsent
                driver = None;
            }
            Poll::Ready(())
        })
        .await;
        Ok(Conn { sender, driver })
    }

    /// Whether the connection is still open as far as is known without polling it:
    /// a close by the server while nobody polled it shows when the next request is
    /// handed to it, which gives that request back unsent.
    pub fn open_for_requests(&self) -> bool {
        self.driver.is_some() && !self.sender.is_closed()
    }

    /// Whether the connection waits for its next request: hyper asked for another,
    /// which it does only with no request in flight and the last answer read to its
    /// end (bytes of the last request may still wait in its buffer: see `park`).
    fn idle(&self) -> bool {
        self.open_for_requests() && self.sender.is_ready()
    }

    /// The stream of an idle connection, without hyper's state; `None` (the
    /// connection is closed) if hyper held bytes that would be lost with its state:
    /// an answer's bytes read but not taken (the server sent more than its answer),
    /// or bytes of the request not yet flushed (the server answered before reading
    /// the whole request and the socket is not taking the rest).
    fn park(self) -> Option<Parked> {
        let driver = self.driver?;
        let parts = Pin::into_inner(driver).into_parts();
        let io = parts.io.into_inner();
        (parts.read_buf.is_empty() && !io.unflushed).then_some(Parked(io))
    }
}

/// The stream of a connection parked while its VU thinks.
pub(crate) struct Parked(Io);

impl Parked {
    /// The connection again, with a new hyper state, for the next request.
    pub async fn resume(self) -> Result<Conn, Outcome> {
        Conn::handshake(self.0).await
    }
}

/// The stream as hyper uses it, noting whether all hyper wrote to it was flushed.
///
/// hyper writes only from its flush, which ends with the stream's own flush once
/// its buffer is empty; so a stream whose last write was followed by a completed
/// flush has nothing left in hyper's buffer.
pub(crate) struct Io {
    stream: Stream,
    unflushed: bool,
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let io = self.get_mut();
        io.unflushed = true;
        Pin::new(&mut io.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let io = self.get_mut();
        io.unflushed = true;
        Pin::new(&mut io.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let io = self.get_mut();
        let flushed = Pin::new(&mut io.stream).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            io.unflushed = false;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use http_body_util::BodyExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpSocket};

    use super::*;

    /// Serves loopback connections that answer each request head (the tests send
    /// GETs: a request ends with its head) with `answer`; returns the address and
    /// the number of connections accepted.
    async fn server(answer: Vec<u8>) -> (std::net::SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut head = Vec::new();
                    loop {
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match socket.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        head.clear();
                        if socket.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    /// A connection to `addr` whose socket takes few bytes at a time.
    async fn connect(addr: std::net::SocketAddr) -> Conn {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        let stream = socket.connect(addr).await.unwrap();
        Conn::handshake(Io {
            stream: Stream::Plain(stream),
            unflushed: false,
        })
        .await
        .unwrap()
    }

    fn get(headers: &[(String, String)]) -> http::Request<Body> {
        let mut request = http::Request::builder().uri("/").header("host", "test");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::new())).unwrap()
    }

    /// Sends `request` and reads the whole answer, driving the connection as a VU does.
    async fn exchange(conn: &mut Conn, request: http::Request<Body>) -> (http::HeaderMap, Bytes) {
        let Conn { sender, driver } = conn;
        let work = std::pin::pin!(async {
            sender.ready().await.unwrap();
            let (parts, body) = sender.send_request(request).await.unwrap().into_parts();
            (parts.headers, body.collect().await.unwrap().to_bytes())
        });
        drive(driver, work).await
    }

    /// 40 headers of 1 KB: an answer head far over hyper's first 8 KB read buffer.
    fn large_head() -> Vec<u8> {
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n".to_vec();
        for i in 0..40 {
            answer.extend_from_slice(format!("x-large-{i}: {}\r\n", "v".repeat(1024)).as_bytes());
        }
        answer.extend_from_slice(b"\r\nok");
        answer
    }

    #[tokio::test]
    async fn an_idle_connection_parks_and_its_socket_takes_the_next_request() {
        let (addr, accepted) = server(large_head()).await;
        let mut slot = Slot::Open(connect(addr).await);
        for _ in 0..3 {
            let conn = match std::mem::take(&mut slot) {
                Slot::Open(conn) => conn,
                Slot::Parked(parked) => parked.resume().await.unwrap(),
                Slot::Empty => panic!("the connection was closed, not parked"),
            };
            slot = Slot::Open(conn);
            let Slot::Open(conn) = &mut slot else {
                unreachable!()
            };
            let (headers, body) = exchange(conn, get(&[])).await;
            assert_eq!(headers.len(), 41);
            assert_eq!(&body[..], b"ok");
            slot.park();
            assert!(matches!(slot, Slot::Parked(_)));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_with_request_bytes_unflushed_is_closed_not_parked() {
        // answers at once and reads nothing more: the request's 4 MB head stays
        // mostly in hyper's buffer, though its answer is in
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            let _ = done_rx.await;
        });
        let mut conn = connect(addr).await;
        let headers: Vec<_> = (0..64)
            .map(|i| (format!("x-big-{i}"), "v".repeat(64 * 1024)))
            .collect();
        let (_, body) = exchange(&mut conn, get(&headers)).await;
        assert_eq!(&body[..], b"ok");
        // hyper asks for the next request while the last one's head is unflushed:
        // only the stream knows the request is not all out
        assert!(conn.idle());
        let mut slot = Slot::Open(conn);
        slot.park();
        assert!(matches!(slot, Slot::Empty));
        drop(done_tx);
    }
}
