//! One route served ahead of a router: a request with the route's method and path
//! goes straight to the route's own service, any other to the router. Through an
//! axum router a call also pays for the route lookup, the matched path and path
//! parameters (each an extension insert), and a boxed service clone and a future
//! mapping at each layer. The router keeps the route, so its other methods are
//! answered 405 there. The gateway and the OpenAI mock serve their chat `POST` so.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures::future::Either;
use http::Method;
use tower::Service;

/// A route's answer, boxed as the router boxes a route's.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// A method and path, and the service that answers them.
#[derive(Clone, Debug)]
pub struct Route<F> {
    /// The method served.
    pub method: Method,
    /// The path served, exactly (the query aside).
    pub path: &'static str,
    /// What answers it.
    pub service: F,
}

/// A route's service that is a function of the request.
#[derive(Clone)]
pub struct Handler(Arc<dyn Fn(Request) -> Answer + Send + Sync>);

impl Handler {
    /// The service that answers a request with `answer`.
    pub fn new(answer: impl Fn(Request) -> Answer + Send + Sync + 'static) -> Self {
        Handler(Arc::new(answer))
    }
}

impl Service<Request> for Handler {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        (self.0)(request)
    }
}

/// `router`, with a [`Route`] (if any) served ahead of it.
#[derive(Clone, Debug)]
pub struct Front<F, R> {
    route: Option<Route<F>>,
    router: R,
}

impl<F, R> Front<F, R> {
    /// `router`, with `route` served ahead of it.
    pub fn new(route: Option<Route<F>>, router: R) -> Self {
        Front { route, router }
    }
}

impl<F, R> Service<Request> for Front<F, R>
where
    F: Service<Request, Response = Response, Error = Infallible>,
    R: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<F::Future, R::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        if let Some(route) = &mut self.route
            && route.service.poll_ready(cx).is_pending()
        {
            return Poll::Pending;
        }
        self.router.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match &mut self.route {
            Some(route)
                if request.method() == route.method && request.uri().path() == route.path =>
            {
                Either::Left(route.service.call(request))
            }
            _ => Either::Right(self.router.call(request)),
        }
    }
}
