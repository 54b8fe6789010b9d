//! A response body that keeps its request in flight until it has been sent, and
//! tells the request's context whether it was sent whole (for the books).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::core::RequestCtx;
use crate::stats::InFlight;

/// Wraps a response body; see the module docs.
pub(crate) struct Tracked {
    body: Body,
    ctx: Option<RequestCtx>,
    _in_flight: InFlight,
}

impl Tracked {
    pub(crate) fn new(body: Body, ctx: RequestCtx, in_flight: InFlight) -> Tracked {
        Tracked {
            body,
            ctx: Some(ctx),
            _in_flight: in_flight,
        }
    }
}

impl Tracked {
    fn mark_complete(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            ctx.set_complete();
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.mark_complete(),
            // The server may stop polling once the body says it has ended.
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.mark_complete(),
            // A failed body is not complete; the context is released with it.
            Poll::Ready(Some(Err(_))) => self.ctx = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.body.is_end_stream();
        if end && let Some(ctx) = &self.ctx {
            ctx.set_complete();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
