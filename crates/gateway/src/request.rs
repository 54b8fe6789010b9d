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
use serde_json::value::RawValue;

use gatebench_serve::body::{BodyError, classify};

use crate::error::GatewayError;
use crate::upstream::Target;

/// Reads a request body up to `limit` bytes (413 in OpenAI's shape beyond, 408 when
/// it stops arriving for the server's body timeout).
pub async fn read(body: axum::body::Body, limit: usize) -> Result<Bytes, GatewayError> {
    gatebench_serve::body::to_bytes(body, limit)
        .await
        .map_err(|error| match classify(&*error) {
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
///
/// The work is boxed here, before any future holds it: a route's work is most of
/// its handler's future (kilobytes), which would otherwise be copied each time a
/// future holding it moves (into axum's box, into this one's state).
pub fn to_the_end<Fut>(work: Fut) -> impl Future<Output = Result<Response, GatewayError>> + Send
where
    Fut: Future<Output = Result<Response, GatewayError>> + Send + 'static,
{
    let sent = Arc::new(AtomicBool::new(false));
    let work = AssertUnwindSafe(SENT.scope(Arc::clone(&sent), work)).catch_unwind();
    let call = Detachable {
        work: Some(Box::pin(work)),
        sent,
    };
    call.map(|done| {
        done.unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(GatewayError::Internal(format!(
                "the call panicked: {reason}"
            )))
        })
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
pub fn json_object(body: &[u8]) -> Result<Value, GatewayError> {
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
        if let Some(name) = value.get(field).and_then(Value::as_str) {
            too_long(field, name)?;
        }
    }
    Ok(value)
}

/// Longest model name taken (OpenAI's own limit for such strings is 256).
pub const MAX_NAME: usize = 256;

/// A JSON object body as `T`, read straight from its bytes: the object itself is
/// built only where a route needs it ([`object`]: a cache key, a stream's added
/// options, a fallback's model). A body that does not read as `T` is read again as
/// [`json_object`] and [`typed`] read it, so what is wrong is said the same way.
pub fn typed_object<T: DeserializeOwned>(body: &Bytes) -> Result<T, GatewayError> {
    // valid JSON (the parse reads it whole) that opens with a brace is an object;
    // UTF-8 is checked as a whole, since values the type ignores are not read
    if body.trim_ascii_start().first() == Some(&b'{')
        && let Ok(text) = std::str::from_utf8(body)
        && let Ok(typed) = serde_json::from_str::<T>(text)
    {
        check_names(body)?;
        return Ok(typed);
    }
    typed(&json_object(body)?)
}

/// The object a body [`typed_object`] took holds.
pub fn object(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_default()
}

/// The names the gateway stores in its ledger and echoes in headers (`model`,
/// `model_id`), when strings, are no longer than [`MAX_NAME`].
fn check_names(body: &[u8]) -> Result<(), GatewayError> {
    #[derive(serde::Deserialize)]
    struct Names<'a> {
        #[serde(borrow)]
        model: Option<&'a RawValue>,
        #[serde(borrow)]
        model_id: Option<&'a RawValue>,
    }
    // a longer name needs more bytes than that
    if body.len() <= MAX_NAME {
        return Ok(());
    }
    let Ok(names) = serde_json::from_slice::<Names<'_>>(body) else {
        // a name given twice, say: the object's reading (the last one) decides
        return json_object(body).map(drop);
    };
    for (field, raw) in [("model", names.model), ("model_id", names.model_id)] {
        if let Some(name) = raw.and_then(|r| serde_json::from_str::<String>(r.get()).ok()) {
            too_long(field, &name)?;
        }
    }
    Ok(())
}

/// A 400 for a name longer than [`MAX_NAME`].
fn too_long(field: &str, name: &str) -> Result<(), GatewayError> {
    let chars = name.chars().count();
    if chars <= MAX_NAME {
        return Ok(());
    }
    Err(GatewayError::BadRequest {
        message: format!(
            "Invalid '{field}': string too long. Expected a string with maximum length {MAX_NAME}, but got a string with length {chars} instead."
        ),
        param: Some(field.to_owned()),
        code: Some("string_above_max_length"),
    })
}

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
        let inner = gatebench_wire::refusal::plain(&inner);
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            GatewayError::BadRequest {
                message: format!("Missing required parameter: '{field}'."),
                param: Some(field.to_owned()),
                code: Some("missing_required_parameter"),
            }
        } else if path == "." {
            // the body as a whole (a key given twice) is no parameter
            GatewayError::bad_request(format!("Invalid request body: {inner}."), None)
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
/// target takes the model asked for, else the object they hold with `field` naming
/// the target's model (a fallback).
pub fn body_for(original: Bytes, field: &str) -> impl Fn(&Target) -> Bytes + Send + Sync + '_ {
    move |target: &Target| match target.model.as_deref() {
        None => original.clone(),
        Some(model) => with_field(object(&original), field, model),
    }
}

/// Replaces a top-level string field (the model, on a fallback) and serialises.
fn with_field(mut value: Value, field: &str, new: &str) -> Bytes {
    if let Some(object) = value.as_object_mut() {
        object.insert(field.to_owned(), Value::String(new.to_owned()));
    }
    Bytes::from(serde_json::to_vec(&value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use gatebench_wire::elevenlabs::TextToSpeechRequest;
    use gatebench_wire::openai::ChatCompletionRequest;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    use super::*;
    use crate::checked::mutated;

    /// Request bodies: a chat request, one whose model is one character too long,
    /// a speech request with a long `model_id`, and one naming its model twice
    /// (the last one counts).
    const BODIES: [&str; 4] = [
        r#"{"model":"gpt-4o-mini","max_tokens":50,"stream":false,"messages":[{"role":"user","content":"caf\u00e9 \"reset\" my password?"}]}"#,
        r#"{"model":"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm","messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"text":"Hello there.","model_id":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}"#,
        r#"{"model":"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm","model":"ok","messages":[]}"#,
    ];

    /// What reading the object first, then its type, makes of a body: the typed
    /// request as JSON, or the error's words.
    fn through_the_object<T: DeserializeOwned + serde::Serialize>(
        body: &[u8],
    ) -> Result<Value, String> {
        json_object(body)
            .and_then(|value| typed::<T>(&value))
            .map(|t| serde_json::to_value(t).unwrap())
            .map_err(|e| format!("{e:?}"))
    }

    fn straight<T: DeserializeOwned + serde::Serialize>(body: &[u8]) -> Result<Value, String> {
        typed_object::<T>(&Bytes::copy_from_slice(body))
            .map(|t| serde_json::to_value(t).unwrap())
            .map_err(|e| format!("{e:?}"))
    }

    /// Both readings, for each request type a route reads.
    fn agree(body: &[u8]) -> Result<(), TestCaseError> {
        let text = String::from_utf8_lossy(body);
        prop_assert_eq!(
            straight::<ChatCompletionRequest>(body),
            through_the_object::<ChatCompletionRequest>(body),
            "{}",
            text
        );
        prop_assert_eq!(
            straight::<TextToSpeechRequest>(body),
            through_the_object::<TextToSpeechRequest>(body),
            "{}",
            text
        );
        let ignored =
            |r: Result<IgnoredAny, GatewayError>| r.map(drop).map_err(|e| format!("{e:?}"));
        prop_assert_eq!(
            ignored(typed_object(&Bytes::copy_from_slice(body))),
            ignored(json_object(body).and_then(|v| typed(&v))),
            "{}",
            text
        );
        Ok(())
    }

    #[test]
    fn reading_the_type_straight_agrees_with_reading_the_object_first() {
        for body in BODIES {
            agree(body.as_bytes()).unwrap();
        }
        let refused = |body: &str| straight::<IgnoredAnyJson>(body.as_bytes()).unwrap_err();
        assert!(refused(BODIES[1]).contains("string_above_max_length"));
        assert!(refused(BODIES[2]).contains("'model_id'"));
        // the last of two names counts
        assert!(straight::<IgnoredAnyJson>(BODIES[3].as_bytes()).is_ok());
        // what the straight reading must not take for an object
        for body in [
            "[\"gpt-4o-mini\",50]",
            "\"text\"",
            "7",
            " {} x",
            "{\"model\":\"a\"}{}",
        ] {
            agree(body.as_bytes()).unwrap();
            assert!(
                straight::<IgnoredAnyJson>(body.as_bytes()).is_err(),
                "{body}"
            );
        }
    }

    /// A refusal names the parameter in a caller's words, not by the gateway's
    /// own type names.
    #[test]
    fn a_parameter_of_none_of_its_types_is_refused_without_type_names() {
        let value = serde_json::json!({"model": "gpt-4o-mini", "input": 5});
        let refused = typed::<gatebench_wire::openai::ResponseRequest>(&value).unwrap_err();
        let GatewayError::BadRequest { message, param, .. } = refused else {
            panic!("{refused:?}");
        };
        assert_eq!(param.as_deref(), Some("input"));
        assert_eq!(
            message,
            "Invalid value for 'input': it has none of the types this parameter takes."
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// A body cut anywhere, or with any byte changed, reads the same either way:
        /// the same request, or the same error.
        #[test]
        fn both_readings_agree_on_damaged_bodies(body in mutated(&BODIES, &b"\"\\0}]{[,:1an -\xff\xc3e"[..])) {
            agree(&body)?;
        }
    }

    /// Any JSON object, as a type (`IgnoredAny` does not serialise).
    #[derive(serde::Serialize, serde::Deserialize)]
    struct IgnoredAnyJson {}
}
