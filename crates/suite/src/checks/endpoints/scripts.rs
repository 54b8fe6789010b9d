//! The probes that need several calls: a cache replay, tenant isolation of usage
//! and ledger, and ledger pagination.

use rust_decimal::Decimal;
use serde_json::Value;

use super::call::{Auth, Reply, Request, send};
use super::probes::{CHAT_MODEL, Keys, Script, chat_body, gateway_headers, status};
use super::shapes::{self, LedgerPage, Totals, Wrong};

/// Where the scripts send their calls.
pub struct Session<'a> {
    /// HTTP client.
    pub http: &'a reqwest::Client,
    /// The gateway's base URL.
    pub base: &'a str,
    /// Keys and run token.
    pub keys: &'a Keys,
}

/// Runs `script`: `Ok(what it showed)` or `Err(what is wrong)`.
pub async fn run(script: Script, session: &Session<'_>) -> Result<String, Wrong> {
    match script {
        Script::CacheReplay => cache_replay(session).await,
        Script::TenantIsolation => tenant_isolation(session).await,
        Script::LedgerPages => ledger_pages(session).await,
        Script::StoredResponse => stored_response(session).await,
    }
}

impl Session<'_> {
    async fn send(&self, request: &Request) -> Result<Reply, Wrong> {
        send(self.http, self.base, request).await
    }

    fn own(&self) -> Auth {
        Auth::Bearer(self.keys.own.clone())
    }

    async fn json(&self, request: &Request) -> Result<Value, Wrong> {
        let reply = self.send(request).await?;
        status(&reply, 200).map_err(|e| format!("{} {}: {e}", request.method, request.path))?;
        reply.json()
    }

    async fn usage(&self, key: &str) -> Result<Totals, Wrong> {
        let body = self
            .json(&Request::get(
                "/v1/gatebench/usage",
                Auth::Bearer(key.to_owned()),
            ))
            .await?;
        shapes::usage(&body)
    }

    async fn page(&self, key: &str, query: &str, limit: usize) -> Result<LedgerPage, Wrong> {
        let path = format!("/v1/gatebench/ledger?{query}");
        let body = self
            .json(&Request::get(&path, Auth::Bearer(key.to_owned())))
            .await?;
        shapes::ledger_page(&body, limit).map_err(|e| format!("{path}: {e}"))
    }

    /// Every ledger entry of the tenant of `key`, page by page.
    async fn ledger(&self, key: &str) -> Result<LedgerPage, Wrong> {
        const LIMIT: usize = 1000;
        let mut all = LedgerPage::default();
        let mut after = 0;
        loop {
            let page = self
                .page(key, &format!("after={after}&limit={LIMIT}"), LIMIT)
                .await?;
            all.ids.extend(page.ids);
            all.request_ids.extend(page.request_ids);
            all.tenants.extend(page.tenants);
            all.costs.extend(page.costs);
            match (page.has_more, page.next_after) {
                (true, Some(next)) if next > after => after = next,
                (true, _) => return Err("has_more without a next_after to continue from".into()),
                (false, _) => return Ok(all),
            }
        }
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Result<&'a str, Wrong> {
    reply
        .header(name)
        .ok_or_else(|| format!("no `{name}` header"))
}

async fn cache_replay(session: &Session<'_>) -> Result<String, Wrong> {
    let prompt = format!(
        "Endpoint probe {}: name the two planets closest to the sun.",
        session.keys.nonce
    );
    let request = Request::post("/v1/chat/completions", session.own(), chat_body(&prompt));
    let first = session.send(&request).await?;
    status(&first, 200).map_err(|e| format!("first call: {e}"))?;
    let stored = header(&first, "x-gatebench-cache-key").map_err(|e| format!("first call: {e}"))?;
    let second = session.send(&request).await?;
    status(&second, 200).map_err(|e| format!("second call: {e}"))?;
    let shape =
        shapes::chat_completion(&second.json()?).map_err(|e| format!("second call: {e}"))?;
    let headers = gateway_headers(&second, true).map_err(|e| format!("second call: {e}"))?;
    let outcome = header(&second, "x-gatebench-cache")?;
    if outcome != "hit" {
        return Err(format!(
            "second call: x-gatebench-cache `{outcome}`, not hit"
        ));
    }
    let similarity = header(&second, "x-gatebench-cache-similarity")?;
    match similarity.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 1.0 + 1e-6 => {}
        _ => return Err(format!("x-gatebench-cache-similarity `{similarity}`")),
    }
    let served = header(&second, "x-gatebench-cache-key")?;
    if served != stored {
        return Err(format!(
            "the hit served entry `{served}`, the first call stored `{stored}`"
        ));
    }
    let cost = shapes::decimal(header(&second, "x-gatebench-cost-usd")?)?;
    if !cost.is_zero() {
        return Err(format!("the hit cost {cost} USD, not 0"));
    }
    Ok(format!(
        "hit (similarity {similarity}, entry {served}), 0 USD; {shape}; {headers}"
    ))
}

async fn stored_response(session: &Session<'_>) -> Result<String, Wrong> {
    let input = format!(
        "Endpoint probe {}: name a bird that cannot fly.",
        session.keys.nonce
    );
    let made = session
        .json(&Request::post(
            "/v1/responses",
            session.own(),
            serde_json::json!({ "model": CHAT_MODEL, "input": input, "max_output_tokens": 32 }),
        ))
        .await?;
    let id = shapes::text(&made, "id")?;
    let path = format!("/v1/responses/{id}");
    let read = session.json(&Request::get(&path, session.own())).await?;
    let shape = shapes::response(&read).map_err(|e| format!("GET {path}: {e}"))?;
    if read.get("id") != made.get("id") || read.get("output") != made.get("output") {
        return Err(format!("GET {path}: not the response made"));
    }
    let items_path = format!("{path}/input_items");
    let items = session
        .json(&Request::get(&items_path, session.own()))
        .await?;
    let listed = items.get("data").and_then(Value::as_array);
    let first = listed.and_then(|l| l.first());
    if listed.map(Vec::len) != Some(1) || first.and_then(|i| i.get("id")) != items.get("first_id") {
        return Err(format!(
            "GET {items_path}: not one input item with its id: {}",
            shapes::clip(&items.to_string(), 120)
        ));
    }
    let other = Auth::Bearer(session.keys.other.clone());
    let theirs = session.send(&Request::get(&path, other)).await?;
    status(&theirs, 404).map_err(|e| format!("GET {path} as another tenant: {e}"))?;
    let deleted = session.json(&Request::delete(&path, session.own())).await?;
    if deleted.get("deleted") != Some(&Value::Bool(true)) {
        return Err(format!("DELETE {path}: `deleted` is not true"));
    }
    let gone = session.send(&Request::get(&path, session.own())).await?;
    status(&gone, 404).map_err(|e| format!("GET {path} once deleted: {e}"))?;
    Ok(format!(
        "{shape}; read back, 1 input item, 404 to another tenant, deleted, then 404"
    ))
}

async fn tenant_isolation(session: &Session<'_>) -> Result<String, Wrong> {
    let (own, other) = (&session.keys.own, &session.keys.other);
    let own_before = session.usage(own).await?;
    let other_before = session
        .usage(other)
        .await
        .map_err(|e| format!("the second tenant's key: {e}"))?;
    if own_before.tenant == other_before.tenant {
        return Err(format!(
            "both keys belong to tenant `{}`",
            own_before.tenant
        ));
    }
    let prompt = format!("Endpoint probe {}: why do cats purr?", session.keys.nonce);
    let request = Request::post("/v1/chat/completions", session.own(), chat_body(&prompt))
        .header("x-gatebench-cache", "no-cache");
    let reply = session.send(&request).await?;
    status(&reply, 200)?;
    let id = header(&reply, "x-gatebench-request-id")?.to_owned();
    let cost = shapes::decimal(header(&reply, "x-gatebench-cost-usd")?)?;

    let own_after = session.usage(own).await?;
    let other_after = session.usage(other).await?;
    if own_after.requests <= own_before.requests || own_after.cost < own_before.cost + cost {
        return Err(format!(
            "the caller's usage did not count the call: {} → {} requests, {} → {} USD (call {cost} USD)",
            own_before.requests, own_after.requests, own_before.cost, own_after.cost
        ));
    }
    if other_after != other_before {
        return Err(format!(
            "tenant {}'s usage moved with tenant {}'s call: {} → {} requests, {} → {} USD",
            other_before.tenant,
            own_before.tenant,
            other_before.requests,
            other_after.requests,
            other_before.cost,
            other_after.cost
        ));
    }

    let own_ledger = session.ledger(own).await?;
    let Some(i) = own_ledger.request_ids.iter().position(|r| *r == id) else {
        return Err(format!(
            "request {id} is not in the caller's ledger ({} entries)",
            own_ledger.ids.len()
        ));
    };
    if own_ledger.costs[i] != cost || own_ledger.tenants[i] != own_before.tenant {
        return Err(format!(
            "ledger entry of {id}: tenant {}, {} USD; the call was tenant {}'s at {cost} USD",
            own_ledger.tenants[i], own_ledger.costs[i], own_before.tenant
        ));
    }
    let other_ledger = session.ledger(other).await?;
    if other_ledger.request_ids.contains(&id) {
        return Err(format!(
            "request {id} of tenant {} is in tenant {}'s ledger",
            own_before.tenant, other_before.tenant
        ));
    }
    if let Some(stranger) = other_ledger
        .tenants
        .iter()
        .find(|t| **t != other_before.tenant)
    {
        return Err(format!(
            "tenant {}'s ledger holds an entry of tenant {stranger}",
            other_before.tenant
        ));
    }
    Ok(format!(
        "{}: {} → {} requests, entry {id} at {cost} USD; {}: unchanged ({} requests, {} USD, {} ledger entries)",
        own_before.tenant,
        own_before.requests,
        own_after.requests,
        other_before.tenant,
        other_after.requests,
        other_after.cost,
        other_ledger.ids.len()
    ))
}

async fn ledger_pages(session: &Session<'_>) -> Result<String, Wrong> {
    let own = &session.keys.own;
    let first = session.page(own, "limit=2", 2).await?;
    let (Some(next), true) = (first.next_after, first.has_more) else {
        return Err(format!(
            "the first page of 2 has {} entries and has_more {}",
            first.ids.len(),
            first.has_more
        ));
    };
    let second = session
        .page(own, &format!("after={next}&limit=2"), 2)
        .await?;
    if second.ids.first().is_none_or(|id| *id <= next) {
        return Err(format!(
            "the page after {next} starts at {:?}",
            second.ids.first()
        ));
    }
    let both = session.page(own, "limit=4", 4).await?;
    let joined: Vec<u64> = first.ids.iter().chain(&second.ids).copied().collect();
    if both.ids != joined {
        return Err(format!(
            "pages {:?} + {:?} differ from one page of 4 {:?}",
            first.ids, second.ids, both.ids
        ));
    }
    let total: Decimal = both.costs.iter().sum();
    Ok(format!(
        "{:?} then {:?} (= one page of 4, {total} USD)",
        first.ids, second.ids
    ))
}
