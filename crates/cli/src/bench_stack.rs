//! The servers the mock and gateway benchmarks load, in a child process: the
//! embedded stack with delays and rate limits off, a trivial handler served by
//! the same accept loop as the mocks (the mocks' ceiling), and a bare proxy to the
//! OpenAI mock (the floor under any proxy, the gateway included). Prints one JSON
//! line of addresses; stops when stdin closes.

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::any;
use bytes::Bytes;
use gatebench_mock::ratelimit::RateLimitConfig;
use gatebench_mock::server::Limits;
use gatebench_stack::{Stack, StackOptions};
use http_body_util::{BodyExt as _, Empty, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;

pub async fn serve() -> anyhow::Result<ExitCode> {
    let mut options = StackOptions::ephemeral(0, 0.0);
    let profile = &mut options.profile;
    for limits in [
        &mut profile.openai.rate_limits,
        &mut profile.elevenlabs.rate_limits,
        &mut profile.personality.rate_limits,
        &mut profile.webvtt.rate_limits,
    ] {
        *limits = RateLimitConfig::default();
    }
    let stack = Stack::start(options).await?;
    // it reads the body it is sent, so a POST leaves the connection open
    let trivial = Router::new().route("/", any(|_: axum::body::Bytes| async { "ok" }));
    let listener = gatebench_serve::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let trivial = {
        // served like a mock, so the two compare
        let options = gatebench_mock::serving(Duration::from_secs(1), Limits::default(), "trivial");
        gatebench_mock::server::spawn(listener, trivial, options)?
    };
    let openai = stack.mock_url("openai").context("no OpenAI mock")?;
    let upstream: SocketAddr = openai
        .trim_start_matches("http://")
        .parse()
        .context("the OpenAI mock's address")?;
    let proxy = gatebench_serve::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let proxy_addr = proxy.local_addr()?;
    // on a runtime of its own, whose threads' name tells their CPU apart from the
    // gateway's and the mocks' in the benchmarks' breakdown
    let proxy_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("proxy")
        .enable_all()
        .build()?;
    let proxy = proxy.into_std()?;
    proxy_runtime.spawn(async move {
        match tokio::net::TcpListener::from_std(proxy) {
            Ok(listener) => bare_proxy(listener, upstream).await,
            Err(error) => tracing::error!(%error, "the bare proxy could not listen"),
        }
    });
    let line = json!({
        "gateway": stack.gateway_url(),
        "proxy": format!("http://{proxy_addr}"),
        "openai": stack.mock_url("openai"),
        "trivial": format!("http://{}", trivial.addr()),
    });
    outln!("{line}");
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin()
            .lock()
            .read_line(&mut sink)
            .is_ok_and(|n| n > 0)
        {
            sink.clear();
        }
    })
    .await?;
    proxy_runtime.shutdown_background();
    trivial.shutdown(Duration::ZERO).await;
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// A reverse proxy with nothing but HTTP/1 in it: each connection it accepts gets
/// one connection of its own to `upstream` (opened at its first request, opened
/// again if the upstream closed it), and every request goes through unchanged, its
/// answer back as it streams. What proxying alone costs on this machine: no
/// routing, parsing, accounting or headers of its own, so no proxy can cost less.
async fn bare_proxy(listener: tokio::net::TcpListener, upstream: SocketAddr) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let link = Arc::new(tokio::sync::Mutex::new(None));
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let link = Arc::clone(&link);
                async move { forward(&mut *link.lock().await, upstream, request).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Sends `request` on the connection's upstream link, opening it first if it has
/// none or the upstream closed it, and once more if the link closed before the
/// request went out; a 502 if the upstream cannot be reached.
async fn forward(
    link: &mut Option<SendRequest<Incoming>>,
    upstream: SocketAddr,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, hyper::Error> {
    for _ in 0..2 {
        if link.as_ref().is_none_or(SendRequest::is_closed) {
            *link = connect(upstream).await;
        }
        let Some(sender) = link.as_mut() else {
            break;
        };
        match sender.try_send_request(request).await {
            Ok(mut response) => {
                // hop-by-hop: the upstream closing its link is no reason to close
                // the client's
                response.headers_mut().remove(hyper::header::CONNECTION);
                return Ok(response.map(|body| body.boxed()));
            }
            Err(mut unsent) => match unsent.take_message() {
                Some(back) => (request, *link) = (back, None),
                None => return Err(unsent.into_error()),
            },
        }
    }
    let mut bad = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *bad.status_mut() = StatusCode::BAD_GATEWAY;
    Ok(bad)
}

async fn connect(upstream: SocketAddr) -> Option<SendRequest<Incoming>> {
    let stream = tokio::net::TcpStream::connect(upstream).await.ok()?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, Method, Uri, header};
    use http_body_util::Full;

    use super::*;

    /// An upstream that answers with what it was sent, and closes its connection
    /// after each answer when asked to.
    async fn echo() -> SocketAddr {
        let app = Router::new().fallback(
            |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| async move {
                let said = format!("{method} {uri} {}", String::from_utf8_lossy(&body));
                let close = if headers.contains_key("x-close") {
                    "close"
                } else {
                    "keep-alive"
                };
                ([(header::CONNECTION, close)], said)
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    async fn proxy_to(upstream: SocketAddr) -> SendRequest<Full<Bytes>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(bare_proxy(listener, upstream));
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender
    }

    async fn send(
        client: &mut SendRequest<Full<Bytes>>,
        path: &str,
        close: bool,
    ) -> (StatusCode, String) {
        let mut request = Request::post(path).header(header::HOST, "proxy.test");
        if close {
            request = request.header("x-close", "1");
        }
        let request = request.body(Full::new(Bytes::from("hello"))).unwrap();
        client.ready().await.unwrap();
        let response = client.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn the_bare_proxy_forwards_requests_on_one_connection_and_reopens_a_closed_one() {
        let mut client = proxy_to(echo().await).await;
        let first = send(&mut client, "/v1/a?x=1", true).await;
        assert_eq!(first, (StatusCode::OK, "POST /v1/a?x=1 hello".to_owned()));
        // the upstream closed its side after that answer: the next request opens
        // a new link instead of failing
        let second = send(&mut client, "/v1/b", false).await;
        assert_eq!(second, (StatusCode::OK, "POST /v1/b hello".to_owned()));
        let third = send(&mut client, "/v1/c", false).await;
        assert_eq!(third, (StatusCode::OK, "POST /v1/c hello".to_owned()));
    }

    #[tokio::test]
    async fn the_bare_proxy_answers_502_when_its_upstream_is_gone() {
        let gone = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap()
        };
        let mut client = proxy_to(gone).await;
        let (status, _) = send(&mut client, "/v1/a", false).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
    }
}
