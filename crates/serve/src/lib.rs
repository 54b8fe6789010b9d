//! What every gatebench HTTP server (the gateway and the four mocks) shares.
//!
//! [`close_if_body_unread`]: a server that answers before reading the whole request
//! body (a 401 before the JSON, a 404 or 405 on a route that takes none) cannot reuse
//! the connection, because the rest of the body is still on the wire; hyper closes
//! it after the response. Without `connection: close` in that response a pooled
//! client sends its next request on a connection about to close, and fails. This
//! middleware says `connection: close` exactly when the body was not read to its
//! end, so clients open a fresh connection instead.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderValue;
use http::header::CONNECTION;
use http_body::{Frame, SizeHint};

/// Adds `connection: close` to a response whose request body was not read to its
/// end (use with `axum::middleware::from_fn`).
pub async fn close_if_body_unread(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let read = Arc::new(AtomicBool::new(http_body::Body::is_end_stream(&body)));
    let body = Body::new(Tracked {
        inner: body,
        read: Arc::clone(&read),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if !read.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that notes when it has been read to its end.
struct Tracked {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
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
    use axum::Router;
    use axum::routing::post;

    use super::*;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn only_an_unread_body_closes_the_connection() {
        let router = Router::new()
            .route(
                "/read",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route(
                "/refuse",
                post(|| async { (http::StatusCode::UNAUTHORIZED, "no") }),
            )
            .layer(axum::middleware::from_fn(close_if_body_unread));
        let url = serve(router).await;
        let http = reqwest::Client::new();
        let big = "x".repeat(200_000);
        let connection = |r: &reqwest::Response| {
            r.headers()
                .get(CONNECTION)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let read = http
            .post(format!("{url}/read"))
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(connection(&read), None);
        let refused = http
            .post(format!("{url}/refuse"))
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(connection(&refused).as_deref(), Some("close"));
        // no body at all: nothing left unread
        let empty = http.post(format!("{url}/refuse")).send().await.unwrap();
        assert_eq!(connection(&empty), None);
        // a 404 after a body: the router's own fallback is covered too
        let missing = http
            .post(format!("{url}/nope"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(connection(&missing).as_deref(), Some("close"));
    }
}
