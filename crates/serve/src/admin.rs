//! The token that guards operator endpoints (the gateway's `/metrics`, the mocks'
//! control API): they name tenants, spend and faults, and the control API changes
//! what a mock does. On loopback they stay open unless a token is given; a server
//! that binds any other address refuses to start without one.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Environment variable read when `--admin-token` is not given.
pub const ENV: &str = "GATEBENCH_ADMIN_TOKEN";

/// Header that carries the token (`authorization: Bearer TOKEN` works too, except on
/// routes whose `authorization` is a provider key).
pub const HEADER: &str = "x-gatebench-admin-token";

/// Who may call operator endpoints: anyone (`open`), or callers with the token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AdminToken(Option<Arc<str>>);

impl AdminToken {
    /// Operator endpoints open to anyone who can connect.
    pub fn open() -> Self {
        AdminToken(None)
    }

    /// Operator endpoints for callers with `token`.
    pub fn new(token: &str) -> Self {
        AdminToken(Some(Arc::from(token)))
    }

    /// The guard for a server binding `host`, given the token from the command line
    /// or [`ENV`]. Beyond loopback a token is required.
    pub fn for_host(host: IpAddr, token: Option<String>) -> Result<AdminToken, String> {
        match token.map(|t| t.trim().to_owned()) {
            Some(token) if token.is_empty() => Err(format!(
                "the admin token is empty: give a non-empty --admin-token or {ENV}"
            )),
            Some(token) => Ok(AdminToken::new(&token)),
            None if host.is_loopback() => Ok(AdminToken::open()),
            None => Err(format!(
                "binding {host} exposes /metrics and the mocks' control API beyond this machine: \
                 give --admin-token TOKEN (or set {ENV}), or bind 127.0.0.1"
            )),
        }
    }

    /// Whether endpoints are open to anyone.
    pub fn is_open(&self) -> bool {
        self.0.is_none()
    }

    /// Whether `headers` carry the token in [`HEADER`] or as a bearer token.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.0 else { return true };
        let given = headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            });
        given.is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
    }
}

/// Middleware for operator routes (`axum::middleware::from_fn`): refuses with 401
/// unless the [`AdminToken`] in the request's extensions (set by the server with an
/// `Extension` layer) allows the caller. Without one the route is open.
pub async fn guard(request: Request, next: Next) -> Response {
    match request.extensions().get::<AdminToken>() {
        Some(token) if !token.allows(request.headers()) => refusal(),
        _ => next.run(request).await,
    }
}

fn refusal() -> Response {
    let body = format!(
        r#"{{"error":{{"message":"This endpoint needs the admin token: send it in {HEADER} (or Authorization: Bearer TOKEN).","type":"invalid_request_error","code":"admin_token_required"}}}}"#
    );
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")),
        ],
        body,
    )
        .into_response()
}

/// Compares without stopping at the first difference, so timing says nothing about
/// how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn loopback_is_open_and_elsewhere_needs_a_token() {
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert!(AdminToken::for_host(local, None).unwrap().is_open());
        let refused = AdminToken::for_host(any, None).unwrap_err();
        assert!(refused.contains("--admin-token"), "{refused}");
        assert!(AdminToken::for_host(any, Some("  ".into())).is_err());
        let guard = AdminToken::for_host(any, Some("s3cret".into())).unwrap();
        let mut headers = HeaderMap::new();
        assert!(!guard.allows(&headers));
        headers.insert(HEADER, "s3cre".parse().unwrap());
        assert!(!guard.allows(&headers));
        headers.insert(HEADER, "s3cret".parse().unwrap());
        assert!(guard.allows(&headers));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            http::header::AUTHORIZATION,
            "Bearer s3cret".parse().unwrap(),
        );
        assert!(guard.allows(&bearer));
    }
}
