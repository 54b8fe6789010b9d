//! API keys, checked here rather than by the shared middleware.
//!
//! The `stream-input` WebSocket may carry its key in its first message
//! (`xi_api_key`, or `authorization: "Bearer …"`) instead of a header, as browsers
//! cannot set headers on a WebSocket. The shared middleware only sees headers, so the
//! ElevenLabs mock starts its core with authentication off and applies the profile's
//! `require_key` and `api_keys` itself: on every HTTP route through [`layer`], before
//! the handler; on the WebSocket when its first message arrives (a key sent in the
//! handshake header is checked at once). A missing or unknown key gets ElevenLabs'
//! 401 on HTTP, and an error message then close code 1008 on the WebSocket.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::core::{KeyHeader, RequestCtx};
use crate::error::{ApiError, ErrorStyle};
use crate::layer::api_key;

/// Which keys the mock accepts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Auth {
    require_key: bool,
    api_keys: Vec<String>,
}

impl Auth {
    /// From the profile's `require_key` and `api_keys`.
    pub fn new(require_key: bool, api_keys: Vec<String>) -> Self {
        Auth {
            require_key,
            api_keys,
        }
    }

    /// Whether keys are checked at all.
    pub fn active(&self) -> bool {
        self.require_key || !self.api_keys.is_empty()
    }

    /// Whether `key` may call the API.
    pub fn accepts(&self, key: Option<&str>) -> bool {
        !self.active()
            || key.is_some_and(|k| self.api_keys.is_empty() || self.api_keys.iter().any(|a| a == k))
    }

    /// `Ok` if `key` may call the API, ElevenLabs' 401 otherwise.
    pub fn check(&self, style: ErrorStyle, key: Option<&str>) -> Result<(), ApiError> {
        if self.accepts(key) {
            Ok(())
        } else {
            Err(style.unauthorized(key.is_some()))
        }
    }
}

/// Refuses HTTP requests without an accepted `xi-api-key` (or bearer) header.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let key = request
        .extensions()
        .get::<RequestCtx>()
        .map(|ctx| ctx.api_key().map(str::to_owned))
        // Account routes run without the shared middleware, so read the headers.
        .unwrap_or_else(|| api_key(request.headers(), KeyHeader::XiApiKey));
    match state.auth.check(state.core.style, key.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_only_when_asked() {
        assert!(Auth::default().accepts(None));
        let required = Auth::new(true, Vec::new());
        assert!(!required.accepts(None));
        assert!(required.accepts(Some("anything")));
        let listed = Auth::new(false, vec!["k1".into()]);
        assert!(listed.accepts(Some("k1")));
        assert!(!listed.accepts(Some("k2")));
        assert!(!listed.accepts(None));
        let error = listed.check(ErrorStyle::Detail, Some("k2")).unwrap_err();
        assert_eq!(error.status_code(), 401);
    }
}
