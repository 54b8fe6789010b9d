//! Probes of a tenant's own routes: usage totals and the ledger, its pages, and
//! that one tenant never sees another's.

use super::{
    Action, CONFIG, Code, Keys, LEDGER, Probe, Script, USAGE, call, media, openai_error, status,
};
use crate::checks::endpoints::call::{Auth, Request};
use crate::checks::endpoints::shapes;

pub(super) fn account(keys: &Keys) -> Vec<Probe> {
    let own = || Auth::Bearer(keys.own.clone());
    vec![
        call(
            "usage",
            USAGE,
            "200 {tenant, cost_usd and saved_usd as decimal strings, requests, cache_hits, by_model adding up to the totals}",
            Request::get("/v1/gatebench/usage", own()),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let totals = shapes::usage(&reply.json()?)?;
                Ok(format!("tenant {}, {} requests, {} USD", totals.tenant, totals.requests, totals.cost))
            }),
        ),
        Probe {
            name: "usage and ledger are the tenant's own",
            route: USAGE,
            expect: "a call as one tenant shows in its usage and ledger (at the cost its header said); another tenant's usage and ledger do not move".into(),
            action: Action::Script(Script::TenantIsolation),
        },
        call(
            "usage without a key",
            USAGE,
            "401 OpenAI error shape",
            Request::get("/v1/gatebench/usage", Auth::None),
            openai_error(401, Code::Any, None),
        ),
        call(
            "ledger page",
            LEDGER,
            "200 {object: list, data: at most 5 entries with request_id and cost_usd, has_more, next_after = last id}",
            Request::get("/v1/gatebench/ledger?limit=5", own()),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let page = shapes::ledger_page(&reply.json()?, 5)?;
                if page.ids.is_empty() {
                    return Err("no entries after the billed probes".into());
                }
                Ok(format!("{} entries, has_more {}, next_after {:?}", page.ids.len(), page.has_more, page.next_after))
            }),
        ),
        Probe {
            name: "ledger pagination",
            route: LEDGER,
            expect: "limit=2 then after=next_after: the pages follow each other without overlap".into(),
            action: Action::Script(Script::LedgerPages),
        },
        call(
            "ledger with a bad limit",
            LEDGER,
            "400 OpenAI error shape",
            Request::get("/v1/gatebench/ledger?limit=many", own()),
            openai_error(400, Code::Any, None),
        ),
        call(
            "ledger with an unknown parameter",
            LEDGER,
            "400 OpenAI error shape",
            Request::get("/v1/gatebench/ledger?page=2", own()),
            openai_error(400, Code::Any, None),
        ),
        call(
            "ledger without a key",
            LEDGER,
            "401 OpenAI error shape",
            Request::get("/v1/gatebench/ledger", Auth::None),
            openai_error(401, Code::Any, None),
        ),
        call(
            "config",
            CONFIG,
            "200 {cache: {threshold between 0 and 1, embedding_model, dimensions}, pricing: {fallback prices as decimal strings}}",
            Request::get("/v1/gatebench/config", own()),
            Box::new(|reply| {
                status(reply, 200)?;
                media(reply, "application/json")?;
                let body = reply.json()?;
                let threshold = body["cache"]["threshold"]
                    .as_f64()
                    .filter(|t| (0.0..=1.0).contains(t))
                    .ok_or("cache.threshold is not a number between 0 and 1")?;
                for unit in ["input_per_million", "output_per_million", "per_request"] {
                    shapes::money(&body, &format!("pricing.fallback.{unit}"))?;
                }
                Ok(format!("threshold {threshold:.2}"))
            }),
        ),
        call(
            "config without a key",
            CONFIG,
            "401 OpenAI error shape",
            Request::get("/v1/gatebench/config", Auth::None),
            openai_error(401, Code::Any, None),
        ),
    ]
}
