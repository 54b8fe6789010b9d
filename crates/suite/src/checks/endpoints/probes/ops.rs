//! Probes of the operational routes (`/metrics`, `/healthz`, `/health`, `/readyz`) and of
//! what the router answers for paths and methods it does not serve.

use super::{CHAT, Code, FALLBACK, Keys, Probe, call, openai_error, status};
use crate::checks::endpoints::call::{Auth, Request};
use crate::checks::endpoints::shapes;

pub(super) fn operations(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    vec![
        call(
            "metrics",
            "GET /metrics",
            "200 Prometheus text with gatebench_requests_total samples",
            Request::get("/metrics", Auth::None),
            Box::new(|reply| {
                status(reply, 200)?;
                let media = reply.media_type();
                if !(media == "text/plain" || media == "application/openmetrics-text") {
                    return Err(format!("content-type `{media}`"));
                }
                let samples = shapes::prometheus(reply.text()?, "gatebench_requests_total")?;
                Ok(format!(
                    "{samples} gatebench_requests_total samples ({media})"
                ))
            }),
        ),
        alive("healthz", "GET /healthz", "/healthz"),
        // what benchmark tools for vLLM-style servers probe before they start
        alive("health", "GET /health", "/health"),
        call(
            "readyz",
            "GET /readyz",
            "200 {status: ready, providers: [{name, circuit, ...}]} on a healthy target",
            Request::get("/readyz", Auth::None),
            Box::new(|reply| {
                status(reply, 200)?;
                let body = reply.json()?;
                shapes::equals(&body, "status", "ready")?;
                let providers = shapes::items(&body, "providers")?;
                for i in 0..providers.len() {
                    shapes::filled(&body, &format!("providers.{i}.name"))?;
                    shapes::filled(&body, &format!("providers.{i}.circuit"))?;
                }
                Ok(format!("ready, {} providers", providers.len()))
            }),
        ),
        call(
            "unknown route",
            FALLBACK,
            "404 OpenAI error shape",
            Request::get("/v1/no-such-route", own()),
            openai_error(404, Code::Any, None),
        ),
        call(
            "wrong method",
            CHAT,
            "404 or 405 with an OpenAI error body (GET on a POST route)",
            Request::get("/v1/chat/completions", own()),
            Box::new(|reply| {
                if !(reply.status == 404 || reply.status == 405) {
                    return Err(format!(
                        "status {}, not 404 or 405: `{}`",
                        reply.status,
                        reply.preview()
                    ));
                }
                let error = shapes::openai_error(&reply.json()?)?;
                Ok(error.kind)
            }),
        ),
    ]
}

/// A liveness probe: 200 `{"status": "ok"}`, no key needed.
fn alive(name: &'static str, route: &'static str, path: &'static str) -> Probe {
    call(
        name,
        route,
        "200 {\"status\": \"ok\"}",
        Request::get(path, Auth::None),
        Box::new(|reply| {
            status(reply, 200)?;
            shapes::equals(&reply.json()?, "status", "ok").map(|()| "status ok".into())
        }),
    )
}
