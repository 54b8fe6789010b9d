//! Reading request bodies (JSON objects with clear 400s, and typed views of them),
//! and running a call to its end once it has gone upstream.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::response::Response;
use bytes::Bytes;
use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use gatebench_serve::body::{BodyError, classify};

use crate::error::GatewayError;
use crate::upstream::Target;

/// Reads a request body up to `limit` bytes (413 in OpenAI's shape beyond, 408 when
/// it stops arriving for the server's body timeout).
pub async fn read(body: axum::body::Body, limit: usize) -> Result<Bytes, GatewayError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|error| match classify(&error) {
            BodyError::TooLarge => GatewayError::TooLarge { limit },
            BodyError::TimedOut(_) => GatewayError::Refused {
                status: http::StatusCode::REQUEST_TIMEOUT,
                code: "request_timeout",
                message: error.to_string(),
            },
            BodyError::Other => {
                GatewayError::bad_request(format!("could not read the request body: {error}"), None)
            }
        })
}

tokio::task_local! {
    /// Set once a call's first attempt goes upstream (see [`to_the_end`]).
    static SENT: Arc<AtomicBool>;
}

/// Marks the call of the current task as sent upstream: from here on it runs to
/// its end even if its client hangs up.
pub fn mark_sent() {
    let _ = SENT.try_with(|sent| sent.store(true, Ordering::Release));
}

/// Runs a call's work to its end. A client that hangs up before the call goes
/// upstream (in the queue, say) cancels it: nothing was served, nothing is billed.
/// Once it has gone upstream ([`mark_sent`]) it runs to its end (the provider's
/// answer, the bill, the ledger entry) even if the client is gone: a provider
/// bills a call it served whether or not anyone read the answer. The work runs in
/// the request's own task and moves to a task of its own only when its client
/// hangs up after it was sent, so a call pays no task hand-over. A panic in the
/// work answers 500.
pub async fn to_the_end<Fut>(work: Fut) -> Result<Response, GatewayError>
where
    Fut: Future<Output = Result<Response, GatewayError>> + Send + 'static,
{
    let sent = Arc::new(AtomicBool::new(false));
    let work = AssertUnwindSafe(SENT.scope(Arc::clone(&sent), work)).catch_unwind();
    let call = Detachable {
        work: Some(Box::pin(work)),
        sent,
    };
    call.await.unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(GatewayError::Internal(format!(
            "the call panicked: {reason}"
        )))
    })
}

/// A call's work, polled in place; dropped unfinished, it is cancelled if it has
/// not gone upstream and finished in a task of its own if it has.
struct Detachable<F: Future + Send + 'static> {
    work: Option<Pin<Box<F>>>,
    sent: Arc<AtomicBool>,
}

impl<F: Future + Send + 'static> Future for Detachable<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        Poll::Ready(output)
    }
}

impl<F: Future + Send + 'static> Drop for Detachable<F> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take()
            && self.sent.load(Ordering::Acquire)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = work.await;
            });
        }
    }
}

/// The body as a JSON object; anything else is a 400 naming what is wrong.
pub fn json_object(body: &Bytes) -> Result<Value, GatewayError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GatewayError::bad_request(
            format!(
                "We could not parse the JSON body of your request: {}.",
                e.to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("invalid JSON")
            ),
            None,
        )
    })?;
    if !value.is_object() {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object.",
            None,
        ));
    }
    // names the gateway stores in its ledger and echoes in headers stay short
    for field in ["model", "model_id"] {
        if let Some(name) = value.get(field).and_then(Value::as_str)
            && name.chars().count() > MAX_NAME
        {
            return Err(GatewayError::BadRequest {
                message: format!(
                    "Invalid '{field}': string too long. Expected a string with maximum length {MAX_NAME}, but got a string with length {} instead.",
                    name.chars().count()
                ),
                param: Some(field.to_owned()),
                code: Some("string_above_max_length"),
            });
        }
    }
    Ok(value)
}

/// Longest model name taken (OpenAI's own limit for such strings is 256).
pub const MAX_NAME: usize = 256;

/// A typed view of a JSON body; type errors name the parameter. A body that
/// types is read once, without tracking where the reader is; only one that does
/// not is read again with the path, to name it.
pub fn typed<T: DeserializeOwned>(value: &Value) -> Result<T, GatewayError> {
    if let Ok(typed) = T::deserialize(value) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            GatewayError::BadRequest {
                message: format!("Missing required parameter: '{field}'."),
                param: Some(field.to_owned()),
                code: Some("missing_required_parameter"),
            }
        } else {
            GatewayError::BadRequest {
                message: format!("Invalid value for '{path}': {inner}."),
                param: Some(path),
                code: Some("invalid_type"),
            }
        }
    })
}

/// The body of a request for each upstream target: the bytes as they came when the
/// target takes the model asked for, else `value` with `field` naming the target's
/// model (a fallback).
pub fn body_for<'a>(
    original: Bytes,
    value: &'a Value,
    field: &'a str,
) -> impl Fn(&Target) -> Bytes + Send + Sync + 'a {
    move |target: &Target| match target.model.as_deref() {
        None => original.clone(),
        Some(model) => with_field(value, field, Some(model)),
    }
}

/// Replaces a top-level string field (the model, on a fallback) and serialises.
pub fn with_field(value: &Value, field: &str, replacement: Option<&str>) -> Bytes {
    match replacement {
        None => Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        Some(new) => {
            let mut value = value.clone();
            if let Some(object) = value.as_object_mut() {
                object.insert(field.to_owned(), Value::String(new.to_owned()));
            }
            Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
        }
    }
}
