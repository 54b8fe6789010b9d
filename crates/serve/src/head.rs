//! Request heads past the documented sizes, refused with a body.
//!
//! hyper refuses a head it cannot buffer (over ~400 KB, or more than 100 headers)
//! with a bodiless 431 of its own. Below that, a request line longer than
//! [`MAX_URI_BYTES`] or headers longer than [`MAX_HEADER_BYTES`] in all are refused
//! here, and each server answers in its provider's error shape, with a message that
//! says which limit was passed (like nginx's `large_client_header_buffers`).
//!
//! [`Checked`] puts the check in front of a server's router as a named service: a
//! request pays neither a boxed future nor a second router for it.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures::future::Either;
use http::{HeaderMap, StatusCode, Uri};
use tower::Service;

/// Longest request target (path and query) a server takes.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most bytes of header names and values, in all, a server takes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// A request head over a limit: the status to answer and why.
#[derive(Debug, PartialEq)]
pub struct HeadTooLarge {
    /// 414 or 431.
    pub status: StatusCode,
    /// The provider-neutral message; servers wrap it in their own shape.
    pub message: String,
    /// A short machine-readable code: `uri_too_long` or `headers_too_large`.
    pub code: &'static str,
}

/// Checks a request head against [`MAX_URI_BYTES`] and [`MAX_HEADER_BYTES`].
pub fn check(uri: &Uri, headers: &HeaderMap) -> Option<HeadTooLarge> {
    let uri = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(HeadTooLarge {
            status: StatusCode::URI_TOO_LONG,
            message: format!(
                "Request URI too long: {uri} bytes, the limit is {MAX_URI_BYTES} bytes."
            ),
            code: "uri_too_long",
        });
    }
    let headers: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return Some(HeadTooLarge {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            message: format!(
                "Request headers too large: {headers} bytes, the limit is {MAX_HEADER_BYTES} bytes."
            ),
            code: "headers_too_large",
        });
    }
    None
}

/// How a server answers a head over a limit: in its provider's error shape.
pub trait Refuse {
    /// The answer to a request for `uri` whose head is `too_large`.
    fn refuse(&self, uri: &Uri, too_large: HeadTooLarge) -> Response;
}

/// `inner` behind [`check`]: a head over a limit is answered by `refuse` and never
/// reaches `inner`.
#[derive(Clone, Debug)]
pub struct Checked<S, R> {
    inner: S,
    refuse: R,
}

impl<S, R> Checked<S, R> {
    /// `inner`, with a head over a limit answered by `refuse` instead.
    pub fn new(inner: S, refuse: R) -> Self {
        Checked { inner, refuse }
    }
}

impl<S, R> Service<Request> for Checked<S, R>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    R: Refuse,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match check(request.uri(), request.headers()) {
            Some(too_large) => {
                Either::Left(ready(Ok(self.refuse.refuse(request.uri(), too_large))))
            }
            None => Either::Right(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, header: usize) -> Option<HeadTooLarge> {
        let request = http::Request::builder()
            .uri(uri)
            .header("x-big", "v".repeat(header))
            .body(())
            .unwrap();
        check(request.uri(), request.headers())
    }

    #[test]
    fn each_limit_has_its_status() {
        assert_eq!(head("/v1/models", 100), None);
        let long = format!("/v1/models?q={}", "a".repeat(MAX_URI_BYTES));
        assert_eq!(head(&long, 10).unwrap().status, 414);
        let big = head("/v1/models", MAX_HEADER_BYTES).unwrap();
        assert_eq!(big.status, 431);
        assert!(big.message.contains("32768 bytes"), "{}", big.message);
    }
}
