//! Plain-HTTP/1.1 connections to one provider, driven by the task that uses them.
//!
//! hyper splits a client connection into a sender and a future that performs its
//! I/O. A pooled client spawns that future as a task of its own, so every call costs
//! two more task wake-ups (the request written, the response read) and a hand-over
//! between tasks. Here the I/O future is polled by whoever is waiting on the
//! connection: the request's task while it waits for the head, then whoever reads
//! the body ([`Body`]), which returns the connection to the pool once the body has
//! ended. A body dropped before its end takes what has already arrived of it;
//! if that is not the end, its connection is closed: what is left of it cannot be
//! told apart from the next answer.
//!
//! An idle connection is not polled, so a close by the provider is noticed when the
//! connection is taken again: it is polled once then, and one that has ended is
//! dropped. A request that a connection closed before writing (a race with the
//! provider's keep-alive timeout) is sent again on a new connection, as hyper's
//! pooled client does.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt as _;
use http::{HeaderValue, Request};
use http_body_util::Full;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{AttemptError, chain};

/// Idle connections kept per provider.
const MAX_IDLE: usize = 256;
/// Idle lists for core threads; a machine with more cores shares them.
const CORE_LISTS: usize = 64;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Driver = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One connection: its sender and the future performing its I/O (`None` once the
/// connection has ended).
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Option<Driver>,
}

impl Conn {
    /// Whether it can take another request; polls its I/O once, so that a close
    /// since its last use is seen now.
    fn alive(&mut self) -> bool {
        if let Some(d) = self.driver.as_mut()
            && d.as_mut().now_or_never().is_some()
        {
            self.driver = None;
        }
        self.driver.is_some() && !self.sender.is_closed()
    }
}

/// One thread's idle connections, each with when it went idle.
type Idle = Vec<(Conn, Instant)>;

/// A plain-HTTP provider's address and its idle connections.
pub(super) struct Pool {
    /// `host:port` to connect to (resolved on each connect: connecting is rare).
    authority: String,
    /// The `Host` header.
    host: HeaderValue,
    /// The base URL's path, without a trailing `/`, put before every request's path.
    pub(super) prefix: String,
    connect_timeout: Duration,
    /// Idle connections, most recently used last: one list per core thread
    /// ([`gatebench_serve::cores`]) and one for every other thread. A connection's
    /// socket wakes the runtime it was opened on, so it is only taken again there.
    idle: Box<[Mutex<Idle>]>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `base_url`, or `None` if it is not a plain `http://` URL (TLS
    /// providers go through hyper's pooled client, which negotiates HTTP/2).
    pub(super) fn new(base_url: &str, connect_timeout: Duration) -> Option<Arc<Pool>> {
        let uri: http::Uri = base_url.parse().ok()?;
        if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
            return None;
        }
        let authority = uri.authority()?;
        let port = authority.port_u16();
        // the authority without any `user:password@`
        let host = match port {
            Some(port) => format!("{}:{port}", authority.host()),
            None => authority.host().to_owned(),
        };
        Some(Arc::new(Pool {
            authority: format!("{}:{}", authority.host(), port.unwrap_or(80)),
            host: HeaderValue::from_str(&host).ok()?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
            connect_timeout,
            idle: (0..=CORE_LISTS).map(|_| Mutex::new(Vec::new())).collect(),
        }))
    }

    /// Sends `request` (whose URI is in origin form: [`Pool::prefix`], then the
    /// path and query) and waits for the response head.
    pub(super) async fn send(
        self: &Arc<Pool>,
        mut request: Request<Full<Bytes>>,
    ) -> Result<http::Response<Body>, AttemptError> {
        request
            .headers_mut()
            .insert(http::header::HOST, self.host.clone());
        let (mut conn, reused) = match self.checkout() {
            Some(conn) => (conn, true),
            // boxed, like the retry below: rare, and their state would bloat every
            // request's future
            None => (Box::pin(self.connect()).await?, false),
        };
        match exchange(&mut conn, request).await {
            Ok(response) => Ok(self.wrap(conn, response)),
            // A reused connection closed before the request left: nothing was sent.
            Err(Failed {
                error,
                unsent: Some(request),
            }) if reused => {
                tracing::debug!(%error, "pooled connection closed before the request: sending on a new one");
                Box::pin(self.send_on_new(request)).await
            }
            Err(failed) => Err(AttemptError::Connection(chain(&failed.error))),
        }
    }

    async fn send_on_new(
        self: &Arc<Pool>,
        request: Request<Full<Bytes>>,
    ) -> Result<http::Response<Body>, AttemptError> {
        let mut conn = self.connect().await?;
        match exchange(&mut conn, request).await {
            Ok(response) => Ok(self.wrap(conn, response)),
            Err(failed) => Err(AttemptError::Connection(chain(&failed.error))),
        }
    }

    fn wrap(
        self: &Arc<Pool>,
        conn: Conn,
        response: http::Response<Incoming>,
    ) -> http::Response<Body> {
        response.map(|body| Body {
            inner: Inner::Pooled {
                body,
                conn: Some(conn),
                pool: Arc::clone(self),
            },
        })
    }

    /// This thread's idle connections.
    fn idle(&self) -> &Mutex<Idle> {
        let list = gatebench_serve::cores::current().map_or(0, |core| 1 + core % CORE_LISTS);
        &self.idle[list]
    }

    /// The most recently used idle connection still alive.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle().lock().unwrap_or_else(|e| e.into_inner());
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < IDLE_TIMEOUT && conn.alive() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle().lock().unwrap_or_else(|e| e.into_inner());
        // The least recently used go: past the cap, and once too old (an idle
        // connection is not polled, so one the provider closed would linger).
        let now = Instant::now();
        let stale = idle
            .iter()
            .take_while(|(_, since)| now - *since >= IDLE_TIMEOUT)
            .count()
            .max((idle.len() + 1).saturating_sub(MAX_IDLE));
        idle.drain(..stale);
        idle.push((conn, now));
    }

    /// Opens a connection within the connect timeout and performs the HTTP/1.1
    /// handshake.
    async fn connect(&self) -> Result<Conn, AttemptError> {
        let failed = |error: &dyn std::error::Error| {
            AttemptError::Connection(format!("connect to {}: {}", self.authority, chain(error)))
        };
        let connect = async {
            let stream = TcpStream::connect(&self.authority).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(failed(&error)),
            Err(elapsed) => return Err(failed(&elapsed)),
        };
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(&e))?;
        Ok(Conn {
            sender,
            driver: Some(Box::pin(connection)),
        })
    }
}

/// A request that got no response: why, and the request itself when it never left
/// (the connection closed first), to send again.
struct Failed {
    error: hyper::Error,
    unsent: Option<Request<Full<Bytes>>>,
}

/// Sends `request` on `conn` and waits for the head, polling the connection's I/O
/// meanwhile.
async fn exchange(
    conn: &mut Conn,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<Incoming>, Failed> {
    let Conn { sender, driver } = conn;
    let work = async move {
        if let Err(error) = sender.ready().await {
            return Err(Failed {
                error,
                unsent: Some(request),
            });
        }
        sender
            .try_send_request(request)
            .await
            .map_err(|mut e| Failed {
                unsent: e.take_message(),
                error: e.into_error(),
            })
    };
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| beside(driver, cx, |cx| work.as_mut().poll(cx))).await
}

/// Polls `work`, the connection's I/O, and `work` again: a request handed over is
/// written in the same turn, and what the connection has just read is taken in the
/// same turn instead of at the task's next wake-up. Once the connection has ended,
/// `work` is polled alone (it will end too: what it waited on has been dropped).
fn beside<T>(
    driver: &mut Option<Driver>,
    cx: &mut Context<'_>,
    mut work: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    if let Poll::Ready(out) = work(cx) {
        return Poll::Ready(out);
    }
    if let Some(d) = driver.as_mut()
        && let Poll::Ready(result) = d.as_mut().poll(cx)
    {
        if let Err(error) = result {
            tracing::debug!(%error, "upstream connection ended");
        }
        *driver = None;
    }
    work(cx)
}

/// A provider's response body. Reading it drives its connection (when it has one
/// of its own), which goes back to the pool when the body ends.
pub struct Body {
    inner: Inner,
}

enum Inner {
    /// From this module's pool.
    Pooled {
        body: Incoming,
        /// `None` once returned to the pool.
        conn: Option<Conn>,
        pool: Arc<Pool>,
    },
    /// From hyper's pooled client, which drives the connection itself.
    Shared(Incoming),
}

impl Body {
    /// A body from hyper's pooled client.
    pub(super) fn shared(body: Incoming) -> Body {
        Body {
            inner: Inner::Shared(body),
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pooled = matches!(self.inner, Inner::Pooled { .. });
        f.debug_struct("Body").field("pooled", &pooled).finish()
    }
}

/// Frames a dropped body may still take without waiting, to reach its end.
const TAKE_ON_DROP: usize = 8;

impl Drop for Body {
    /// A reader that stops at the last event of a stream (`[DONE]`) leaves the
    /// body's end unread, though it has usually arrived with that event: taken
    /// now, without waiting, it lets the connection serve again.
    fn drop(&mut self) {
        if !matches!(self.inner, Inner::Pooled { conn: Some(_), .. }) {
            return;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for _ in 0..TAKE_ON_DROP {
            match hyper::body::Body::poll_frame(Pin::new(&mut *self), &mut cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                // ended (and handed back), broken, or not all here yet
                _ => break,
            }
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().inner {
            Inner::Shared(body) => Pin::new(body).poll_frame(cx),
            Inner::Pooled { body, conn, pool } => {
                let Some(c) = conn.as_mut() else {
                    return Pin::new(body).poll_frame(cx);
                };
                let polled = beside(&mut c.driver, cx, |cx| Pin::new(&mut *body).poll_frame(cx));
                if let Poll::Ready(None) = polled
                    && let Some(c) = conn.take()
                {
                    pool.checkin(c);
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Pooled { body, .. } | Inner::Shared(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Pooled { body, .. } | Inner::Shared(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::body::Body as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// What the test provider does on each connection.
    #[derive(Clone)]
    enum Provider {
        /// Answers every request, keeping the connection open.
        KeepAlive,
        /// Answers one request, then closes when told to (as at a keep-alive
        /// timeout), and says when it has.
        OneThenClose {
            close: Arc<tokio::sync::Notify>,
            closed: Arc<tokio::sync::Notify>,
        },
        /// On the first connection, sends a head and part of a body, then waits;
        /// later connections are `KeepAlive`.
        CutFirst,
        /// Answers every request with a chunked body of two chunks, all at once.
        Chunked,
    }

    struct Served {
        url: String,
        connections: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    }

    async fn provider(behaviour: Provider) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (Arc::clone(&connections), Arc::clone(&heads));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let nth = count.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&seen);
                let behaviour = behaviour.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // requests here have no body: a head ends the request
                        let mut chunk = [0u8; 1024];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head: Vec<u8> = buf.drain(..end).collect();
                        seen.lock().unwrap().push(String::from_utf8(head).unwrap());
                        if matches!(behaviour, Provider::CutFirst) && nth == 0 {
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart")
                                .await;
                            std::future::pending::<()>().await;
                        }
                        let answer: &[u8] = if matches!(behaviour, Provider::Chunked) {
                            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                              5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n"
                        } else {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                        };
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        if let Provider::OneThenClose { close, closed } = &behaviour {
                            close.notified().await;
                            drop(stream);
                            closed.notify_one();
                            return;
                        }
                    }
                });
            }
        });
        Served {
            url,
            connections,
            heads,
        }
    }

    fn get(path: &str) -> Request<Full<Bytes>> {
        Request::get(path).body(Full::new(Bytes::new())).unwrap()
    }

    async fn body_of(response: http::Response<Body>) -> Bytes {
        super::super::read(response.into_body()).await.unwrap()
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_body_is_read() {
        let served = provider(Provider::KeepAlive).await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        for _ in 0..5 {
            let response = pool.send(get("/v1/models")).await.unwrap();
            assert_eq!(body_of(response).await, "ok");
        }
        assert_eq!(served.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn idle_connections_are_taken_again_only_on_the_core_that_used_them() {
        let served = provider(Provider::KeepAlive).await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        let mut cores =
            gatebench_serve::cores::Cores::start(2, "test-core", Duration::ZERO).unwrap();
        let (first, second) = (cores.next_core().clone(), cores.next_core().clone());
        let on = |core: &tokio::runtime::Handle| {
            let pool = Arc::clone(&pool);
            core.spawn(async move {
                let response = pool.send(get("/v1/models")).await.unwrap();
                body_of(response).await
            })
        };
        for core in [&first, &second, &first, &second, &first] {
            assert_eq!(on(core).await.unwrap(), "ok");
        }
        // one connection per core, each reused there
        assert_eq!(served.connections.load(Ordering::SeqCst), 2);
        // a thread off the cores has its own
        let response = pool.send(get("/v1/models")).await.unwrap();
        assert_eq!(body_of(response).await, "ok");
        assert_eq!(served.connections.load(Ordering::SeqCst), 3);
    }

    /// A provider that closes each connection after one answer, when told to.
    async fn closing() -> (Served, Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>) {
        let (close, closed) = (Arc::default(), Arc::default());
        let behaviour = Provider::OneThenClose {
            close: Arc::clone(&close),
            closed: Arc::clone(&closed),
        };
        (provider(behaviour).await, close, closed)
    }

    #[tokio::test]
    async fn a_connection_the_provider_closed_while_idle_is_replaced() {
        let (served, close, closed) = closing().await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        for _ in 0..3 {
            let response = pool.send(get("/v1/models")).await.unwrap();
            assert_eq!(body_of(response).await, "ok");
            // the connection is idle in the pool when the provider closes it
            close.notify_one();
            closed.notified().await;
        }
        assert_eq!(served.connections.load(Ordering::SeqCst), 3);
    }

    /// What the retry of a request on a stale connection rests on: hyper gives
    /// back a request it never wrote.
    #[tokio::test]
    async fn a_request_on_a_connection_closed_before_it_is_given_back_unsent() {
        let (served, close, closed) = closing().await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        let mut conn = pool.connect().await.unwrap();
        let response = exchange(&mut conn, get("/v1/models")).await.ok().unwrap();
        let mut body = response.into_body();
        std::future::poll_fn(|cx| {
            beside(&mut conn.driver, cx, |cx| {
                Pin::new(&mut body).poll_frame(cx).map(|f| f.is_none())
            })
        })
        .await;
        close.notify_one();
        closed.notified().await;
        let Err(failed) = exchange(&mut conn, get("/v1/models")).await else {
            panic!("a closed connection answered");
        };
        assert!(failed.unsent.is_some(), "{}", failed.error);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let served = provider(Provider::CutFirst).await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        let first = pool.send(get("/v1/models")).await.unwrap();
        assert_eq!(first.status(), http::StatusCode::OK);
        drop(first);
        let second = pool.send(get("/v1/models")).await.unwrap();
        assert_eq!(body_of(second).await, "ok");
        assert_eq!(served.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_body_dropped_once_its_end_has_arrived_keeps_its_connection() {
        use http_body_util::BodyExt as _;
        let served = provider(Provider::Chunked).await;
        let pool = Pool::new(&served.url, Duration::from_secs(1)).unwrap();
        for _ in 0..3 {
            let mut body = pool.send(get("/v1/models")).await.unwrap().into_body();
            // a reader that stops at the first chunk, as a relay stops at [DONE]
            let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(first, "first");
        }
        assert_eq!(served.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_base_path_and_host_are_sent() {
        let served = provider(Provider::KeepAlive).await;
        let pool = Pool::new(&format!("{}/proxy/", served.url), Duration::from_secs(1)).unwrap();
        assert_eq!(pool.prefix, "/proxy");
        let response = pool
            .send(get(&format!("{}/v1/models?limit=1", pool.prefix)))
            .await
            .unwrap();
        body_of(response).await;
        let head = served.heads.lock().unwrap()[0].clone();
        let authority = served.url.trim_start_matches("http://");
        assert!(
            head.starts_with("GET /proxy/v1/models?limit=1 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("host: {authority}\r\n")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let pool = Pool::new(&url, Duration::from_secs(1)).unwrap();
        let Err(AttemptError::Connection(detail)) = pool.send(get("/v1/models")).await else {
            panic!("a closed port answered");
        };
        assert!(detail.to_ascii_lowercase().contains("refused"), "{detail}");
    }

    #[test]
    fn only_plain_http_gets_a_pool() {
        assert!(Pool::new("https://api.openai.com", Duration::from_secs(1)).is_none());
        let pool = Pool::new("http://localhost", Duration::from_secs(1)).unwrap();
        assert_eq!(
            (pool.authority.as_str(), pool.prefix.as_str()),
            ("localhost:80", "")
        );
        assert_eq!(pool.host, "localhost");
        let pool = Pool::new("http://user:secret@[::1]:8701/v1", Duration::from_secs(1)).unwrap();
        assert_eq!(
            (pool.authority.as_str(), pool.prefix.as_str()),
            ("[::1]:8701", "/v1")
        );
        assert_eq!(pool.host, "[::1]:8701");
    }
}
