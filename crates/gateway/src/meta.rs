//! What the gateway reads from a request's headers before anything else: who is
//! calling, at which priority, by when, and what it allows the cache to do.
//!
//! | header                      | meaning                                             |
//! |-----------------------------|-----------------------------------------------------|
//! | `authorization: Bearer KEY` | the tenant (also `xi-api-key` on text-to-speech)    |
//! | `x-gatebench-priority`      | `critical`, `high`, `normal` or `low`               |
//! | `x-gatebench-deadline-ms`   | give up queueing after this many milliseconds       |
//! | `x-gatebench-cache`         | `no-cache` (skip lookup), `no-store` (skip storing) |

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatebench_queue::{Priority, Ticket};
use http::{HeaderMap, HeaderName};

use crate::auth::Tenant;
use crate::error::GatewayError;
use crate::state::Gateway;
use crate::timing::Timing;

const PRIORITY: HeaderName = HeaderName::from_static("x-gatebench-priority");
const DEADLINE: HeaderName = HeaderName::from_static("x-gatebench-deadline-ms");

/// One request's identity and directives.
#[derive(Debug)]
pub struct Meta {
    /// Gateway request id (`x-gatebench-request-id`, and the ledger's `request_id`).
    pub id: String,
    /// The caller.
    pub tenant: Arc<Tenant>,
    /// Priority class.
    pub priority: Priority,
    /// Latest admission time.
    pub deadline: Option<Instant>,
    /// Skip the cache lookup.
    pub no_cache: bool,
    /// Do not store the answer.
    pub no_store: bool,
    /// Where the time goes.
    pub timing: Timing,
}

impl Meta {
    /// Authenticates and reads the directives.
    pub fn read(
        gateway: &Gateway,
        headers: &HeaderMap,
        allow_xi: bool,
        id: String,
    ) -> Result<Meta, GatewayError> {
        let timing = Timing::start();
        let tenant = gateway.auth.authenticate(headers, allow_xi)?;
        let text = |name: &HeaderName| headers.get(name).map(|v| v.to_str().map(str::trim));
        let priority = match text(&PRIORITY) {
            None => tenant.priority,
            Some(Ok(value)) => value.parse::<Priority>().map_err(|_| {
                GatewayError::bad_request(
                    format!(
                        "x-gatebench-priority must be critical, high, normal or low, not `{value}`"
                    ),
                    Some("x-gatebench-priority"),
                )
            })?,
            Some(Err(_)) => {
                return Err(GatewayError::bad_request(
                    "x-gatebench-priority is not text",
                    None,
                ));
            }
        };
        let deadline = match text(&DEADLINE) {
            None => None,
            Some(Ok(value)) => {
                let ms: u64 = value.parse().map_err(|_| {
                    GatewayError::bad_request(
                        format!("x-gatebench-deadline-ms must be a whole number of milliseconds, not `{value}`"),
                        Some("x-gatebench-deadline-ms"),
                    )
                })?;
                Some(timing.started() + Duration::from_millis(ms))
            }
            Some(Err(_)) => {
                return Err(GatewayError::bad_request(
                    "x-gatebench-deadline-ms is not text",
                    None,
                ));
            }
        };
        let (mut no_cache, mut no_store) = (false, false);
        if let Some(Ok(value)) = text(&gatebench_wire::gateway::CACHE) {
            for directive in value.split(',').map(str::trim) {
                match directive {
                    d if d.eq_ignore_ascii_case("no-cache") => no_cache = true,
                    d if d.eq_ignore_ascii_case("no-store") => no_store = true,
                    "" => {}
                    other => {
                        return Err(GatewayError::bad_request(
                            format!(
                                "x-gatebench-cache takes no-cache and/or no-store, not `{other}`"
                            ),
                            Some("x-gatebench-cache"),
                        ));
                    }
                }
            }
        }
        Ok(Meta {
            id,
            tenant,
            priority,
            deadline,
            no_cache,
            no_store,
            timing,
        })
    }

    /// The queue ticket of this request.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            tenant: Arc::clone(&self.tenant.id),
            priority: self.priority,
            deadline: self.deadline,
        }
    }
}
