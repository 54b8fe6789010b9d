//! JSON response bodies, written the way the mocks write most of them.
//!
//! axum's `Json` starts from a 128-byte buffer and writes through `BytesMut`'s
//! `io::Write`, one bounds-checked `put_slice` per token; a completion of a few
//! hundred tokens then costs more to write than to plan. This `Json` serialises into
//! a `Vec` sized for a typical answer, whose writes are plain copies.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Room for a typical answer (a chat completion is 0.5–2 KB).
const INITIAL: usize = 1024;

/// A value served as `application/json`, as `axum::Json` serves it.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(INITIAL);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => response(body),
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                error.to_string(),
            )
                .into_response(),
        }
    }
}

/// JSON already written, served as `application/json`.
pub fn response(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(Bytes::from(body)));
    response.headers_mut().insert(header::CONTENT_TYPE, JSON);
    response
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `text` as a JSON string, escaped as serde escapes it: for JSON laid out by hand
/// around its values.
pub fn string(out: &mut Vec<u8>, text: &str) {
    // writing a str into a Vec cannot fail
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn serves_what_axum_json_serves() {
        let value = json!({"id": "chatcmpl-1", "text": "a \"quoted\"\nline", "n": [1, 2.5, null]});
        let ours = Json(&value).into_response();
        let axums = axum::Json(&value).into_response();
        assert_eq!(ours.status(), axums.status());
        assert_eq!(ours.headers(), axums.headers());
        let ours = ours.into_body().collect().await.unwrap().to_bytes();
        let axums = axums.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(ours, axums);
        // a map with a non-string key cannot be JSON: a 500, as axum answers
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert_eq!(
            Json(bad).into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
