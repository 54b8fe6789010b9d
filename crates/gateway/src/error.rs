//! Errors the gateway itself raises, in OpenAI's error shape.
//!
//! Errors that come from an upstream (after retries and fallbacks) are passed on as
//! the upstream sent them; these are the ones the gateway decides on its own: auth,
//! malformed requests, budgets, queue admission, and upstreams it could not reach.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use gatebench_wire::openai::ErrorBody;
use http::{HeaderName, HeaderValue, StatusCode};
use rust_decimal::Decimal;

use crate::auth::AuthError;
use crate::extract::Fault;

/// An error answered by the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No key, or an unknown key.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The body is not what the route takes.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
        /// The parameter at fault.
        param: Option<String>,
        /// OpenAI error code.
        code: Option<&'static str>,
    },
    /// The body is over the gateway's limit.
    #[error("request body over {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The tenant's budget cannot cover the most this call could cost: it is
    /// spent, or what is left is less than the call's worst case (a large
    /// `max_tokens`, say), which the message tells apart.
    #[error("{}", over_budget(tenant, *remaining, *needed))]
    OverBudget {
        /// Tenant.
        tenant: String,
        /// What is left (limit − spent − reserved).
        remaining: Decimal,
        /// The most the call could cost.
        needed: Decimal,
    },
    /// Too many requests waiting for the provider.
    #[error("the queue for {provider} is full")]
    QueueFull {
        /// Provider.
        provider: String,
        /// Estimated time until a slot frees.
        retry_after: Duration,
    },
    /// The request's deadline cannot be met, or passed while it waited.
    #[error("the deadline of this request cannot be met ({provider} queue)")]
    Deadline {
        /// Provider.
        provider: String,
        /// Estimated time until a slot frees.
        retry_after: Duration,
    },
    /// No provider could be reached (connection errors or timeouts on every attempt).
    #[error("no upstream could serve this request: {detail}")]
    Unreachable {
        /// Last failure.
        detail: String,
        /// Whether the last failure was a timeout.
        timeout: bool,
    },
    /// A body that does not fit an ElevenLabs-style route, answered in FastAPI's
    /// shape as those providers do: 422 `{"detail": [{"loc", "msg", "type"}]}`.
    #[error("{msg}")]
    Validation {
        /// Where: `["body", "text"]`.
        loc: Vec<String>,
        /// What is wrong.
        msg: String,
        /// Machine-readable kind: `missing`, `json_invalid`, `value_error`.
        kind: String,
    },
    /// An error of an ElevenLabs-style route in those providers' own shape:
    /// `{"detail": {"status": CODE, "message": ...}}`.
    #[error("{message}")]
    Detail {
        /// HTTP status.
        status: StatusCode,
        /// Machine-readable status, e.g. `invalid_api_key`.
        code: String,
        /// What is wrong.
        message: String,
    },
    /// A refusal with its own status and code (a head over the size limits, a body
    /// that stopped arriving).
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Machine-readable code, e.g. `request_timeout`.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A route that exists, called with another method.
    #[error("Method {method} not allowed for {path}")]
    MethodNotAllowed {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// No such route.
    #[error("Invalid URL ({method} {path})")]
    NotFound {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// A stored response the caller's tenant did not make through the gateway.
    #[error("Response with id '{id}' not found.")]
    NoSuchResponse {
        /// The id asked for.
        id: String,
    },
    /// A bug: logged, and answered with a 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An error the gateway answered itself in OpenAI's shape, for [`Observe`]
/// (crate::extract::Observe) to answer in `{"detail": {"status", "message"}}`
/// on an ElevenLabs-style route, its status and headers kept.
#[derive(Clone, Debug)]
pub struct OwnError {
    /// The machine-readable code (or the error's type when it has none).
    pub status: String,
    /// The message.
    pub message: String,
}

impl OwnError {
    /// The error in the `{"detail": ...}` shape.
    pub fn detail_body(&self) -> Vec<u8> {
        serde_json::json!({ "detail": { "status": self.status, "message": self.message } })
            .to_string()
            .into_bytes()
    }
}

/// Whether `path` is one of the ElevenLabs-style routes (text-to-speech,
/// personality, WebVTT), whose errors take the `{"detail": ...}` shape.
pub fn detail_route(path: &str) -> bool {
    path.starts_with("/v1/text-to-speech/") || path == "/v1/personality" || path == "/v1/webvtt"
}

impl GatewayError {
    /// A 400 about `param`.
    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> Self {
        GatewayError::BadRequest {
            message: message.into(),
            param: param.map(str::to_owned),
            code: None,
        }
    }

    /// The same error in FastAPI's validation shape, for ElevenLabs-style routes
    /// (text-to-speech, personality, WebVTT), whose clients expect a 422 `detail` list.
    pub fn detail_shaped(self) -> Self {
        match self {
            GatewayError::BadRequest {
                message,
                param,
                code,
            } => {
                let kind = match (code, &param) {
                    (Some("missing_required_parameter"), _) => "missing",
                    (_, None) => "json_invalid",
                    _ => "value_error",
                };
                let loc = std::iter::once("body".to_owned())
                    .chain(param.iter().flat_map(|p| {
                        p.split('.')
                            .filter(|s| !s.is_empty() && *s != "?")
                            .map(str::to_owned)
                    }))
                    .collect();
                GatewayError::Validation {
                    loc,
                    msg: message,
                    kind: kind.to_owned(),
                }
            }
            GatewayError::Auth(_)
            | GatewayError::TooLarge { .. }
            | GatewayError::Refused { .. } => {
                let body = self.body();
                GatewayError::Detail {
                    status: self.status_code(),
                    code: match &self {
                        GatewayError::Auth(AuthError::Missing) => "missing_api_key".to_owned(),
                        _ => body.error.code.clone().unwrap_or_default(),
                    },
                    message: body.error.message,
                }
            }
            other => other,
        }
    }

    /// The HTTP status.
    pub fn status_code(&self) -> StatusCode {
        match self {
            GatewayError::Auth(_) => StatusCode::UNAUTHORIZED,
            GatewayError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            GatewayError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::NotFound { .. } | GatewayError::NoSuchResponse { .. } => {
                StatusCode::NOT_FOUND
            }
            GatewayError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            GatewayError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            GatewayError::Detail { status, .. } | GatewayError::Refused { status, .. } => *status,
            GatewayError::OverBudget { .. }
            | GatewayError::QueueFull { .. }
            | GatewayError::Deadline { .. } => StatusCode::TOO_MANY_REQUESTS,
            GatewayError::Unreachable { timeout: true, .. } => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> ErrorBody {
        let message = match self {
            GatewayError::Auth(AuthError::Missing) => {
                "You didn't provide an API key. Send your gatebench key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_owned()
            }
            GatewayError::Auth(AuthError::Invalid) => "Incorrect API key provided.".to_owned(),
            other => other.to_string(),
        };
        let (kind, code) = match self {
            GatewayError::Auth(AuthError::Missing) => ("invalid_request_error", None),
            GatewayError::Auth(AuthError::Invalid) => {
                ("invalid_request_error", Some("invalid_api_key"))
            }
            GatewayError::BadRequest { code, .. } => ("invalid_request_error", *code),
            GatewayError::TooLarge { .. } => ("invalid_request_error", Some("request_too_large")),
            GatewayError::Refused { code, .. } => ("invalid_request_error", Some(*code)),
            GatewayError::NotFound { .. }
            | GatewayError::NoSuchResponse { .. }
            | GatewayError::MethodNotAllowed { .. }
            | GatewayError::Validation { .. }
            | GatewayError::Detail { .. } => ("invalid_request_error", None),
            GatewayError::OverBudget { .. } => ("insufficient_quota", Some("insufficient_quota")),
            GatewayError::QueueFull { .. } => ("requests", Some("queue_full")),
            GatewayError::Deadline { .. } => ("requests", Some("deadline_exceeded")),
            GatewayError::Unreachable { .. } | GatewayError::Internal(_) => ("server_error", None),
        };
        let mut body = ErrorBody::new(kind, message);
        if let Some(code) = code {
            body = body.code(code);
        }
        if let GatewayError::BadRequest {
            param: Some(param), ..
        } = self
        {
            body = body.param(param.clone());
        }
        body
    }
}

fn over_budget(tenant: &str, remaining: Decimal, needed: Decimal) -> String {
    if remaining.is_zero() {
        format!(
            "budget of tenant {tenant} exhausted: 0 USD left, this call may cost up to {needed} USD"
        )
    } else {
        format!(
            "budget of tenant {tenant} has {remaining} USD left, less than the {needed} USD this call may cost at most"
        )
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if let GatewayError::Validation { loc, msg, kind } = &self {
            let body = serde_json::json!({ "detail": [{ "loc": loc, "msg": msg, "type": kind }] });
            return (self.status_code(), Json(body)).into_response();
        }
        if let GatewayError::Detail {
            status,
            code,
            message,
        } = &self
        {
            let body = serde_json::json!({ "detail": { "status": code, "message": message } });
            return (*status, Json(body)).into_response();
        }
        let body = self.body();
        let own = OwnError {
            status: body
                .error
                .code
                .clone()
                .unwrap_or_else(|| body.error.kind.clone()),
            message: body.error.message.clone(),
        };
        let mut response = (self.status_code(), Json(body)).into_response();
        response.extensions_mut().insert(own);
        let headers = response.headers_mut();
        match &self {
            GatewayError::OverBudget { .. } => {
                headers.insert(
                    HeaderName::from_static("x-should-retry"),
                    HeaderValue::from_static("false"),
                );
            }
            GatewayError::QueueFull { retry_after, .. }
            | GatewayError::Deadline { retry_after, .. } => {
                let secs = retry_after.as_millis().div_ceil(1000).max(1) as u64;
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
                headers.insert(
                    HeaderName::from_static("retry-after-ms"),
                    HeaderValue::from(retry_after.as_millis().max(1) as u64),
                );
            }
            // The rest of the body is never read: the connection closes after the
            // answer, and says so, so that a pooled client does not reuse it.
            GatewayError::TooLarge { .. } => {
                headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            GatewayError::Internal(detail) => {
                response.extensions_mut().insert(Fault(detail.clone()));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_hands_its_detail_to_the_middleware_to_log() {
        let response = GatewayError::Internal("the ledger is gone".into()).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let fault = response.extensions().get::<Fault>().map(|f| f.0.as_str());
        assert_eq!(fault, Some("the ledger is gone"));
        let refused = GatewayError::bad_request("no", None).into_response();
        assert!(refused.extensions().get::<Fault>().is_none());
    }

    #[test]
    fn budget_refusals_say_not_to_retry() {
        let error = GatewayError::OverBudget {
            tenant: "a".into(),
            remaining: Decimal::ONE,
            needed: Decimal::TEN,
        };
        assert_eq!(
            error.to_string(),
            "budget of tenant a has 1 USD left, less than the 10 USD this call may cost at most"
        );
        let response = error.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["x-should-retry"], "false");
        let spent = GatewayError::OverBudget {
            tenant: "a".into(),
            remaining: Decimal::ZERO,
            needed: Decimal::TEN,
        };
        assert_eq!(
            spent.to_string(),
            "budget of tenant a exhausted: 0 USD left, this call may cost up to 10 USD"
        );
    }

    #[test]
    fn bad_requests_on_elevenlabs_routes_take_fastapi_s_shape() {
        let missing = GatewayError::BadRequest {
            message: "Missing required parameter: 'text'.".into(),
            param: Some("text".into()),
            code: Some("missing_required_parameter"),
        };
        let response = missing.detail_shaped().into_response();
        assert_eq!(response.status(), 422);
        let malformed =
            GatewayError::bad_request("We could not parse the JSON body", None).detail_shaped();
        assert!(
            matches!(malformed, GatewayError::Validation { ref kind, .. } if kind == "json_invalid")
        );
    }

    #[test]
    fn queue_refusals_carry_retry_after() {
        let error = GatewayError::QueueFull {
            provider: "openai".into(),
            retry_after: Duration::from_millis(1200),
        };
        let response = error.into_response();
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(response.headers()["retry-after-ms"], "1200");
    }
}
