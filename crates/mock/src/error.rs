//! Errors in each provider's own shape.
//!
//! Handlers return [`ApiError`]; the shared middleware builds the errors it raises
//! itself (auth, body limit, rate limit, injected faults, overload) through
//! [`ErrorStyle`], so an injected 503 from the OpenAI mock looks like OpenAI's and one
//! from the ElevenLabs mock looks like ElevenLabs'.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use gatebench_wire::elevenlabs::{StatusErrorBody, ValidationErrorBody, ValidationIssue};
use gatebench_wire::openai::ErrorBody;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;

use crate::json::Json;

/// Which error shapes a mock speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// FastAPI's shapes, as ElevenLabs uses: `{"detail": [...]}` for validation,
    /// `{"detail": {"status", "message"}}` otherwise.
    Detail,
}

/// An error response ready to send.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    body: Body,
    headers: HeaderMap,
    outcome: &'static str,
}

#[derive(Debug)]
enum Body {
    OpenAi(ErrorBody),
    Validation(ValidationErrorBody),
    Status(StatusErrorBody),
}

/// The outcome label a response carries into the stats (see [`crate::stats`]).
#[derive(Clone, Copy, Debug)]
pub struct Outcome(pub &'static str);

impl ApiError {
    /// An OpenAI-shaped error.
    pub fn openai(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self::new(status, Body::OpenAi(ErrorBody::new(kind, message)))
    }

    /// A FastAPI validation error (always 422) with one issue at `loc`.
    pub fn validation(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Body::Validation(ValidationErrorBody::single(loc, msg, kind)),
        )
    }

    /// A FastAPI validation error with several issues.
    pub fn validation_issues(issues: Vec<ValidationIssue>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Body::Validation(ValidationErrorBody { detail: issues }),
        )
    }

    /// A `{"detail": {"status", "message"}}` error.
    pub fn status(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::new(status, Body::Status(StatusErrorBody::new(code, message)))
    }

    fn new(status: StatusCode, body: Body) -> Self {
        let outcome = match status.as_u16() {
            429 => "rate_limited",
            400..=499 => "client_error",
            _ => "server_error",
        };
        ApiError(Box::new(Inner {
            status,
            body,
            headers: HeaderMap::new(),
            outcome,
        }))
    }

    /// Sets `param` (OpenAI shape only).
    pub fn param(mut self, param: impl Into<String>) -> Self {
        if let Body::OpenAi(body) = &mut self.0.body {
            body.error.param = Some(param.into());
        }
        self
    }

    /// Sets `code` (OpenAI shape only).
    pub fn code(mut self, code: impl Into<String>) -> Self {
        if let Body::OpenAi(body) = &mut self.0.body {
            body.error.code = Some(code.into());
        }
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.insert(name, value);
        self
    }

    /// Adds response headers.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.0.headers.extend(headers);
        self
    }

    /// Labels the outcome in the stats (default: from the status class).
    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.0.outcome = outcome;
        self
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        self.0.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Inner {
            status,
            body,
            headers,
            outcome,
        } = *self.0;
        let mut response = match body {
            Body::OpenAi(b) => (status, Json(b)).into_response(),
            Body::Validation(b) => (status, Json(b)).into_response(),
            Body::Status(b) => (status, Json(b)).into_response(),
        };
        response.headers_mut().extend(headers);
        response.extensions_mut().insert(Outcome(outcome));
        response
    }
}

/// Longest model or voice id a mock looks up (OpenAI's limit for such strings).
pub const MAX_ID: usize = 256;

/// Whether a body's JSON starts as an object. serde reads a struct from an array
/// too, field by field in order: a body that is JSON but no object is refused
/// before it gets there.
pub(crate) fn opens_an_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

impl ErrorStyle {
    /// No key, or a key the profile does not know.
    pub fn unauthorized(self, key_given: bool) -> ApiError {
        match self {
            ErrorStyle::OpenAi if key_given => ApiError::openai(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            )
            .code("invalid_api_key"),
            ErrorStyle::OpenAi => ApiError::openai(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ),
            ErrorStyle::Detail if key_given => {
                ApiError::status(StatusCode::UNAUTHORIZED, "invalid_api_key", "Invalid API key")
            }
            ErrorStyle::Detail => ApiError::status(
                StatusCode::UNAUTHORIZED,
                "needs_authorization",
                "Neither authorization header nor xi-api-key received, please provide one.",
            ),
        }
        .outcome("unauthorized")
    }

    /// A refusal with `status` and a machine-readable `code` (a head over the size
    /// limits, a body that stopped arriving).
    pub fn refusal(self, status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        match self {
            ErrorStyle::OpenAi => {
                ApiError::openai(status, "invalid_request_error", message).code(code)
            }
            ErrorStyle::Detail => ApiError::status(status, code, message),
        }
    }

    /// A body over the mock's limit. The rest of the body is never read, so the
    /// connection closes after the answer and says so: a pooled client must not send
    /// its next request on it.
    pub fn too_large(self, limit: usize) -> ApiError {
        let message = format!("Request body too large: the limit is {limit} bytes.");
        match self {
            ErrorStyle::OpenAi => ApiError::openai(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                message,
            )
            .code("request_too_large"),
            ErrorStyle::Detail => {
                ApiError::status(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", message)
            }
        }
        .header(http::header::CONNECTION, HeaderValue::from_static("close"))
        .outcome("too_large")
    }

    /// A body that is not JSON, JSON that is not an object, or an object that does
    /// not fit `T`: the provider's 400/422 naming the parameter at fault.
    pub fn parse_json<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, ApiError> {
        if !opens_an_object(body) && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
            return Err(self.not_an_object());
        }
        // The common case parses once; the path-tracking parser, slower, only runs to
        // explain an error. UTF-8 is checked once for the whole body, not string by
        // string; a body that is not UTF-8 is explained by the byte parser.
        if let Ok(text) = std::str::from_utf8(body)
            && let Ok(value) = serde_json::from_str(text)
        {
            return Ok(value);
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let value: T = serde_path_to_error::deserialize(&mut de)
            .map_err(|error| self.json_error(error.path().to_string(), error.into_inner()))?;
        // Trailing bytes after the JSON value make the body malformed as a whole.
        de.end()
            .map_err(|error| self.json_error(".".to_owned(), error))?;
        Ok(value)
    }

    /// A body that is JSON but not an object.
    fn not_an_object(self) -> ApiError {
        match self {
            ErrorStyle::OpenAi => ApiError::openai(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "The request body must be a JSON object.",
            ),
            // pydantic's words for a model given anything but an object
            ErrorStyle::Detail => ApiError::validation_issues(vec![ValidationIssue {
                loc: vec![serde_json::Value::from("body")],
                msg: "Input should be a valid dictionary or object to extract fields from"
                    .to_owned(),
                kind: "model_attributes_type".to_owned(),
            }]),
        }
    }

    fn json_error(self, path: String, inner: serde_json::Error) -> ApiError {
        let text = inner.to_string();
        let malformed = !matches!(inner.classify(), serde_json::error::Category::Data);
        // serde says "missing field `model`"; the field belongs under the path.
        let missing = text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(|field| {
                if path == "." {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                }
            });
        let detail = text.split(" at line ").next().unwrap_or(&text);
        let detail = gatebench_wire::refusal::plain(detail).into_owned();
        match self {
            ErrorStyle::OpenAi if malformed => ApiError::openai(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!(
                    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON: {detail}.)"
                ),
            ),
            ErrorStyle::OpenAi => match missing {
                Some(param) => ApiError::openai(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!("Missing required parameter: '{param}'."),
                )
                .param(param)
                .code("missing_required_parameter"),
                // the body as a whole (a key given twice) is no parameter
                None if path == "." => ApiError::openai(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!("Invalid request body: {detail}."),
                ),
                None => ApiError::openai(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!("Invalid value for '{path}': {detail}."),
                )
                .param(path)
                .code("invalid_type"),
            },
            ErrorStyle::Detail => {
                let (loc, msg, kind) = if malformed {
                    (
                        vec!["body".to_owned()],
                        format!("JSON decode error: {detail}"),
                        "json_invalid",
                    )
                } else if let Some(field) = missing {
                    (body_loc(&field), "Field required".to_owned(), "missing")
                } else {
                    (body_loc(&path), detail, "value_error")
                };
                ApiError::validation_issues(vec![ValidationIssue {
                    loc: loc.into_iter().map(serde_json::Value::from).collect(),
                    msg,
                    kind: kind.to_owned(),
                }])
            }
        }
    }

    /// A rate limit reached (real, or injected).
    pub fn rate_limited(
        self,
        retry_after: Duration,
        message: &str,
        headers: HeaderMap,
    ) -> ApiError {
        let error = match self {
            ErrorStyle::OpenAi => {
                ApiError::openai(StatusCode::TOO_MANY_REQUESTS, "requests", message)
                    .code("rate_limit_exceeded")
            }
            ErrorStyle::Detail => {
                ApiError::status(StatusCode::TOO_MANY_REQUESTS, "system_busy", message)
            }
        };
        error
            .headers(headers)
            .headers(retry_after_headers(retry_after))
    }

    /// Past the hard capacity limit.
    pub fn overloaded(self) -> ApiError {
        match self {
            ErrorStyle::OpenAi => ApiError::openai(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "The engine is currently overloaded, please try again later.",
            ),
            ErrorStyle::Detail => ApiError::status(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_concurrent_requests",
                "Too many concurrent requests. Please retry later or upgrade your plan for a higher limit.",
            ),
        }
        .outcome("overloaded")
    }

    /// An injected server-side fault with a status (500, 502, 503, 504).
    pub fn server_fault(self, status: StatusCode) -> ApiError {
        let message = match status.as_u16() {
            500 => "The server had an error while processing your request. Sorry about that!",
            502 => "Bad gateway.",
            503 => "The server is overloaded or not ready yet.",
            504 => "Gateway timeout.",
            _ => "Unexpected server error.",
        };
        match self {
            ErrorStyle::OpenAi => ApiError::openai(status, "server_error", message),
            ErrorStyle::Detail => {
                let code = match status.as_u16() {
                    503 => "service_unavailable",
                    504 => "gateway_timeout",
                    _ => "internal_server_error",
                };
                ApiError::status(status, code, message)
            }
        }
    }

    /// A resource the path names that does not exist (model, voice). An id longer
    /// than [`MAX_ID`] is refused as too long (400) instead: no answer echoes a
    /// megabyte back.
    pub fn not_found(self, what: &str, id: &str) -> ApiError {
        let length = id.chars().count();
        if length > MAX_ID {
            let message = format!(
                "Invalid '{what}': string too long. Expected a string with maximum length {MAX_ID}, but got a string with length {length} instead."
            );
            return match self {
                ErrorStyle::OpenAi => {
                    ApiError::openai(StatusCode::BAD_REQUEST, "invalid_request_error", message)
                        .code("string_above_max_length")
                }
                ErrorStyle::Detail => {
                    ApiError::status(StatusCode::BAD_REQUEST, "string_too_long", message)
                }
            };
        }
        match self {
            ErrorStyle::OpenAi => ApiError::openai(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("The {what} `{id}` does not exist or you do not have access to it."),
            )
            .code(format!("{what}_not_found")),
            ErrorStyle::Detail => ApiError::status(
                StatusCode::NOT_FOUND,
                &format!("{what}_not_found"),
                format!("A {what} with the ID {id} was not found."),
            ),
        }
    }
}

fn body_loc(path: &str) -> Vec<String> {
    std::iter::once("body".to_owned())
        .chain(path.split('.').filter(|p| !p.is_empty()).map(str::to_owned))
        .collect()
}

/// `retry-after` (whole seconds, rounded up) and `retry-after-ms`, as OpenAI sends them.
pub fn retry_after_headers(wait: Duration) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let secs = wait.as_millis().div_ceil(1000).max(1);
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs as u64));
    headers.insert(
        HeaderName::from_static("retry-after-ms"),
        HeaderValue::from(wait.as_millis().max(1) as u64),
    );
    headers
}
