//! Serving a router on a TCP listener: TCP_NODELAY, graceful drain, and the ability
//! to reset a connection (RST) on purpose, which `axum::serve` cannot do.
//!
//! Each accepted socket keeps a duplicate descriptor in a [`Connection`] handle that
//! handlers find in the request extensions. [`Connection::reset`] sets `SO_LINGER` to
//! zero and tells the connection task to drop the connection: the kernel then sends a
//! TCP reset instead of a FIN, exactly what a client sees when a provider's load
//! balancer kills a connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

/// How long a shutdown waits for open requests before dropping them.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);

/// The accepted connection a request arrived on.
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
}

/// Serves `router` on `listener` until [`ServerHandle::shutdown`].
pub fn spawn(
    listener: TcpListener,
    router: Router,
    drain: Duration,
) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, router, stopped, drain));
    Ok(ServerHandle { addr, stop, task })
}

/// Serves `router` on `listener` until `shutdown` resolves (for the foreground CLI).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let handle = spawn(listener, router, drain)?;
    shutdown.await;
    handle.shutdown(drain).await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    mut stopped: watch::Receiver<bool>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
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
        let (stream, connection) = match register(stream, peer) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%error, "could not register a connection");
                continue;
            }
        };
        let service = router.clone().map_request({
            let connection = connection.clone();
            move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(connection.clone());
                request
            }
        });
        let service = TowerToHyperService::new(service.map_err(|never: Infallible| match never {}));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(error) = result {
                        tracing::trace!(%error, "connection ended with an error");
                    }
                }
                // Dropping `conn` closes the socket; SO_LINGER=0 turns that into a RST.
                _ = connection.inner.reset.notified() => {}
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("drain timed out; dropping open connections");
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
