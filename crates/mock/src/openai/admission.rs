//! Letting a request in: the key's concurrency limit, its requests and tokens per
//! minute on the model (429 in OpenAI's wording, with `retry-after` and the
//! `x-ratelimit-*` headers), then the model's capacity (503 past the hard limit).

use http::{HeaderMap, StatusCode};

use crate::capacity::LoadPermit;
use crate::core::{MockCore, RequestCtx};
use crate::error::{ApiError, retry_after_headers};
use crate::ratelimit::{ConcurrencyPermit, Refused, go_duration};

/// The organisation named in rate-limit messages.
pub const ORGANIZATION: &str = "org-gatebench";

/// An admitted request. Hold it until the response body is sent: it counts against
/// the key's concurrency and the model's capacity until dropped.
#[derive(Debug)]
pub struct Admission {
    /// `x-ratelimit-*` headers for the response.
    pub headers: HeaderMap,
    permit: LoadPermit,
    _concurrency: ConcurrencyPermit,
}

impl Admission {
    /// Delay multiplier from the model's load (1 below the soft limit).
    pub fn factor(&self) -> f64 {
        self.permit.factor()
    }
}

/// Admits a request for `tokens` tokens on `model`, or refuses it.
pub fn admit(
    core: &MockCore,
    ctx: &RequestCtx,
    model: &str,
    tokens: u64,
) -> Result<Admission, ApiError> {
    let key = [ctx.limit_key(), model].join(":");
    let concurrency = core
        .limits
        .acquire(&key)
        .map_err(|refused| rate_limited(model, &refused))?;
    let report = core
        .limits
        .check(&key, tokens)
        .map_err(|refused| rate_limited(model, &refused))?;
    let permit = core.enter(model)?;
    Ok(Admission {
        headers: report.openai_headers(),
        permit,
        _concurrency: concurrency,
    })
}

/// OpenAI's 429 for a limit reached: type `requests` or `tokens`, code
/// `rate_limit_exceeded`, its message wording, `retry-after`, `retry-after-ms` and
/// the bucket levels.
pub fn rate_limited(model: &str, refused: &Refused) -> ApiError {
    let wait = go_duration(refused.retry_after);
    let (kind, message) = match refused.which {
        "tokens" => (
            "tokens",
            format!(
                "Rate limit reached for {model} in organization {ORGANIZATION} on tokens per min (TPM): Limit {}, Used {}, Requested {}. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                refused.limit, refused.used, refused.requested
            ),
        ),
        "concurrency" => (
            "requests",
            format!(
                "Too many concurrent requests for {model} in organization {ORGANIZATION}: Limit {}, Used {}. Please try again in {wait}.",
                refused.limit, refused.used
            ),
        ),
        _ => (
            "requests",
            format!(
                "Rate limit reached for {model} in organization {ORGANIZATION} on requests per min (RPM): Limit {}, Used {}, Requested {}. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                refused.limit, refused.used, refused.requested
            ),
        ),
    };
    ApiError::openai(StatusCode::TOO_MANY_REQUESTS, kind, message)
        .code("rate_limit_exceeded")
        .headers(refused.report.openai_headers())
        .headers(retry_after_headers(refused.retry_after))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::response::IntoResponse as _;

    use super::*;
    use crate::ratelimit::{Level, RateReport};

    #[test]
    fn a_refusal_reads_like_openai_s() {
        let refused = Refused {
            which: "requests",
            limit: 3,
            used: 3,
            requested: 1,
            retry_after: Duration::from_millis(19_500),
            report: RateReport {
                requests: Some(Level {
                    limit: 3,
                    remaining: 0,
                    reset: Duration::from_millis(19_500),
                }),
                tokens: None,
            },
        };
        let response = rate_limited("gpt-4o-mini", &refused).into_response();
        assert_eq!(response.status(), 429);
        let h = response.headers();
        assert_eq!(h["retry-after"], "20");
        assert_eq!(h["retry-after-ms"], "19500");
        assert_eq!(h["x-ratelimit-limit-requests"], "3");
        assert_eq!(h["x-ratelimit-remaining-requests"], "0");
        let bytes =
            futures::executor::block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body["error"]["message"],
            "Rate limit reached for gpt-4o-mini in organization org-gatebench on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 19.5s. Visit https://platform.openai.com/account/rate-limits to learn more."
        );
        assert_eq!(body["error"]["type"], "requests");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["param"], serde_json::Value::Null);
    }
}
