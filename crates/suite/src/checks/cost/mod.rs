//! Cost accuracy: what the target claims it cost against the truth — every call
//! the mocks served, its billed units × the price files (`pricing/`), to the last
//! decimal.
//!
//! Truth needs no cooperation: the true spend of a run is the books × prices. The
//! claims are what the target's profile names: a cost header per answer (LiteLLM's
//! `x-litellm-response-cost`, gatebench's `x-gatebench-cost-usd`), and a ledger of
//! entries by request id (gatebench's). Each claim is compared with the true cost
//! of the upstream calls its request caused (a cache hit caused none and costs
//! nothing); the claimed total with the true spend. A float claim (`format =
//! "float"`) that differs only by binary rounding is counted apart from a wrong one.
//! Answers the profile does not claim (streams for LiteLLM) are listed with their
//! true cost. A model no price file knows is priced at the target's declared
//! fallback price when it declares one (gatebench's config endpoint), else it
//! cannot be verified.
//!
//! Independence: prices are read and multiplied by the suite itself
//! ([`crate::pricing`]); it shares no code with the gateway's cost tracker.

mod claims;

use std::collections::HashSet;

use gatebench_report::{Evidence, Source};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::judged::Judged;
use super::{CheckOutcome, Ctx, criterion, first, not_measurable, share};
use crate::pricing::{PriceTable, Prices, TrueCost, Units, call_cost, money, price_of};
use crate::profile::{CostFormat, CostMatch, compare_cost};
use claims::judge;

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx
        .spec
        .scenario
        .as_deref()
        .ok_or("the check names no scenario")?;
    let table = PriceTable::for_suite(
        ctx.spec.pricing.as_deref(),
        |p| ctx.suite.resolve(p),
        &ctx.suite.base,
    )
    .map_err(|e| e.to_string())?;
    let dir = table.source().to_path_buf();
    let fallback = declared_fallback(ctx).await;

    // A ledger has a past: only the entries this run adds are its claims.
    let before: HashSet<u64> = ctx
        .subject
        .ledger()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.get("id").and_then(Value::as_u64))
        .collect();
    let judged = ctx.drive_judged(scenario).await?;
    let ledger = settled_ledger(ctx, &judged, &before).await?;
    let price = |call: &gatebench_wire::books::CallRecord| match call_cost(&table, call) {
        TrueCost::Unpriced(model) => match &fallback {
            Some(prices) => price_of(&Units::from(&call.usage), prices)
                .map(|c| (c, true))
                .map_err(|e| format!("{model} at the declared fallback price: {e}")),
            None => Err(format!(
                "{model}: in no price file, and the target declares no fallback price"
            )),
        },
        TrueCost::Invalid(why) => Err(why),
        TrueCost::Priced(cost) => Ok((cost, false)),
    };
    let tally = judge(&judged, &ctx.subject.profile, ledger.as_deref(), &price);

    let mut criteria = Vec::new();
    let claims = tally.compared();
    if !tally.any_claim {
        criteria.push(not_measurable(
            ctx,
            "claimed costs equal to the truth",
            "the target reports no cost (its profile names no cost header and no ledger)",
            Source::ClaimVsTruth,
        ));
    } else {
        criteria.push(
            criterion(
                "claimed costs equal to the truth",
                share(tally.exact + tally.float_rounding, claims),
                "%",
                ctx.spec.targets.exact_min.unwrap_or(100.0),
                true,
                format!(
                    "{} of {claims} claims ({} exact, {} equal up to float rounding, {} wrong; {} not verifiable)",
                    tally.exact + tally.float_rounding,
                    tally.exact,
                    tally.float_rounding,
                    tally.wrong.len(),
                    tally.unverifiable.len()
                ),
            )
            .from_source(Source::ClaimVsTruth),
        );
        let format = match (&ledger, &ctx.subject.profile.cost) {
            (None, Some(claim)) => claim.format,
            _ => CostFormat::Decimal,
        };
        let mut total = criterion(
            "claimed total equal to the true spend",
            Some(
                tally
                    .total_gap()
                    .abs()
                    .to_string()
                    .parse()
                    .unwrap_or(f64::MAX),
            ),
            "USD",
            0.0,
            false,
            format!(
                "claimed ${} against ${} true ({})",
                money(tally.claimed_total),
                money(tally.true_total),
                tally.total_scope
            ),
        )
        .from_source(Source::ClaimVsTruth);
        total.passed =
            compare_cost(tally.claimed_total, tally.true_total, format) != CostMatch::Wrong;
        if format == CostFormat::Float {
            total.target = "equal, up to float rounding".into();
        }
        criteria.push(total);
        criteria.push(
            criterion(
                "answers without the promised cost claim",
                Some(tally.missing.len() as f64),
                "count",
                0.0,
                false,
                format!("{} answers", tally.missing.len()),
            )
            .from_source(Source::Claim),
        );
    }
    criteria.push(
        criterion(
            "upstream calls with a verifiable true cost",
            share(tally.priced_calls + tally.fallback_priced, tally.billed_calls),
            "%",
            100.0,
            true,
            format!(
                "{} of {} billed calls ({} from the price files, {} at the target's declared fallback price, {} unpriced)",
                tally.priced_calls + tally.fallback_priced,
                tally.billed_calls,
                tally.priced_calls,
                tally.fallback_priced,
                tally.unpriced_calls.len()
            ),
        )
        .from_source(Source::Truth),
    );

    let evidence = Evidence {
        summary: format!(
            "The mocks billed {} calls for ${} (true spend, prices from {}). The target claimed {} costs: {} exact, {} equal up to float rounding, {} wrong{}, {} not verifiable; {} answers lacked the claim its profile promises. Not claimed by the target: {}. {}",
            tally.billed_calls,
            money(tally.true_spend),
            dir.display(),
            claims,
            tally.exact,
            tally.float_rounding,
            tally.wrong.len(),
            tally.wrong_text(),
            tally.unverifiable.len(),
            tally.missing.len(),
            tally.unclaimed_text(),
            judged.attribution_sentence()
        ),
        details: json!({
            "true_spend_usd": money(tally.true_spend),
            "claimed_total_usd": money(tally.claimed_total),
            "true_total_usd": money(tally.true_total),
            "total_scope": tally.total_scope,
            "wrong": first(&tally.wrong),
            "float_rounding": first(&tally.rounding_examples),
            "missing_claims": first(&tally.missing),
            "unverifiable": first(&tally.unverifiable),
            "unpriced_calls": first(&tally.unpriced_calls),
            "unclaimed": tally.unclaimed,
            "by_model": tally.by_model.iter().map(|(m, (n, c))| (m.clone(), json!({"calls": n, "cost_usd": money(*c)}))).collect::<serde_json::Map<_, _>>(),
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

/// How long to wait for a ledger to show the run's last calls (a ledger may be
/// written a moment after the answer leaves).
const SETTLE_TRIES: u32 = 30;
const SETTLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// The run's entries of the target's ledger (if its profile names one), once every
/// request that caused a billed upstream call has one, or after a short wait (what
/// is still missing then is a finding).
async fn settled_ledger(
    ctx: &Ctx<'_>,
    judged: &Judged,
    before: &HashSet<u64>,
) -> Result<Option<Vec<Value>>, String> {
    let id_header = ctx
        .subject
        .profile
        .request_id
        .as_ref()
        .map(|h| h.header.to_ascii_lowercase());
    let expected: HashSet<&str> = judged
        .records()
        .iter()
        .enumerate()
        .filter(|(r, _)| judged.calls_of(*r).any(|c| c.billed))
        .filter_map(|(_, record)| record.claims.get(id_header.as_deref()?).map(String::as_str))
        .collect();
    let mut tries = 0;
    loop {
        let Some(entries) = ctx.subject.ledger().await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let entries: Vec<Value> = entries
            .into_iter()
            .filter(|v| {
                v.get("id")
                    .and_then(Value::as_u64)
                    .is_none_or(|id| !before.contains(&id))
            })
            .collect();
        let billed: HashSet<&str> = entries
            .iter()
            .filter_map(|v| v.get("request_id").and_then(Value::as_str))
            .collect();
        tries += 1;
        if expected.iter().all(|id| billed.contains(id)) || tries >= SETTLE_TRIES {
            return Ok(Some(entries));
        }
        tokio::time::sleep(SETTLE_PAUSE).await;
    }
}

/// The fallback price the target declares for models no price file knows (its
/// config endpoint), if any.
async fn declared_fallback(ctx: &Ctx<'_>) -> Option<Prices> {
    let config = ctx.subject.config().await?;
    let f = config.get("pricing")?.get("fallback")?;
    let d = |k: &str| f.get(k)?.as_str()?.parse::<Decimal>().ok();
    Some(Prices {
        input_per_million: d("input_per_million"),
        cached_input_per_million: d("cached_input_per_million"),
        output_per_million: d("output_per_million"),
        per_thousand_characters: d("per_thousand_characters"),
        per_request: d("per_request"),
    })
}
