//! Tenant isolation: one tenant asks a set of questions (twice, so a cache stores
//! the answers), then a second tenant asks the same ones. Every answer the second
//! tenant gets must come from an upstream call made in its own run, before it got
//! the answer; one that only the first tenant's calls produced was served from the
//! first tenant's cache entries.

use gatebench_report::{Evidence, Source};
use serde_json::json;

use super::streaming::first;
use super::{CheckOutcome, Ctx, criterion, not_measurable};
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

    let mut answered = 0u64;
    let mut leaks = Vec::new();
    for (r, record) in second.records().iter().enumerate() {
        if record.kind != "chat" || record.outcome != "ok" {
            continue;
        }
        let Some(content) = record.content_digest.as_deref() else {
            continue;
        };
        answered += 1;
        if second.went_upstream(r) {
            continue;
        }
        let ended = second.ended_ms(r);
        let own = second
            .window
            .calls
            .iter()
            .any(|c| c.content_digest.as_deref() == Some(content) && c.at_ms <= ended);
        if !own {
            let other = first_tenant
                .window
                .calls
                .iter()
                .any(|c| c.content_digest.as_deref() == Some(content));
            leaks.push(format!(
                "{}: answered without an upstream call of its own tenant{}",
                record.client_request_id.as_deref().unwrap_or("?"),
                if other {
                    "; the content is what the first tenant's call produced"
                } else {
                    ""
                }
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
