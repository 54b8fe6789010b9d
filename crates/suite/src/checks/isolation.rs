//! Tenant isolation: one tenant asks a set of questions (more than once, so a cache
//! stores the answers), then a second tenant asks the same ones. An answer the
//! second tenant gets without an upstream call must be one it could have cached
//! itself: the same question (or intent) went upstream for it earlier in its own
//! run. Otherwise it was served from the first tenant's entries.

use gatebench_report::{Evidence, Source};
use serde_json::json;

use super::{CheckOutcome, Ctx, criterion, first, not_measurable};
use crate::subject::DEMO_KEYS;

pub async fn run(ctx: &Ctx<'_>) -> Result<CheckOutcome, String> {
    let scenario = ctx.spec.scenario.as_deref().unwrap_or_default();
    let keys = &ctx.subject.keys;
    if keys.len() < 2 || keys[0] == keys[1] {
        let criteria = vec![not_measurable(
            ctx,
            "answers served across tenants",
            "isolation needs two tenants: give a second --key",
            Source::Truth,
        )];
        let evidence = Evidence {
            summary: "Not measured: only one tenant key was given.".into(),
            details: serde_json::Value::Null,
        };
        return Ok(CheckOutcome {
            result: ctx.result(criteria, evidence),
            runs: Vec::new(),
            charts: Vec::new(),
            recommendations: Vec::new(),
        });
    }
    let as_tenant = |key: &str| {
        DEMO_KEYS
            .iter()
            .map(|demo| (demo.to_string(), key.to_owned()))
            .collect()
    };
    let first_tenant = ctx.drive_judged_as(scenario, as_tenant(&keys[0])).await?;
    let second = ctx.drive_judged_as(scenario, as_tenant(&keys[1])).await?;

    // The second tenant's own questions, by intent (a semantic cache may answer a
    // paraphrase from the tenant's own earlier entry).
    let intent_of: std::collections::HashMap<&str, &str> = second
        .records()
        .iter()
        .filter_map(|r| Some((r.prompt_digest.as_deref()?, r.intent.as_deref()?)))
        .collect();
    let mut answered = 0u64;
    let mut leaks = Vec::new();
    for (r, record) in second.records().iter().enumerate() {
        if record.kind != "chat" || record.outcome != "ok" {
            continue;
        }
        answered += 1;
        if second.went_upstream(r) {
            continue;
        }
        let ended = second.ended_ms(r);
        let intent = record.intent.as_deref();
        let asked_before = second.window.calls.iter().any(|c| {
            c.at_ms <= ended
                && (c.prompt_digest == record.prompt_digest
                    || (intent.is_some()
                        && c.prompt_digest
                            .as_deref()
                            .and_then(|p| intent_of.get(p))
                            .copied()
                            == intent))
        });
        if !asked_before {
            leaks.push(format!(
                "{} ({}): answered without an upstream call, and this tenant had not asked it before",
                record.client_request_id.as_deref().unwrap_or("?"),
                intent.unwrap_or("?")
            ));
        }
    }
    let criteria = vec![
        criterion(
            "answers served across tenants",
            (answered > 0).then_some(leaks.len() as f64),
            "count",
            ctx.spec.targets.leaks_max.unwrap_or(0) as f64,
            false,
            format!("{} of the second tenant's {answered} answers", leaks.len()),
        )
        .from_source(Source::Truth),
    ];
    let evidence = Evidence {
        summary: format!(
            "The first tenant's run made {} upstream calls; the second tenant then asked the same questions: {} of its {answered} answers came from no call of its own. {}",
            first_tenant.window.calls.len(),
            leaks.len(),
            second.attribution_sentence()
        ),
        details: json!({
            "leaks": first(&leaks),
            "first_tenant": first_tenant.truth_notes(),
            "second_tenant": second.truth_notes(),
        }),
    };
    Ok(CheckOutcome {
        result: ctx.result(criteria, evidence),
        runs: vec![
            (
                format!("{}-first", first_tenant.results.name),
                first_tenant.results,
            ),
            (format!("{}-second", second.results.name), second.results),
        ],
        charts: Vec::new(),
        recommendations: Vec::new(),
    })
}
