//! The control API every mock serves next to its provider routes, in the spirit of
//! Toxiproxy: read and change faults at run time, read stats, reset.
//!
//! | route                 | what it does                                             |
//! |-----------------------|----------------------------------------------------------|
//! | `GET /healthz`        | `{"status":"ok","mock":NAME}`                            |
//! | `GET /_mock/faults`   | the fault spec in force and seconds since it was applied |
//! | `PUT /_mock/faults`   | replaces it (JSON [`FaultSpec`]); windows count from now |
//! | `GET /_mock/stats`    | requests by route and outcome, requests in flight        |
//! | `GET /_mock/calls`    | the call log, paged (`after`, `limit`), oldest first     |
//! | `GET /_mock/books`    | exact totals of the books: by model, key and outcome     |
//! | `GET /_mock/set`      | the base URLs of every mock of this set                  |
//! | `POST /_mock/reset`   | a cold start: profile faults, stats, books, buckets, draws, caches |
//!
//! The user's guide is `crates/mock/CONTROL.md`.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use gatebench_serve::admin::AdminToken;
use gatebench_serve::front::{Front, Handler, Route};
use gatebench_serve::head::{Checked, HeadTooLarge, Refuse};
use gatebench_wire::books::MockSet;
use http::{Method, StatusCode, Uri};
use serde_json::json;

use crate::core::MockCore;
use crate::error::{ApiError, ErrorStyle};
use crate::faults::FaultSpec;
use crate::json::Json;
use crate::layer::{account_layer, mock_layer};

/// A mock as its server serves it: its router, and its busiest route in front of
/// it, behind the request-head check.
pub type MockApp = Checked<Front<Handler, Router>, ErrorStyle>;

/// A mock's full router: its provider routes behind the shared middleware, its
/// account routes (usage reports) behind the key check only, its `open` routes
/// (probes) behind nothing, plus the control API and a 404 in the provider's shape.
/// `front`, if any, is served ahead of the router by a handler that runs the
/// provider middleware's work itself ([`crate::layer::serve`]), then the route's.
pub fn assemble(
    core: Arc<MockCore>,
    control: &Control,
    front: Option<Route<Handler>>,
    provider: Router,
    account: Router,
    open: Router,
) -> MockApp {
    let style = core.style;
    // axum refuses a route layer on a router without routes.
    let account = if account.has_routes() {
        account.route_layer(from_fn_with_state(Arc::clone(&core), account_layer))
    } else {
        account
    };
    let routes = provider
        .route_layer(from_fn_with_state(Arc::clone(&core), mock_layer))
        .merge(account)
        .merge(open)
        .merge(routes(core, control))
        .fallback(move |method: Method, uri: Uri| async move { not_found(style, &method, &uri) });
    Checked::new(Front::new(front, routes), style)
}

/// A request line or headers past [`gatebench_serve::head`]'s limits: 414 or 431 in
/// the provider's shape.
impl Refuse for ErrorStyle {
    fn refuse(&self, _uri: &Uri, too_large: HeadTooLarge) -> Response {
        self.refusal(too_large.status, too_large.code, too_large.message)
            .into_response()
    }
}

/// What a mock's control API knows of the set it runs in.
#[derive(Clone, Debug, Default)]
pub struct Control {
    /// The base URLs of the set's mocks, filled once all are listening.
    pub set: SharedSet,
    /// Who may call the control API (open to anyone by default).
    pub admin: AdminToken,
}

/// The control API, behind the admin token when the mocks have one. Only these
/// routes carry the set and the token, not every provider request.
fn routes(core: Arc<MockCore>, control: &Control) -> Router {
    let control = Router::new()
        .route("/_mock/faults", get(get_faults).put(put_faults))
        .route("/_mock/stats", get(stats))
        .route("/_mock/calls", get(calls))
        .route("/_mock/books", get(books))
        .route("/_mock/set", get(set))
        .route("/_mock/reset", post(reset))
        .route_layer(from_fn(gatebench_serve::admin::guard))
        .route_layer((
            Extension(Arc::clone(&control.set)),
            Extension(control.admin.clone()),
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(control)
        .with_state(core)
}

async fn healthz(State(core): State<Arc<MockCore>>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "mock": core.name }))
}

/// The spec in force, how long ago it was applied and which of its windows are
/// open now.
fn faults_in_force(core: &MockCore) -> Json<serde_json::Value> {
    let (spec, since) = core.faults.get();
    let active: Vec<usize> = spec
        .windows
        .iter()
        .enumerate()
        .filter(|(_, w)| since >= w.from && since < w.to)
        .map(|(i, _)| i)
        .collect();
    Json(
        json!({ "faults": spec, "applied_seconds_ago": since.as_secs_f64(), "active_windows": active }),
    )
}

async fn get_faults(State(core): State<Arc<MockCore>>) -> Json<serde_json::Value> {
    faults_in_force(&core)
}

async fn put_faults(
    State(core): State<Arc<MockCore>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            return (status, Json(json!({ "error": rejection.body_text() }))).into_response();
        }
    };
    // serde reads an array as the spec's fields in order
    if !crate::error::opens_an_object(&body) {
        return control_error("invalid fault spec: expected a JSON object".to_owned());
    }
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(error) => return control_error(format!("invalid fault spec: {error}")),
    };
    if let Err(error) = spec.validate() {
        return control_error(error.to_string());
    }
    tracing::info!(mock = core.name, "fault spec replaced");
    core.faults.set(spec);
    faults_in_force(&core).into_response()
}

async fn stats(State(core): State<Arc<MockCore>>) -> Response {
    Json(core.stats.snapshot(core.name)).into_response()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CallsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_page")]
    limit: usize,
}

fn default_page() -> usize {
    1000
}

async fn calls(
    State(core): State<Arc<MockCore>>,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(error) => {
            return control_error(format!(
                "invalid query: {} (expected after=ID&limit=N)",
                error.body_text()
            ));
        }
    };
    if !(1..=crate::books::MAX_PAGE).contains(&query.limit) {
        return control_error(format!(
            "invalid query: limit must be from 1 to {}, not {}",
            crate::books::MAX_PAGE,
            query.limit
        ));
    }
    let mut page = core.books.page(query.after, query.limit);
    page.concurrent_per_key = core.settings.rate_limits.concurrent_requests;
    Json(page).into_response()
}

async fn books(State(core): State<Arc<MockCore>>) -> Response {
    Json(core.books.summary()).into_response()
}

/// The mocks started together, shared by their routers once all are listening.
pub type SharedSet = Arc<std::sync::OnceLock<MockSet>>;

async fn set(State(core): State<Arc<MockCore>>, Extension(set): Extension<SharedSet>) -> Response {
    match set.get() {
        Some(set) => Json(set.clone()).into_response(),
        // A mock started on its own knows of no other.
        None => Json(json!({ "mocks": {}, "note": format!("{} was started alone", core.name) }))
            .into_response(),
    }
}

async fn reset(State(core): State<Arc<MockCore>>) -> Json<serde_json::Value> {
    core.reset();
    Json(json!({ "status": "reset", "mock": core.name }))
}

fn control_error(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

fn not_found(style: ErrorStyle, method: &Method, uri: &Uri) -> Response {
    match style {
        ErrorStyle::OpenAi => ApiError::openai(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Invalid URL ({method} {})", uri.path()),
        )
        .into_response(),
        ErrorStyle::Detail => (
            StatusCode::NOT_FOUND,
            Json(json!({ "detail": "Not Found" })),
        )
            .into_response(),
    }
}
