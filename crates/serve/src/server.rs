//! Serving a router on a TCP listener: TCP_NODELAY, the [`Limits`] every client
//! connection is held to, graceful drain, and the ability to reset a connection (RST)
//! on purpose, which `axum::serve` cannot do.
//!
//! With [`ServerOptions::resettable`], each accepted socket keeps a duplicate
//! descriptor in a [`Connection`] handle that handlers find in the request
//! extensions. [`Connection::reset`] sets `SO_LINGER` to zero and tells the
//! connection task to drop the connection: the kernel then sends a TCP reset instead
//! of a FIN, exactly what a client sees when a provider's load balancer kills a
//! connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::HeaderValue;
use http::header::CONNECTION;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tower::{Service, ServiceExt as _};

use crate::body::Guarded;
use crate::cores::Cores;
use crate::linger::{LINGER_TIME, Lingering};

/// How long a shutdown waits for open requests before dropping them.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);

/// Connections the kernel may hold for a listener before it accepts them. A burst of
/// new connections larger than the backlog has SYNs dropped, and those clients wait
/// for their SYN's retransmission, a whole second later. The standard library's
/// and mio's 128 is smaller than a 200-client burst; Linux caps this at
/// `net.core.somaxconn` (4096 by default since 5.4), as for Go's and nginx's servers.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// `TcpListener::bind` sets it), so that a burst of connections waits in the kernel
/// instead of retrying its SYNs.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// What a server allows each client connection. The defaults are nginx-like and
/// documented in the README ("Serving limits").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from when the server
    /// starts waiting for them. On a keep-alive connection that is the end of the
    /// previous response, so this is also the keep-alive idle timeout. Default 30 s.
    pub header_timeout: Duration,
    /// Longest pause while a request body is read (like nginx's
    /// `client_body_timeout`): a body that stops arriving is refused with 408.
    /// It also bounds a lingering close ([`crate::linger`]). Default 30 s.
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until
    /// one closes. Default: a quarter of the descriptors this process may open
    /// (after [`raise_descriptor_limit`]), less a reserve, so that a flood of
    /// connections never leaves the server without descriptors for its own work
    /// (upstream connections, the ledger, logs).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
        }
    }
}

/// Descriptors kept out of the connection budget for everything else.
const RESERVED_DESCRIPTORS: u64 = 256;

/// A quarter of the soft descriptor limit less a reserve, between 64 and 16,384:
/// one server of an embedded stack (a gateway and four mocks in one process, each
/// connection possibly paired with an upstream one) cannot exhaust the process.
pub fn default_max_connections() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    let budget = soft.saturating_sub(RESERVED_DESCRIPTORS) / 4;
    usize::try_from(budget.clamp(64, 16_384)).unwrap_or(16_384)
}

/// Raises this process's soft limit on open descriptors to its hard limit, as Go's
/// runtime and most nginx setups do, and returns the new soft limit.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// How a server serves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerOptions {
    /// How long a shutdown waits for open requests.
    pub drain: Duration,
    /// What each client connection is allowed.
    pub limits: Limits,
    /// Keeps a [`Connection`] handle per connection (one more descriptor each), so
    /// handlers can reset it on purpose.
    pub resettable: bool,
    /// Serve each connection on one of this many threads of its own
    /// ([`crate::cores`]), instead of on the runtime that started the server
    /// (`0`, the default).
    pub cores: usize,
    /// What those threads are called, `{name}-{i}` (Linux shows the first 15
    /// bytes): what tells one server's threads from another's in `top -H`.
    pub thread_name: &'static str,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            drain: DEFAULT_DRAIN,
            limits: Limits::default(),
            resettable: false,
            cores: 0,
            thread_name: "gatebench-serve",
        }
    }
}

/// The accepted connection a request arrived on (with [`ServerOptions::resettable`]).
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<ConnectionInner>,
}

#[derive(Debug)]
struct ConnectionInner {
    /// A duplicate of the socket's descriptor, to change its options later.
    socket: std::net::TcpStream,
    reset: Notify,
    peer: SocketAddr,
}

impl Connection {
    /// Aborts the connection with a TCP reset. The request's response is never sent.
    pub fn reset(&self) {
        if let Err(error) =
            socket2::SockRef::from(&self.inner.socket).set_linger(Some(Duration::ZERO))
        {
            tracing::warn!(%error, "could not set SO_LINGER for a reset");
        }
        self.inner.reset.notify_one();
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }
}

/// A server running in the background.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    drain: Duration,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, waits up to `drain` for open requests, then drops the rest.
    pub async fn shutdown(self, drain: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(drain + Duration::from_millis(100), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }

    /// Stops with the drain the server was started with.
    pub async fn stop(self) {
        let drain = self.drain;
        self.shutdown(drain).await;
    }
}

/// What a server answers with: its router, on its own or behind layers applied once
/// around the whole of it (`Layer::layer`).
///
/// axum's `Router::layer` wraps each route's service instead, and a request clones
/// its route's whole stack of boxed services at every layer it passes: a cost that
/// grows with the square of the depth, paid on every request. Around the router, a
/// request clones each layer's service (an `Arc` or a small value) and the router
/// (an `Arc`); a named layer type costs no boxed future either.
pub trait App:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `app` on `listener` until [`ServerHandle::shutdown`].
pub fn spawn(
    listener: TcpListener,
    app: impl App,
    options: ServerOptions,
) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, app, stopped, options));
    Ok(ServerHandle {
        addr,
        stop,
        task,
        drain: options.drain,
    })
}

fn connection_builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
}

/// What every connection of one server is served with.
struct Serving<A> {
    app: A,
    builder: http1::Builder,
    body_timeout: Duration,
    resettable: bool,
}

async fn accept_loop<A: App>(
    listener: TcpListener,
    app: A,
    mut stopped: watch::Receiver<bool>,
    options: ServerOptions,
) {
    let ServerOptions {
        drain,
        limits,
        resettable,
        cores,
        thread_name,
    } = options;
    let serving = Arc::new(Serving {
        app,
        builder: connection_builder(&limits),
        body_timeout: limits.body_timeout,
        resettable,
    });
    let mut cores = match cores {
        0 => None,
        n => match Cores::start(n, thread_name, drain) {
            Ok(cores) => Some(cores),
            Err(error) => {
                tracing::warn!(%error, "could not start the core threads; serving on the runtime");
                None
            }
        },
    };
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        // A free slot first: at the limit, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            _ = stopped.changed() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of descriptors or similar: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let serving = Arc::clone(&serving);
        let stopped = stopped.clone();
        match cores.as_mut() {
            // the socket leaves this runtime's reactor for the core's
            Some(cores) => match stream.into_std() {
                Ok(stream) => {
                    cores.next_core().spawn(async move {
                        match tokio::net::TcpStream::from_std(stream) {
                            Ok(stream) => serve(stream, peer, &serving, stopped, slot).await,
                            Err(error) => {
                                tracing::warn!(%error, "could not move a connection to its core");
                            }
                        }
                    });
                }
                Err(error) => tracing::warn!(%error, "could not move a connection to its core"),
            },
            None => {
                tokio::spawn(async move { serve(stream, peer, &serving, stopped, slot).await });
            }
        }
    }
    drop(listener);
    // Every connection holds a slot until it ends: all slots back means drained.
    let drained = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX));
    if tokio::time::timeout(drain, drained).await.is_err() {
        tracing::debug!("drain timed out; dropping open connections");
    }
    drop(cores);
}

/// Serves one accepted connection until it ends, holding its `slot`.
async fn serve<A: App>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    serving: &Serving<A>,
    stopped: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let (stream, connection) = if serving.resettable {
        match register(stream, peer) {
            Ok((stream, connection)) => (stream, Some(connection)),
            Err(error) => {
                tracing::warn!(%error, "could not register a connection");
                return;
            }
        }
    } else {
        (stream, None)
    };
    let body_timeout = serving.body_timeout;
    let (stream, unread) = Lingering::new(stream, body_timeout.min(LINGER_TIME));
    let service = tower::service_fn({
        let app = serving.app.clone();
        let connection = connection.clone();
        move |request: Request<Incoming>| {
            let (parts, body) = request.into_parts();
            let (body, read) = Guarded::new(body, body_timeout);
            let mut request = Request::from_parts(parts, Body::new(body));
            if let Some(connection) = &connection {
                request.extensions_mut().insert(connection.clone());
            }
            let answer = app.clone().oneshot(request);
            let unread = Arc::clone(&unread);
            async move {
                let mut response = answer.await?;
                // The unread rest of the body is still on the wire: hyper will
                // close, and a pooled client must know before it reuses the
                // connection; the close lingers until the client has sent it.
                if !read.load(Ordering::Acquire) {
                    unread.store(true, Ordering::Release);
                    response
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(response)
            }
        }
    });
    let service = TowerToHyperService::new(service);
    let conn = serving
        .builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    serve_connection(conn, connection, stopped, slot).await;
}

/// Drives one connection to its end: a graceful close (finish the request in
/// flight, then close) when the server stops, an immediate drop on a reset.
async fn serve_connection<C>(
    conn: C,
    connection: Option<Connection>,
    mut stopped: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) where
    C: Future<Output = hyper::Result<()>> + Graceful,
{
    let mut conn = std::pin::pin!(conn);
    let reset = async {
        match &connection {
            Some(connection) => connection.inner.reset.notified().await,
            None => std::future::pending().await,
        }
    };
    let mut reset = std::pin::pin!(reset);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::trace!(%error, "connection ended with an error");
                }
                break;
            }
            _ = stopped.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().close_gracefully();
            }
            // Dropping `conn` closes the socket; SO_LINGER=0 turns that into a RST.
            _ = &mut reset => break,
        }
    }
    drop(slot);
}

/// A connection that can finish its request in flight and then close.
trait Graceful {
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S> Graceful for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S::ResBody: 'static,
    <S::ResBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

fn register(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) -> std::io::Result<(tokio::net::TcpStream, Connection)> {
    let std_stream = stream.into_std()?;
    let socket = std_stream.try_clone()?;
    let stream = tokio::net::TcpStream::from_std(std_stream)?;
    let inner = ConnectionInner {
        socket,
        reset: Notify::new(),
        peer,
    };
    Ok((
        stream,
        Connection {
            inner: Arc::new(inner),
        },
    ))
}
