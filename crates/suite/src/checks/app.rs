//! Your app, judged by the truth: load on your own routes (`http` requests, e.g.
//! `POST /api/story` that calls OpenAI and ElevenLabs inside), and what it cost
//! upstream according to the mocks' books — calls, tokens, characters and money per
//! app request, per request kind when the app forwards `x-request-id` or
//! `traceparent` (else for the run as a whole) — and what the app's clients saw
//! under each fault the suite injected.

use std::collections::BTreeMap;

use gatebench_report::{Evidence, Source};
use gatebench_wire::books::CallUsage;
use rust_decimal::Decimal;
use serde_json::json;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, criterion, share};
use crate::pricing::{PriceTable, TrueCost, call_cost, money};

#[derive(Default)]
struct Kind {
    sent: u64,
    ok: u64,
    calls: u64,
    usage: CallUsage,
    cost: Decimal,
}

/// The verdict on a run and the mocks' calls during it (one process's, or
/// its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, judged: Judged) -> Result<CheckOutcome, String> {
    let table = PriceTable::for_suite(
        ctx.spec.pricing.as_deref(),
        |p| ctx.suite.resolve(p),
        &ctx.suite.base,
    )
    .map_err(|e| e.to_string())?;
    let dir = table.source().to_path_buf();
    let cost_of = |i: usize| match call_cost(&table, &judged.window.calls[i]) {
        TrueCost::Priced(c) => Ok(c),
        TrueCost::Unpriced(m) => Err(format!("{m} is in no price file")),
        TrueCost::Invalid(why) => Err(why),
    };
    let mut unpriced = Vec::new();
    let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
    for (r, record) in judged.records().iter().enumerate() {
        let k = kinds.entry(record.request.clone()).or_default();
        k.sent += 1;
        k.ok += u64::from(record.outcome == "ok");
        for &i in &judged.attribution.calls[r] {
            let call = &judged.window.calls[i];
            k.calls += 1;
            k.usage.add(&call.usage);
            match cost_of(i) {
                Ok(c) => k.cost += c,
                Err(why) => unpriced.push(why),
            }
        }
    }
    let mut total = Kind::default();
    for (i, call) in judged.window.calls.iter().enumerate() {
        total.calls += 1;
        total.usage.add(&call.usage);
        match cost_of(i) {
            Ok(c) => total.cost += c,
            Err(why) => unpriced.push(why),
        }
    }
    let sent: u64 = kinds.values().map(|k| k.sent).sum();
    let ok: u64 = kinds.values().map(|k| k.ok).sum();
    if sent == 0 {
        return Err("the scenario sent no request".into());
    }
    let per_request = total.cost / Decimal::from(sent);

    let mut criteria = vec![criterion(
        "app requests answered",
        share(ok, sent),
        "%",
        ctx.spec.targets.success_rate_min.unwrap_or(95.0),
        true,
        format!("{ok} of {sent}"),
    )];
    if let Some(max) = ctx.spec.targets.cost_per_request_max {
        criteria.push(
            criterion(
                "true cost per app request",
                per_request.to_string().parse().ok(),
                "USD",
                max,
                false,
                format!(
                    "${} ({} upstream calls costing ${} for {sent} app requests)",
                    money(per_request.round_dp(8)),
                    total.calls,
                    money(total.cost)
                ),
            )
            .from_source(Source::Truth),
        );
    }
    unpriced.sort();
    unpriced.dedup();
    let table_json: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .map(|(name, k)| {
            let per = |n: u64| n as f64 / k.sent.max(1) as f64;
            (
                name.clone(),
                json!({
                    "requests": k.sent,
                    "ok": k.ok,
                    "upstream_calls": k.calls,
                    "calls_per_request": per(k.calls),
                    "input_tokens_per_request": per(k.usage.input_tokens),
                    "output_tokens_per_request": per(k.usage.output_tokens),
                    "characters_per_request": per(k.usage.characters),
                    "cost_usd": money(k.cost),
                    "cost_per_request_usd": money((k.cost / Decimal::from(k.sent.max(1))).round_dp(10)),
                }),
            )
        })
        .collect();
    let traced = judged.attribution.forwards_ids();
    let evidence = Evidence {
        summary: format!(
            "{sent} app requests ({ok} answered) caused {} upstream calls: {} input and {} output tokens, {} characters, ${} in all, ${} per app request (prices from {}). {}{}",
            total.calls,
            total.usage.input_tokens,
            total.usage.output_tokens,
            total.usage.characters,
            money(total.cost),
            money(per_request.round_dp(8)),
            dir.display(),
            if traced {
                "The app forwards x-request-id or traceparent, so each call is tied to its app request (per kind in the details)."
            } else {
                "The app does not forward x-request-id or traceparent, so the figures are for the run as a whole; forward them to see them per request kind."
            },
            if unpriced.is_empty() {
                String::new()
            } else {
                format!(" Unpriced: {}.", unpriced.join("; "))
            }
        ),
        details: json!({
            "by_request": table_json,
            "under_faults": judged.under_faults(),
            "truth": judged.truth_notes(),
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![(judged.results.name.clone(), judged.results)],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}
