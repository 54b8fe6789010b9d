//! Error propagation: the mocks cut streams mid-way and fail calls (the check's
//! `faults`); whatever the target does about it (retry, fall back, give up), an
//! answer its client takes as a success must be one an upstream call delivered
//! whole. A cut stream relayed as a clean `finish_reason: "stop"`, or a success
//! whose upstream calls all failed (known where the target forwards request ids),
//! is a failure passed off as success.

use std::collections::BTreeMap;

use gatebench_report::{Evidence, Source};
use serde_json::json;

use super::judged::Judged;
use super::{CheckOutcome, Ctx, by_class, criterion, first, not_measurable};
use crate::truth::generates_text;

/// The verdict on a run and the mocks' calls during it (one process's, or
/// its segments' merged).
pub(super) fn verdict(ctx: &Ctx<'_>, judged: Judged) -> Result<CheckOutcome, String> {
    let calls = &judged.window.calls;
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    for call in calls.iter().filter(|c| c.outcome.starts_with("fault_")) {
        if call.outcome != "fault_slow_down" {
            *faults.entry(call.outcome.as_str()).or_default() += 1;
        }
    }
    let injected: u64 = faults.values().sum();

    let (mut judged_ok, mut truncated, mut fabricated) = (0u64, Vec::new(), Vec::new());
    let mut client_outcomes: BTreeMap<String, u64> = BTreeMap::new();
    for (r, record) in judged.records().iter().enumerate() {
        *client_outcomes.entry(record.outcome.clone()).or_default() += 1;
        let Some(content) = record.content_digest.as_deref() else {
            continue;
        };
        if !generates_text(record) || record.outcome != "ok" {
            continue;
        }
        judged_ok += 1;
        let delivered: Vec<_> = calls
            .iter()
            .filter(|c| c.content_digest.as_deref() == Some(content))
            .collect();
        if delivered.iter().any(|c| c.complete) {
            continue;
        }
        let id = record.client_request_id.as_deref().unwrap_or("?");
        let own: Vec<_> = judged.calls_of(r).collect();
        if let Some(cut) = delivered.first() {
            truncated.push(format!(
                "{id}: finish_reason {:?} on content the mock cut ({}, {})",
                record.finish_reason.as_deref().unwrap_or("none"),
                cut.outcome,
                cut.request_id
            ));
        } else if !own.is_empty() && own.iter().all(|c| !c.complete) {
            // Content altered in transit is the streaming check's finding; this one
            // is a success over upstream calls that all failed.
            fabricated.push(format!(
                "{id}: a success although its {} upstream call(s) all failed ({})",
                own.len(),
                own.iter()
                    .map(|c| c.outcome.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let masked = (truncated.len() + fabricated.len()) as u64;
    let criteria = vec![if injected == 0 {
        not_measurable(
            ctx,
            "failures passed off as success",
            "no injected fault reached the mocks (are the target's upstreams the mocks named with --mocks?)",
            Source::Truth,
        )
    } else {
        criterion(
                "failures passed off as success",
                Some(masked as f64),
                "count",
                ctx.spec.targets.masked_max.unwrap_or(0) as f64,
                false,
                format!(
                    "{masked} of {judged_ok} successful answers ({} truncated, {} over failed calls) while the mocks injected {injected} faults",
                    truncated.len(),
                    fabricated.len()
                ),
            )
            .from_source(Source::Truth)
    }];
    let evidence = Evidence {
        summary: format!(
            "The mocks injected {injected} faults ({}); the client saw {}. Of {judged_ok} answers the client took as successes, {} carried content the mock had cut and {} came although every upstream call of theirs failed. {}",
            by_class(&faults.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
            by_class(&client_outcomes),
            truncated.len(),
            fabricated.len(),
            judged.attribution_sentence()
        ),
        details: json!({
            "faults_injected": faults,
            "client_outcomes": client_outcomes,
            "successes_judged": judged_ok,
            "truncated_as_success": first(&truncated),
            "success_over_failed_calls": first(&fabricated),
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
