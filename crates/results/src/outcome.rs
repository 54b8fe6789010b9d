//! Outcome classes: what happened to a request, decided exactly once.

use std::borrow::Cow;
use std::fmt;

/// What happened to one request. Every request sent gets exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// A 2xx whose body is what the kind returns.
    Ok,
    /// A response with a status outside 2xx (3xx, 4xx, 5xx), by code.
    Http(u16),
    /// No complete response within the request's timeout.
    Timeout,
    /// The connection could not be opened.
    ConnectError,
    /// The TLS handshake failed (an untrusted certificate, no common protocol).
    TlsError,
    /// The connection was reset or closed before a response arrived.
    Reset,
    /// A 2xx whose body is not parseable (bad JSON, bad SSE).
    MalformedBody,
    /// A body or stream that ended early (SSE without `[DONE]`, body shorter than
    /// announced, WebSocket closed before the final message).
    StreamCut,
    /// A 2xx whose body parses but is not what the kind returns (chat without
    /// choices, empty audio, WebVTT without its header).
    ValidationFailure,
    /// A stream that ended in the API's own error event: a chat or text
    /// completion chunk holding `error`, a Responses `error` or `response.failed`
    /// event, an error message on a text-to-speech WebSocket. The target said,
    /// inside a stream it had begun, that it failed.
    StreamError,
    /// Still in flight when the graceful stop ran out.
    Interrupted,
}

impl Outcome {
    /// The class name used in results and selectors: `ok`, `http_503`, `timeout`, ...
    pub fn class(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Outcome::Ok => "ok",
            Outcome::Http(code) => return Cow::Owned(format!("http_{code}")),
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::TlsError => "tls_error",
            Outcome::Reset => "reset",
            Outcome::MalformedBody => "malformed_body",
            Outcome::StreamCut => "stream_cut",
            Outcome::ValidationFailure => "validation_failure",
            Outcome::StreamError => "stream_error",
            Outcome::Interrupted => "interrupted",
        })
    }

    /// Parses a class name.
    pub fn parse(class: &str) -> Option<Outcome> {
        Some(match class {
            "ok" => Outcome::Ok,
            "timeout" => Outcome::Timeout,
            "connect_error" => Outcome::ConnectError,
            "tls_error" => Outcome::TlsError,
            "reset" => Outcome::Reset,
            "malformed_body" => Outcome::MalformedBody,
            "stream_cut" => Outcome::StreamCut,
            "validation_failure" => Outcome::ValidationFailure,
            "stream_error" => Outcome::StreamError,
            "interrupted" => Outcome::Interrupted,
            other => {
                let code: u16 = other.strip_prefix("http_")?.parse().ok()?;
                if !(100..=599).contains(&code) {
                    return None;
                }
                Outcome::Http(code)
            }
        })
    }

    /// Whether the request succeeded.
    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }

    /// Whether the target failed it: anything but success, and but a request the run
    /// itself cut off at its end ([`Outcome::Interrupted`]), which says nothing about
    /// the target.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Interrupted)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.class())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for o in [
            Outcome::Ok,
            Outcome::Http(429),
            Outcome::Http(503),
            Outcome::Timeout,
            Outcome::ConnectError,
            Outcome::TlsError,
            Outcome::Reset,
            Outcome::MalformedBody,
            Outcome::StreamCut,
            Outcome::ValidationFailure,
            Outcome::StreamError,
            Outcome::Interrupted,
        ] {
            assert_eq!(Outcome::parse(&o.class()), Some(o));
        }
        assert_eq!(Outcome::parse("http_999"), None);
        assert_eq!(Outcome::parse("nope"), None);
    }
}
